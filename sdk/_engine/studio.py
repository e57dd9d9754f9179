"""The studio server of a home (``amlocal studio``): found through ``<home>/studio/server.json``
(its pid, address and port, written by the server once it listens), started in the background
when something needs it (``publish()``, ``PipelineEndpoint.publish``, ``Schedule.create``,
``get_mlflow_tracking_uri()``), stopped by ``amlocal studio stop``.

It binds to 127.0.0.1:8765 by default (``AMLOCAL_STUDIO_PORT`` / ``AMLOCAL_STUDIO_HOST``, or the
command's ``--host``/``--port``), so the URLs it hands out (a published pipeline's ``endpoint``)
stay the same from one start to the next. The local user's client key (what the auth classes'
``get_authentication_header()`` sends) is kept in ``<home>/studio/client.key`` (0600); the
server keeps only hashes of keys.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .. import _settings
from ..errors import AmlocalError
from .processes import runs_module

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
START_TIMEOUT = 60.0
CLIENT_KEY_NAME = "local user"


class StudioError(AmlocalError):
    """The studio server could not be started or reached."""


@dataclass(frozen=True)
class ServerInfo:
    pid: int
    host: str
    port: int
    started_at: str

    @property
    def url(self) -> str:
        host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        host = f"[{host.strip('[]')}]" if ":" in host else host
        return f"http://{host}:{self.port}"


LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: str | None) -> bool:
    """True for a loopback bind address (127.0.0.0/8, ::1, localhost); False for anything
    else, including the wildcard addresses 0.0.0.0 and ::."""
    import ipaddress
    if not host:
        return False
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def studio_dir(settings=None) -> Path:
    settings = settings or _settings.current()
    folder = settings.home / "studio"
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    return folder


def server_file(settings=None) -> Path:
    return studio_dir(settings) / "server.json"


def write_server_file(info: ServerInfo, settings=None) -> None:
    """Written by the server process once it listens (atomically)."""
    path = server_file(settings)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(info.__dict__))
    os.replace(tmp, path)


def _alive(pid: int) -> bool:
    return runs_module(pid, "amlocal.server")


def answers(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def running(settings=None) -> ServerInfo | None:
    """The server of this home when its process lives and it answers, else None."""
    try:
        data = json.loads(server_file(settings).read_text())
        info = ServerInfo(int(data["pid"]), str(data["host"]), int(data["port"]),
                          str(data["started_at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _alive(info.pid) or not answers(info.url):
        return None
    return info


def wanted_address() -> tuple[str, int]:
    """``(host, port)`` from AMLOCAL_STUDIO_HOST / AMLOCAL_STUDIO_PORT (port 0: any free one),
    else the defaults."""
    host = os.environ.get("AMLOCAL_STUDIO_HOST", DEFAULT_HOST)
    try:
        port = int(os.environ.get("AMLOCAL_STUDIO_PORT", str(DEFAULT_PORT)))
    except ValueError:
        raise StudioError("AMLOCAL_STUDIO_PORT must be a port number, e.g. 8765") from None
    return host, port


def ports_to_try(port: int | None, settings) -> list[int]:
    """An explicit port (argument or AMLOCAL_STUDIO_PORT) is the only one tried. Otherwise the
    port this home's server had last time (URLs handed out stay valid), then the default, then
    any free port (a second home on the machine)."""
    if port is not None:
        return [port]
    if "AMLOCAL_STUDIO_PORT" in os.environ:
        return [wanted_address()[1]]
    ports = []
    try:
        ports.append(int(json.loads(server_file(settings).read_text())["port"]))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return [p for i, p in enumerate(ports + [DEFAULT_PORT, 0]) if p not in ports[:i]]


def start(host: str | None = None, port: int | None = None, *, notice: bool = True,
          settings=None) -> ServerInfo:
    """Start the server of this home in the background (a detached process that outlives the
    caller) unless it runs; wait until it answers. Raises StudioError with its log."""
    settings = settings or _settings.current()
    found = running(settings)
    if found is not None:
        return found
    host = host or wanted_address()[0]
    errors = []
    for candidate in ports_to_try(port, settings):
        try:
            return _start_on(host, candidate, notice=notice, settings=settings)
        except StudioError as exc:
            errors.append(str(exc))
    raise StudioError(errors[-1])


def _start_on(host: str, port: int, *, notice: bool, settings) -> ServerInfo:
    folder = studio_dir(settings)
    log_path = folder / "server.log"
    env = {**os.environ, "AMLOCAL_HOME": str(settings.home)}
    for var in ("AZUREML_RUN_ID", "AZUREML_RUN_TOKEN", "AMLOCAL_RUN_SERVICE"):
        env.pop(var, None)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "amlocal.server", "--host", host, "--port", str(port)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
            start_new_session=True, close_fds=True)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        found = running(settings)
        if found is not None and found.pid == process.pid:
            if notice:
                print(f"amlocal: started the studio server of this home at {found.url} "
                      "(`amlocal studio stop` stops it)", file=sys.stderr)
            return found
        if process.poll() is not None:
            break
        time.sleep(0.1)
    text = log_path.read_text(errors="replace")[-3000:] if log_path.exists() else ""
    if process.poll() is None:
        process.terminate()
    raise StudioError(f"the studio server did not start on {host}:{port}; its log:\n{text}\n"
                      "If the port is taken, set AMLOCAL_STUDIO_PORT or run "
                      "`amlocal studio start --port N`")


def ensure_running(settings=None) -> ServerInfo:
    """The running server of this home, started (with a one-line notice) when none runs."""
    return running(settings) or start(settings=settings)


def stop(settings=None, timeout: float = 15.0) -> ServerInfo | None:
    """Stop the server of this home; returns what was stopped (None when none ran)."""
    import signal
    info = running(settings)
    if info is None:
        server_file(settings).unlink(missing_ok=True)
        return None
    os.kill(info.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(info.pid):
        time.sleep(0.1)
    if _alive(info.pid):
        os.kill(info.pid, signal.SIGKILL)
    server_file(settings).unlink(missing_ok=True)
    return info


def client_key(store, settings=None) -> str:
    """The local user's key for the server (made, stored hashed, and kept in a 0600 file the
    first time; made again when it was revoked)."""
    path = studio_dir(settings) / "client.key"
    try:
        key = path.read_text().strip()
    except OSError:
        key = ""
    if key and store.verify_api_key(key) is not None:
        return key
    _, key = store.create_api_key(CLIENT_KEY_NAME)
    _settings.write_private(path, key)
    return key
