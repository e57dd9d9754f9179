"""``amlocal model list|show|download``."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

import click

from ..errors import UserErrorException

from ._common import echo_json, output_option, print_fields, print_mapping, print_table, show_time, workspace_options


@click.group()
def model() -> None:
    """Registered models (versions 1, 2, 3 ... per name)."""


def _summary(m) -> dict:
    data = m.serialize()
    return {k: data.get(k) for k in ("id", "name", "version", "description", "createdTime",
                                     "framework", "frameworkVersion", "tags", "properties",
                                     "runId", "experimentName", "url")}


def _version(value):
    return None if value is None else int(value)


@model.command("list")
@click.option("-n", "--model-name", "name", default=None, help="Only models of this name.")
@click.option("--latest", is_flag=True, help="Only the latest version of each name.")
@workspace_options
@output_option
def list_(name, latest, selector, output) -> None:
    """List models, by name then newest version first (Model.list)."""
    from ..core.model import Model
    models = [_summary(m) for m in Model.list(selector.resolve(), name=name, latest=latest)]
    if output == "json":
        echo_json(models)
        return
    print_table(["NAME", "VERSION", "CREATED", "RUN ID", "TAGS", "DESCRIPTION"],
                [[m["name"], m["version"], show_time(m["createdTime"]), m["runId"] or "",
                  ", ".join(f"{k}={v}" for k, v in (m["tags"] or {}).items()),
                  m["description"] or ""] for m in models],
                empty="No models" + (f" named '{name}'" if name else "") + ".")


@model.command("show")
@click.argument("name")
@click.option("--version", type=int, default=None, help="Model version (default: the latest).")
@workspace_options
@output_option
def show(name, version, selector, output) -> None:
    """Show a model (the latest version unless --version)."""
    from ..core.model import Model
    data = _summary(Model(selector.resolve(), name, version=_version(version)))
    if output == "json":
        echo_json(data)
        return
    print_fields([("id", data["id"]), ("name", data["name"]), ("version", data["version"]),
                  ("created", show_time(data["createdTime"])),
                  ("description", data["description"] or ""),
                  ("framework", " ".join(x for x in (data["framework"], data["frameworkVersion"]) if x)),
                  ("run id", data["runId"] or ""), ("experiment", data["experimentName"] or ""),
                  ("url", data["url"])])
    print_mapping(data["tags"] or {}, "Tags")
    print_mapping(data["properties"] or {}, "Properties")


@model.command("download")
@click.argument("name")
@click.option("--version", type=int, default=None, help="Model version (default: the latest).")
@click.option("-t", "--target-dir", required=True, type=click.Path(file_okay=False),
              help="Folder to copy the model's file or folder into (created when missing).")
@click.option("--overwrite", is_flag=True, help="Replace files that exist in the target folder.")
@workspace_options
def download(name, version, target_dir, overwrite, selector) -> None:
    """Download a model's files (Model.download); prints the path of the copy."""
    from ..core.model import Model
    m = Model(selector.resolve(), name, version=_version(version))
    entry = Path(unquote(urlparse(m.url).path)).name
    existing = Path(target_dir) / entry
    if entry and existing.exists() and not overwrite:
        raise UserErrorException(f"{existing} already exists; pass --overwrite to replace it")
    path = m.download(target_dir, exist_ok=overwrite)
    click.echo(path)
