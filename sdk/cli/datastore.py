"""``amlocal datastore register|attach-blob|attach-sql|list|upload``.

Storage options may hold credentials: they are stored, never printed (every value under a
secret-looking key, and any password or signature in the URL, shows as ``***``).
"""
from __future__ import annotations

from pathlib import Path

import click

from ._common import (echo_json, note, output_option, parse_options, plain_warnings, print_fields,
                      print_table, workspace_options)


@click.group()
def datastore() -> None:
    """Datastores: named fsspec URLs (file://, s3://, abfs:// ...) in a workspace."""


def _display(ds, default_name: str) -> dict:
    shown = ds._display_dict()
    shown["default"] = ds.name == default_name
    return shown


def _show(shown: dict, output: str) -> None:
    if output == "json":
        echo_json(shown)
        return
    options = shown.get("storage_options") or {}
    blob = [(label, shown[key]) for key, label in (
        ("container_name", "container"), ("account_name", "account"), ("endpoint", "endpoint"),
        ("credential_type", "credential")) if key in shown]
    print_fields([("name", shown["name"]), ("type", shown["datastore_type"]),
                  ("url", shown["url"]), *blob, ("default", "yes" if shown["default"] else "no"),
                  ("storage options", ", ".join(f"{k}={v}" for k, v in options.items()) or "(none)")])


@datastore.command("register")
@click.option("-n", "--name", required=True, help="Datastore name: letters, digits and '_'.")
@click.option("--url", required=True,
              help="fsspec URL or local folder, e.g. file:///data, s3://bucket/prefix.")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
              help="A storage option for fsspec (repeatable), e.g. --option account_name=acct. "
                   "Secret values (keys, tokens, passwords) are stored but never printed.")
@click.option("--overwrite", is_flag=True, help="Replace an existing datastore of that name.")
@workspace_options
@output_option
def register(name, url, options, overwrite, selector, output) -> None:
    """Register a datastore (Datastore.register)."""
    from ..core.datastore import Datastore
    storage_options = parse_options(options, "--option")
    ws = selector.resolve()
    with plain_warnings({"overwrite=True": "--overwrite"}):
        ds = Datastore.register(ws, name, url, storage_options=storage_options, overwrite=overwrite)
    note(f"Registered datastore '{ds.name}' in workspace '{ws.name}'")
    _show(_display(ds, ws._refresh().default_datastore), output)


@datastore.command("attach-blob")
@click.option("-n", "--name", required=True, help="Datastore name: letters, digits and '_'.")
@click.option("-a", "--account-name", required=True, help="Storage account name.")
@click.option("-c", "--container-name", required=True, help="Blob container name.")
@click.option("-k", "--account-key", default=None, help="Storage account key (never printed).")
@click.option("--sas-token", default=None, help="SAS token (never printed).")
@click.option("--endpoint", default=None,
              help="Storage suffix (default core.windows.net) or the blob service URL, e.g. "
                   "Azurite's http://127.0.0.1:10000/devstoreaccount1.")
@click.option("--protocol", default=None, type=click.Choice(["https", "http"]),
              help="Protocol for a suffix endpoint (default https).")
@click.option("--create-if-not-exists", is_flag=True, help="Create the container if needed.")
@click.option("--skip-validation", is_flag=True,
              help="Register without checking the container and credential.")
