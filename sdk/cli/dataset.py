"""``amlocal dataset list|show``: the registered datasets of a workspace.

Register datasets from Python (``dataset.register(ws, name, ...)``); URLs in their sources are
shown with any password or signature as ``***``.
"""
from __future__ import annotations

import copy

import click

from ._common import echo_json, output_option, print_fields, print_table, show_time, workspace_options


@click.group()
def dataset() -> None:
    """Registered datasets (Dataset.get_by_name, Dataset.get_all)."""


def _display(ds, versions: list[int]) -> dict:
    from amlocal.datastores import redact_url
    definition = copy.deepcopy(ds._definition)
    for source in definition.get("sources", []):
        if "url" in source:
            source["url"] = redact_url(source["url"])
    return {"name": ds.name, "version": ds.version, "versions": sorted(versions),
            "id": ds.id, "type": type(ds).__name__, "description": ds.description,
            "tags": ds.tags, "createdTime": ds._registered_at,
            "sources": ds._source_strings(), "definition": definition}


def _versions(ws) -> dict[str, list[int]]:
    result: dict[str, list[int]] = {}
    for info in ws._store.list_datasets(ws._id):
        result.setdefault(info.name, []).append(info.version)
    return result


@dataset.command("list")
@workspace_options
@output_option
def list_(selector, output) -> None:
    """List the registered datasets (the latest version of each name)."""
    from ..core.dataset import Dataset
    ws = selector.resolve()
    versions = _versions(ws)
    shown = [_display(ds, versions.get(name, [])) for name, ds in Dataset.get_all(ws).items()]
    if output == "json":
        echo_json(shown)
        return
    print_table(["NAME", "VERSION", "VERSIONS", "TYPE", "DESCRIPTION", "CREATED"],
                [[d["name"], d["version"], len(d["versions"]), d["type"], d["description"] or "",
                  show_time(d["createdTime"])] for d in shown],
                empty="(no registered datasets; register one with dataset.register(ws, name))")


@dataset.command("show")
@click.argument("name")
@click.option("--version", "version", default="latest", show_default=True,
              help="A version number, or 'latest'.")
@workspace_options
@output_option
def show(name, version, selector, output) -> None:
    """Show one registered dataset version (Dataset.get_by_name)."""
    from ..core.dataset import Dataset
    ws = selector.resolve()
    ds = Dataset.get_by_name(ws, name, version)
    shown = _display(ds, _versions(ws).get(name, []))
    if output == "json":
        echo_json(shown)
        return
    tags = ", ".join(f"{k}={v}" for k, v in shown["tags"].items())
    print_fields([("name", shown["name"]), ("version", shown["version"]),
                  ("versions", ", ".join(map(str, shown["versions"]))),
                  ("type", shown["type"]), ("id", shown["id"]),
                  ("description", shown["description"] or ""), ("tags", tags or "(none)"),
                  ("created", show_time(shown["createdTime"])),
                  ("sources", "\n".join(shown["sources"]))])
