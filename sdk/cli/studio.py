"""``amlocal studio``: the studio server of this home (the REST API with its OpenAPI document at
``/docs``, MLflow tracking, the schedules), and its keys.

- ``amlocal studio [--host 127.0.0.1] [--port 8765]`` serves in the foreground (Ctrl-C stops it).
- ``amlocal studio start|stop|status`` manage it in the background; ``status`` exits 1 when none
  runs. The running server is found through ``<home>/studio/server.json``.
- ``amlocal studio keys create NAME|list|revoke ID_OR_NAME``: keys for ``Authorization: Bearer``.
  A key is printed once, when it is made; only its hash is kept.

Without ``--port``: ``AMLOCAL_STUDIO_PORT``, else the port this home's server had last time (the
URLs it handed out, such as a published pipeline's ``endpoint``, stay valid), else 8765.
"""
from __future__ import annotations

import os
import sys

import click

from ..errors import UserErrorException
from ._common import (echo_json, note, open_store, output_option, print_fields, print_table,
                      show_time)


def _port_option(func):
    return click.option("--port", type=click.IntRange(0, 65535), default=None,
                        help="Port to listen on (default: AMLOCAL_STUDIO_PORT, else this "
                             "home's last port, else 8765; 0: any free port).")(func)


def _host_option(func):
    return click.option("--host", default=None,
                        help="Address to listen on (default 127.0.0.1, or AMLOCAL_STUDIO_HOST). "
                             "On any non-loopback address every request needs a key.")(func)


def _address(host: str | None, port: int | None) -> tuple[str, int]:
    from .._engine import studio
    host = host or studio.wanted_address()[0]
    if port is None:
        port = studio.ports_to_try(None, None)[0]
    return host, port


def _warn_if_open(host: str) -> None:
    from .._engine.studio import is_loopback
    if not is_loopback(host):
        note(f"Warning: listening on {host}, beyond this machine: every request (reads too) "
             "needs 'Authorization: Bearer <key>' (`amlocal studio keys create NAME`)")


def _refuse_second(info) -> None:
    raise UserErrorException(f"the studio server of this home already runs at {info.url} "
                             f"(pid {info.pid}); stop it with `amlocal studio stop`")


@click.group(invoke_without_command=True)
@_host_option
@_port_option
@click.pass_context
def studio(ctx: click.Context, host, port) -> None:
    """The studio server of this home: REST API, MLflow tracking, schedules (foreground
    without a subcommand; Ctrl-C stops it)."""
    ctx.ensure_object(dict)
    ctx.obj.update(host=host, port=port)
    if ctx.invoked_subcommand is not None:
        return
    from .._engine import studio as engine
    found = engine.running()
    if found is not None:
        _refuse_second(found)
    host, port = _address(host, port)
    _warn_if_open(host)
    env = dict(os.environ)
    for var in ("AZUREML_RUN_ID", "AZUREML_RUN_TOKEN", "AMLOCAL_RUN_SERVICE"):
        env.pop(var, None)
    sys.stdout.flush()
    sys.stderr.flush()
    # the server replaces this process: Ctrl-C and SIGTERM reach it directly
    os.execve(sys.executable, [sys.executable, "-m", "amlocal.server", "--host", host,
                               "--port", str(port)], env)


@studio.command("start")
@_host_option
@_port_option
@click.pass_context
def start(ctx: click.Context, host, port) -> None:
    """Start the server in the background (it outlives this command); prints its URL."""
    from .._engine import studio as engine
    found = engine.running()
    if found is not None:
        click.echo(found.url)
        note(f"The studio server of this home already runs (pid {found.pid}).")
        return
    host = host or ctx.obj.get("host")
    port = port if port is not None else ctx.obj.get("port")
    info = engine.start(host, port, notice=False)
    _warn_if_open(info.host)
    click.echo(info.url)
    note(f"Started the studio server of this home (pid {info.pid}); "
         "`amlocal studio stop` stops it.")


@studio.command("stop")
def stop() -> None:
    """Stop the server of this home (nothing to do when none runs)."""
    from .._engine import studio as engine
    info = engine.stop()
    if info is None:
        click.echo("No studio server runs for this home.")
    else:
        click.echo(f"Stopped the studio server at {info.url} (pid {info.pid}).")


@studio.command("status")
@output_option
def status(output) -> None:
    """URL, pid and start time of the running server; exit status 1 when none runs."""
    from .. import _settings
    from .._engine import studio as engine
    info = engine.running()
    home = str(_settings.current().home)
    if output == "json":
        echo_json({"running": info is not None, "url": info.url if info else None,
                   "pid": info.pid if info else None, "host": info.host if info else None,
                   "port": info.port if info else None,
                   "startedUtc": info.started_at if info else None, "home": home})
    elif info is None:
        click.echo(f"No studio server runs for this home ({home}); start one with "
                   "`amlocal studio start`.")
    else:
        print_fields([("url", info.url), ("pid", info.pid), ("started", show_time(info.started_at)),
                      ("listening on", f"{info.host}:{info.port}"), ("home", home),
                      ("openapi", f"{info.url}/openapi.json")])
    if info is None:
        click.get_current_context().exit(1)


@studio.group("keys")
def keys() -> None:
    """Keys for 'Authorization: Bearer <key>' (stored hashed; shown once)."""


def _key_row(k) -> dict:
    return {"id": k.id, "name": k.name, "createdUtc": k.created_at, "revokedUtc": k.revoked_at}


@keys.command("create")
@click.argument("name")
@output_option
def keys_create(name, output) -> None:
    """Make a key named NAME and print it (the only time it is shown)."""
    info, key = open_store().create_api_key(name)
    if output == "json":
        echo_json({**_key_row(info), "key": key})
        return
    click.echo(key)
    note(f"Key '{info.name}' (id {info.id}) made. It is shown only now: keep it; send it as "
         "'Authorization: Bearer <key>'. Revoke it with "
         f"`amlocal studio keys revoke {info.id}`.")


@keys.command("list")
@output_option
def keys_list(output) -> None:
    """The keys: id, name, created, revoked (never the key itself)."""
    rows = [_key_row(k) for k in open_store().list_api_keys()]
    if output == "json":
        echo_json(rows)
        return
    print_table(["ID", "NAME", "CREATED", "REVOKED"],
                [[r["id"], r["name"], show_time(r["createdUtc"]), show_time(r["revokedUtc"])]
                 for r in rows], empty="No keys (make one with `amlocal studio keys create NAME`).")


@keys.command("revoke")
@click.argument("id_or_name")
def keys_revoke(id_or_name) -> None:
    """Revoke the key with this id (or every active key with this name); it is refused from
    now on."""
    store = open_store()
    active = [k for k in store.list_api_keys() if k.active and id_or_name in (k.id, k.name)]
    store.revoke_api_key(id_or_name)
    for k in active:
        click.echo(f"Revoked key '{k.name}' (id {k.id}).")