@click.option("--overwrite", is_flag=True, help="Replace an existing datastore of that name.")
@workspace_options
@output_option
def attach_blob(name, account_name, container_name, account_key, sas_token, endpoint, protocol,
                create_if_not_exists, skip_validation, overwrite, selector, output) -> None:
    """Register an Azure Blob container (Datastore.register_azure_blob_container), as
    `az ml datastore attach-blob`."""
    from ..core.datastore import Datastore
    from ..errors import UserErrorException
    flags = {"overwrite=True": "--overwrite", "create_if_not_exists=True": "--create-if-not-exists",
             "skip_validation=True": "--skip-validation", "endpoint=": "--endpoint ",
             "protocol=": "--protocol ", "account_key": "--account-key", "sas_token": "--sas-token"}
    ws = selector.resolve()
    with plain_warnings(flags):
        try:
            ds = Datastore.register_azure_blob_container(
                ws, name, container_name, account_name, sas_token=sas_token,
                account_key=account_key, protocol=protocol, endpoint=endpoint,
                overwrite=overwrite, create_if_not_exists=create_if_not_exists,
                skip_validation=skip_validation)
        except UserErrorException as exc:   # the SDK's advice, in this command's flags
            message = str(exc)
            for words, flag in flags.items():
                message = message.replace(words, flag)
            raise UserErrorException(message) from exc
    note(f"Registered blob container '{container_name}' as datastore '{ds.name}' in workspace "
         f"'{ws.name}'")
    _show(_display(ds, ws._refresh().default_datastore), output)


@datastore.command("attach-sql")
@click.option("-n", "--name", required=True, help="Datastore name: letters, digits and '_'.")
@click.option("--url", required=True,
              help="SQLAlchemy URL, e.g. postgresql://user:pw@host:5432/db, "
                   "mysql://user:pw@host/db, sqlite:///path/to/file.db. The password is stored "
                   "as the datastore's secret, never printed.")
@click.option("--skip-validation", is_flag=True,
              help="Register without connecting to the database first.")
@click.option("--overwrite", is_flag=True, help="Replace an existing datastore of that name.")
@workspace_options
@output_option
def attach_sql(name, url, skip_validation, overwrite, selector, output) -> None:
    """Register a database as a SQL datastore (Datastore.register_sql): queries read it with
    Dataset.Tabular.from_sql_query, on the host only."""
    from ..core.datastore import Datastore
    ws = selector.resolve()
    with plain_warnings({"overwrite=True": "--overwrite"}):
        ds = Datastore.register_sql(ws, name, url, overwrite=overwrite,
                                    skip_validation=skip_validation)
    note(f"Registered SQL datastore '{ds.name}' in workspace '{ws.name}'")
    _show(_display(ds, ws._refresh().default_datastore), output)


@datastore.command("list")
@workspace_options
@output_option
def list_(selector, output) -> None:
    """List the workspace's datastores."""
    ws = selector.resolve()
    default_name = ws._refresh().default_datastore
    shown = [_display(ds, default_name) for _, ds in sorted(ws.datastores.items())]
    if output == "json":
        echo_json(shown)
        return
    print_table(["NAME", "TYPE", "URL", "DEFAULT"],
                [[d["name"], d["datastore_type"], d["url"], "*" if d["default"] else ""]
                 for d in shown])


@datastore.command("upload")
@click.option("-n", "--name", required=True, help="Datastore name.")
@click.option("--src-path", required=True, type=click.Path(exists=True),
              help="A local folder (uploaded with its structure) or a single file.")
@click.option("--target-path", default=None, metavar="PATH",
              help="Folder inside the datastore (default: its root).")
@click.option("--overwrite", is_flag=True,
              help="Replace files that exist in the datastore (otherwise they are skipped).")
@workspace_options
def upload(name, src_path, target_path, overwrite, selector) -> None:
    """Upload a folder or a file to a datastore (Datastore.upload / upload_files)."""
    from ..core.datastore import Datastore
    ws = selector.resolve()
    ds = Datastore.get(ws, name)
    source = Path(src_path)
    with plain_warnings({"overwrite=True": "--overwrite"}):
        if source.is_dir():
            ds.upload(str(source), target_path=target_path, overwrite=overwrite, show_progress=True)
        else:
            ds.upload_files([str(source.resolve())], relative_root=str(source.parent.resolve()),
                            target_path=target_path, overwrite=overwrite, show_progress=True)
    click.echo(f"Done: {source} -> datastore '{ds.name}' at '{target_path or '/'}'")
