"""What every ``amlocal`` command shares: workspace selection, output, errors, small parsers.

Host-only: click is imported at module top, rich only inside the functions that draw, and the
SDK inside the functions that need it, so ``amlocal --help`` stays fast.
"""
from __future__ import annotations

import functools
import json
import sys
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

import click

from ..errors import UserErrorException
from ..store.entities import parse_utc

OUTPUT_CHOICES = ("table", "json")
EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


# ---------------------------------------------------------------------------------------------
# workspace selection, as az ml v1: -w/-g/--subscription-id, else the config file under --path

@dataclass(frozen=True)
class WorkspaceSelector:
    """The workspace flags of one command, resolved only when the command needs the workspace."""

    name: str | None = None
    resource_group: str | None = None
    subscription_id: str | None = None
    path: str = "."

    def resolve(self, owner_workspace_id: str | None = None):
        """The selected Workspace.

        With ``-w`` the workspace is looked up by name (``-g``/``--subscription-id`` narrow it);
        otherwise ``config.json`` is searched from ``--path`` upwards as ``Workspace.from_config``
        does. When neither is given and the command names an object with a global id (a run or
        a published pipeline), ``owner_workspace_id`` (the workspace that object belongs to) is
        used: an amlocal convenience, az would ask for the workspace.

        Raises NotFoundError (unknown name), UserErrorException (ambiguous name, no selection).
        """
        from ..core.workspace import Workspace
        if self.name:
            return Workspace.get(self.name, resource_group=self.resource_group,
                                 subscription_id=self.subscription_id)
        if self.resource_group or self.subscription_id:
            raise UserErrorException(
                "-g/--resource-group and --subscription-id narrow a workspace name: also give "
                "-w/--workspace-name NAME (list workspaces with `amlocal workspace list`)")
        if _config_exists(self.path):
            return Workspace.from_config(self.path)
        if owner_workspace_id:
            owner = _workspace_by_id(owner_workspace_id)
            if owner is not None:
                return owner
        raise UserErrorException(
            f"no workspace selected: pass -w/--workspace-name NAME (with -g/--resource-group "
            f"GROUP when the name exists in several resource groups), or run where a "
            f".azureml/config.json is found from --path ({self.path}) upwards; create a workspace "
            f"and its config with `amlocal workspace create -w NAME -g GROUP --write-config`")


def _config_exists(path: str) -> bool:
    from ..core.workspace import _find_config
    try:
        _find_config(path, None)
        return True
    except UserErrorException:
        return False


def _workspace_by_id(workspace_id: str):
    from ..core.workspace import Workspace
    for info in open_store().find_workspaces():
        if info.id == workspace_id:
            return Workspace.get(info.name, resource_group=info.resource_group,
                                 subscription_id=info.subscription_id)
    return None


def workspace_options(func):
    """Add az ml's workspace flags; the command receives them as ``selector``."""
    @click.option("--path", default=".", show_default=True, metavar="DIR",
                  help="Folder to search (upwards) for .azureml/config.json when -w is not given.")
    @click.option("--subscription-id", default=None, metavar="ID",
                  help="Subscription id of the workspace (with -w).")
    @click.option("-g", "--resource-group", default=None, metavar="GROUP",
                  help="Resource group of the workspace (with -w).")
    @click.option("-w", "--workspace-name", default=None, metavar="NAME",
                  help="Workspace name; otherwise the config file under --path is used.")
    @functools.wraps(func)
    def wrapper(*args, workspace_name, resource_group, subscription_id, path, **kwargs):
        selector = WorkspaceSelector(workspace_name, resource_group, subscription_id, path)
        return func(*args, selector=selector, **kwargs)
    return wrapper


def output_option(func):
    """``-o/--output table|json``: tables for people, JSON for scripts."""
    return click.option("-o", "--output", "output", type=click.Choice(OUTPUT_CHOICES),
                        default="table", show_default=True,
                        help="table for people, json for scripts.")(func)


def open_store():
    """The local store (SQLAlchemy is imported here, not when the CLI loads)."""
    from ..store import open_store as _open
    return _open()


# ---------------------------------------------------------------------------------------------
# output

def echo_json(data) -> None:
    click.echo(json.dumps(data, indent=2, default=str, sort_keys=False))


def note(message: str) -> None:
    """A line for people, on stderr, so stdout stays clean for scripts."""
    click.echo(message, err=True)


