"""``amlocal webservice deploy|list|show|keys|logs|delete``: deployed services (``Model.deploy``
and pipelines served with ``Webservice.deploy_pipeline``)."""
from __future__ import annotations

import click

from ._common import echo_json, output_option, print_fields, print_table, workspace_options


def _describe(service) -> dict:
    return {"name": service.name, "scoringUri": service.scoring_uri, "state": service.state,
            "port": service.port}


@click.group()
def webservice() -> None:
    """Deployed web services: deploy, list, show, keys, logs, delete."""


@webservice.command("deploy")
@click.option("--pipeline-id", required=True, metavar="ID", help="The published pipeline to serve.")
@click.option("--name", required=True, help="The service's name (3-32 lowercase letters, digits, '-').")
@click.option("--port", type=int, default=None, help="Host port (default: a free one).")
@workspace_options
def deploy(pipeline_id, name, port, selector) -> None:
    """Serve a published pipeline with WebServiceInput/WebServiceOutput as a request/response
    service; prints the scoring URI and the two keys (shown only now).

    The request limits are read from the environment at deploy: AMLOCAL_SERVICE_MAX_BODY (bytes,
    default 10 MiB; larger bodies answer 413), AMLOCAL_SERVICE_READ_TIMEOUT (seconds to send a
    request, default 30; then 408) and AMLOCAL_SERVICE_CONCURRENCY (requests executed at once,
    default 4)."""
    from ..core.webservice import Webservice
    from .pipeline import resolve_published
    ws, published = resolve_published(selector, pipeline_id)
    service = Webservice.deploy_pipeline(ws, name, published, port=port, show_output=True)
    primary, secondary = service.get_keys()
    print_fields([("name", service.name), ("scoring uri", service.scoring_uri),
                  ("primary key", primary), ("secondary key", secondary)])
    click.echo("The keys are stored hashed and are not shown again; "
               f"`amlocal webservice keys {name} --regen Primary` makes a new one.")


@webservice.command("keys")
@click.argument("name")
@click.option("--regen", type=click.Choice(["Primary", "Secondary"]), default=None,
              help="Make a new key and print it (the old one stops working).")
@workspace_options
def keys(name, regen, selector) -> None:
    """Regenerate and print a pipeline service's key (keys are stored hashed: shown once)."""
    from ..core.webservice import Webservice
    service = Webservice(selector.resolve(), name)
    if regen is None:
        raise click.UsageError(f"the keys of '{name}' are stored hashed and were shown at deploy; "
                               f"pass --regen Primary or --regen Secondary to make a new one")
    service.regen_key(regen)
    click.echo(f"{regen.lower()} key: {service.get_keys()[0 if regen == 'Primary' else 1]}")


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
