"""``amlocal webservice list|show|logs|delete``: deployed services (``Model.deploy``)."""
from __future__ import annotations

import click

from ._common import echo_json, output_option, print_fields, print_table, workspace_options


def _describe(service) -> dict:
    return {"name": service.name, "scoringUri": service.scoring_uri, "state": service.state,
            "port": service.port}


@click.group()
def webservice() -> None:
    """Deployed web services: list, show, logs, delete."""


@webservice.command("list")
@workspace_options
@output_option
def list_(selector, output) -> None:
    """List the workspace's services."""
    from ..core.webservice import Webservice
    rows = [_describe(s) for s in Webservice.list(selector.resolve())]
    if output == "json":
        echo_json(rows)
        return
    print_table(["NAME", "STATE", "SCORING URI"], [[r["name"], r["state"], r["scoringUri"]] for r in rows],
                empty="No web services.")


@webservice.command("show")
@click.argument("name")
@workspace_options
@output_option
def show(name, selector, output) -> None:
    """Show one service."""
    from ..core.webservice import Webservice
    data = _describe(Webservice(selector.resolve(), name))
    if output == "json":
        echo_json(data)
        return
    print_fields([("name", data["name"]), ("state", data["state"]), ("scoring uri", data["scoringUri"])])


@webservice.command("logs")
@click.argument("name")
@workspace_options
def logs(name, selector) -> None:
    """Print a service's log (its init() and every request)."""
    from ..core.webservice import Webservice
    click.echo(Webservice(selector.resolve(), name).get_logs())


@webservice.command("delete")
@click.argument("name")
@workspace_options
def delete(name, selector) -> None:
    """Stop and remove a service."""
    from ..core.webservice import Webservice
    Webservice(selector.resolve(), name).delete()
    click.echo(f"Deleted web service '{name}'")
