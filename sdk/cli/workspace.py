"""``amlocal workspace create|list|show``."""
from __future__ import annotations

import click

from ..errors import UserErrorException
from ._common import echo_json, note, output_option, print_fields, print_table, show_time, workspace_options


@click.group()
def workspace() -> None:
    """Local workspaces (named by subscription, resource group and name, as on Azure)."""


def _details(ws) -> dict:
    details = ws.get_details()
    details["defaultDatastore"] = ws._refresh().default_datastore
    return details


def _show(details: dict, output: str) -> None:
    if output == "json":
        echo_json(details)
        return
    print_fields([("name", details["name"]), ("resource group", details["resourceGroup"]),
                  ("subscription", details["subscriptionId"]), ("location", details["location"]),
                  ("default datastore", details.get("defaultDatastore")),
                  ("created", show_time(details.get("creationTime"))), ("id", details["id"])])


@workspace.command("create")
@click.option("-w", "--workspace-name", "name", required=True, metavar="NAME",
              help="Workspace name: 3-33 letters, digits, '_' or '-'.")
@click.option("-g", "--resource-group", required=True, metavar="GROUP", help="Resource group name.")
@click.option("--subscription-id", default=None, metavar="ID",
              help="Subscription id (default: the all-zero GUID).")
@click.option("--exist-ok", is_flag=True, help="Use the workspace if it exists already.")
@click.option("--write-config", is_flag=True,
              help="Write .azureml/config.json under --path so later commands need no -w.")
@click.option("--path", default=".", show_default=True, metavar="DIR",
              help="Where --write-config writes .azureml/config.json.")
@output_option
def create(name, resource_group, subscription_id, exist_ok, write_config, path, output) -> None:
    """Create a workspace (Workspace.create)."""
    from ..core.workspace import Workspace
    before = {w._id for w in Workspace.list(subscription_id, resource_group=resource_group)
              .get(name, [])}
    try:
        ws = Workspace.create(name, subscription_id=subscription_id, resource_group=resource_group,
                              exist_ok=exist_ok, show_output=False)
    except UserErrorException:
        if before and not exist_ok:
            raise UserErrorException(
                f"workspace '{name}' already exists in resource group '{resource_group}'; pass "
                "--exist-ok to use it") from None
        raise
    existed = ws._id in before
    note(f"Workspace '{ws.name}' {'already existed' if existed else 'created'} "
         f"(resource group '{ws.resource_group}')")
    if write_config:
        note(f"Wrote {ws.write_config(path)}")
    _show(_details(ws), output)


@workspace.command("list")
@click.option("-g", "--resource-group", default=None, metavar="GROUP", help="Only this resource group.")
@click.option("--subscription-id", default=None, metavar="ID", help="Only this subscription.")
@output_option
def list_(resource_group, subscription_id, output) -> None:
    """List workspaces."""
    from ..core.workspace import Workspace
    found = Workspace.list(subscription_id, resource_group=resource_group)
    details = [_details(ws) for name in sorted(found) for ws in found[name]]
    if output == "json":
        echo_json(details)
        return
    print_table(["NAME", "RESOURCE GROUP", "SUBSCRIPTION", "CREATED"],
                [[d["name"], d["resourceGroup"], d["subscriptionId"], show_time(d["creationTime"])]
                 for d in details], empty="No workspaces yet: create one with "
                                          "`amlocal workspace create -w NAME -g GROUP`")


@workspace.command("show")
@workspace_options
@output_option
def show(selector, output) -> None:
    """Show the selected workspace."""
    _show(_details(selector.resolve()), output)