def _console():
    from rich.console import Console
    stream = sys.stdout
    tty = hasattr(stream, "isatty") and stream.isatty()
    # Piped output is for grep and friends: never wrap or cut ids to 80 columns.
    return Console(file=stream, width=None if tty else 250, markup=False, emoji=False,
                   highlight=False, soft_wrap=False)


def _render(renderable) -> None:
    """Print through rich, without the trailing blanks its padding leaves on each line."""
    console = _console()
    with console.capture() as captured:
        console.print(renderable)
    text = "\n".join(line.rstrip() for line in captured.get().splitlines())
    click.echo(text)


def _cell(value):
    from rich.text import Text
    if value is None:
        return Text("")
    if isinstance(value, (dict, list)):
        value = json.dumps(value, default=str)
    return Text(str(value))


def print_table(columns: list[str], rows: list[list], *, title: str | None = None,
                empty: str = "(none)") -> None:
    """A table of ``rows`` (values shown literally: no rich markup is interpreted)."""
    if not rows:
        click.echo(f"{title}: {empty}" if title else empty)
        return
    from rich.table import Table
    if title:
        click.echo(f"{title}:")
    table = Table(show_lines=False, box=None, pad_edge=False, header_style="bold")
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*[_cell(v) for v in row])
    _render(table)


def print_fields(pairs: list[tuple[str, object]], *, title: str | None = None) -> None:
    """``key  value`` lines, one per pair."""
    from rich.table import Table
    if title:
        click.echo(f"{title}:")
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    for key, value in pairs:
        table.add_row(_cell(key), _cell(value))
    _render(table)


def print_mapping(mapping: dict, title: str) -> None:
    """A titled key/value section; a one-line "(none)" when empty."""
    if not mapping:
        click.echo(f"{title}: (none)")
        return
    print_fields([(k, _short(v)) for k, v in mapping.items()], title=title)


def _short(value, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------------------------------------
# times

def show_time(text: str | None) -> str:
    """``2026-01-02T03:04:05.123456Z`` -> ``2026-01-02 03:04:05`` (UTC)."""
    moment = parse_utc(text)
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def duration(start: str | None, end: str | None) -> str:
    """``1h 02m 03s`` between two store timestamps (until now while still running)."""
    begin = parse_utc(start)
    if begin is None:
        return ""
    finish = parse_utc(end) or datetime.now(timezone.utc)
    seconds = max(0, int((finish - begin).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


# ---------------------------------------------------------------------------------------------
# parsing

def parse_pairs(text: str | None, flag: str, example: str) -> dict:
    """``"a=1,b=x"`` -> ``{"a": "1", "b": "x"}``, as az ml: split on ``,`` then on the first
    ``=``; values stay strings. Raises UserErrorException naming the bad item."""
    result: dict[str, str] = {}
    if text is None:
        return result
    for item in text.split(","):
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UserErrorException(
                f"{flag}: {item.strip()!r} is not NAME=VALUE; write them as {example}")
        if name in result:
            raise UserErrorException(f"{flag}: {name!r} is given twice; give each name once")
        result[name] = value
    return result


def parse_options(items: tuple[str, ...], flag: str) -> dict:
    """Repeated ``--option key=value`` -> dict (values stay strings)."""
    result: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise UserErrorException(
                f"{flag} {item!r} is not KEY=VALUE; write e.g. {flag} account_name=myaccount")
        if not name.strip():
            # the value is not echoed: it may be a credential
            raise UserErrorException(
                f"{flag} has an empty KEY in KEY=VALUE; write e.g. {flag} account_name=myaccount")
        result[name.strip()] = value
    return result


# ---------------------------------------------------------------------------------------------
# warnings from the SDK become plain "Warning: ..." lines

@contextmanager
def plain_warnings(hints: dict[str, str] | None = None):
    """Show warnings raised inside as one ``Warning: <message>`` line each on stderr (not
    Python's ``file:line: UserWarning:`` form). ``hints`` rewrites SDK advice into flags, e.g.
    ``{"overwrite=True": "--overwrite"}``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            seen = set()
            for w in caught:
                text = str(w.message)
                for sdk_words, flag in (hints or {}).items():
                    text = text.replace(sdk_words, flag)
                if text not in seen:
                    seen.add(text)
                    note(f"Warning: {text}")


def one_line(message: str) -> str:
    """A multi-line error message folded into one line."""
    parts = [p.strip() for p in str(message).splitlines() if p.strip()]
    parts = [p[2:] if p.startswith("- ") else p for p in parts]
    text = " ".join(parts) if len(parts) < 2 else parts[0] + " " + "; ".join(parts[1:])
    return text or "failed"
