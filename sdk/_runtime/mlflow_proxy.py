"""MLflow tracking inside a step, as on Azure (where ``MLFLOW_TRACKING_URI`` points at the job's
run): a small HTTP server on the step's loopback interface that answers MLflow's tracking REST
API over the step's run service (its own token, so only what the step API allows), through
:class:`amlocal._engine.mlflow_tracking.Tracking`.

The step entry starts it (:func:`start`) when the step's environment has mlflow installed, and
sets for the script, unless they are set already:

- ``MLFLOW_TRACKING_URI``: ``http://127.0.0.1:<port>`` (loopback only: it works in a sandbox
  without network);
- ``MLFLOW_RUN_ID``: the step run, so ``mlflow.log_metric`` (and ``mlflow.start_run()``) record on
  it; a run ``start_run`` creates is a child run of the step;
- ``MLFLOW_EXPERIMENT_ID`` / ``MLFLOW_EXPERIMENT_NAME``: the step's experiment;
- ``MLFLOW_TRACKING_TOKEN``: a secret made for this proxy, which it requires as a bearer key (on
  a ``local`` target the step shares the machine's loopback with other users).

Only the standard library here: mlflow itself is the user's (their environment brings it), never
part of the step runtime.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from .._engine.mlflow_tracking import API_PREFIX, Tracking, experiment_id

MAX_JSON_BODY = 16 << 20
BLOCK = 1 << 20


@dataclass(frozen=True)
class Proxy:
    """A running proxy: its URL, the bearer secret it requires, and how to stop it."""

    url: str
    token: str
    server: ThreadingHTTPServer

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    server_version = "amlocal-mlflow-proxy"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass  # the step's log is the user's: no access log in it

    def do_GET(self):
        self._serve()

    def do_POST(self):
        self._serve()

    def do_PUT(self):
        self._serve()

    def do_PATCH(self):
        self._serve()

    def do_DELETE(self):
        self._serve()

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _serve(self) -> None:
        proxy = self.server
        header = self.headers.get("Authorization") or ""
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(value.strip(),
                                                                     proxy.secret):
            self._drain()
            return self._send(401, {"error_code": "UNAUTHENTICATED", "message":
                                    "this step's MLflow tracking needs the bearer key in "
                                    "MLFLOW_TRACKING_TOKEN (set by the step runtime)"})
        parts = urlsplit(self.path)
        where = parts.path.find(API_PREFIX)
        if where < 0:
            self._drain()
            return self._send(404, {"error_code": "ENDPOINT_NOT_FOUND", "message":
                                    f"this step's MLflow tracking serves {API_PREFIX}..."})
        route = parts.path[where + len(API_PREFIX):].strip("/")
        args: dict = dict(parse_qsl(parts.query, keep_blank_values=True))
        scratch = Path(tempfile.mkdtemp(prefix="amlocal-mlflow-"))
        try:
            upload = None
            if self.command == "PUT":
                upload = scratch / "upload"
                with open(upload, "wb") as out:
                    for chunk in self._body_chunks():
                        out.write(chunk)
            else:
                body = b"".join(self._body_chunks(MAX_JSON_BODY))
                if body.strip():
                    try:
                        parsed = json.loads(body)
                    except (ValueError, UnicodeDecodeError) as exc:
                        return self._send(400, {"error_code": "MALFORMED_REQUEST",
                                                "message": f"the body is not JSON: {exc}"})
                    if not isinstance(parsed, dict):
                        return self._send(400, {"error_code": "MALFORMED_REQUEST",
                                                "message": "the body is a JSON object"})
                    args.update(parsed)
            with proxy.lock:
                reply = proxy.tracking.handle(self.command, route, args, upload=upload,
                                              scratch=scratch)
            if reply.file is None:
                return self._send(reply.status, reply.json or {})
            size = reply.file.stat().st_size
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            with open(reply.file, "rb") as source:
                shutil.copyfileobj(source, self.wfile, BLOCK)
        except _TooLarge as exc:
            self.close_connection = True
            return self._send(413, {"error_code": "INVALID_PARAMETER_VALUE",
                                    "message": str(exc)})
        except Exception as exc:  # noqa: BLE001 - answer, never kill the step's script
            self.close_connection = True
            return self._send(500, {"error_code": "INTERNAL_ERROR",
                                    "message": f"{type(exc).__name__}: {exc}"})
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _body_chunks(self, limit: int | None = None):
        total = 0
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return
                total += size
                if limit is not None and total > limit:
                    raise _TooLarge(f"the request body is over {limit >> 20} MiB")
                yield self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if limit is not None and length > limit:
            raise _TooLarge(f"the request body is over {limit >> 20} MiB")
        while length > 0:
            chunk = self.rfile.read(min(BLOCK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk

    def _drain(self) -> None:
        self.close_connection = True


class _TooLarge(Exception):
    pass


def start(store, run_id: str) -> Proxy:
    """Serve MLflow tracking for step run ``run_id`` over ``store`` (the step's run service) on
    127.0.0.1, from a daemon thread."""
    info = store.get_run(run_id)
    if info is None:
        raise LookupError(f"the step run {run_id} is not in the store")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.tracking = Tracking(store, info.workspace_id, step_run_id=info.id,
                               step_experiment=info.experiment)
    server.lock = threading.Lock()
    server.secret = secrets.token_urlsafe(32)
    threading.Thread(target=server.serve_forever, name="amlocal-mlflow-proxy",
                     daemon=True).start()
    return Proxy(url=f"http://127.0.0.1:{server.server_address[1]}", token=server.secret,
                 server=server)


def environment(proxy: Proxy, info) -> dict:
    """The MLflow variables a step's script gets for ``proxy`` (its run ``info``)."""
    return {"MLFLOW_TRACKING_URI": proxy.url, "MLFLOW_TRACKING_TOKEN": proxy.token,
            "MLFLOW_RUN_ID": info.id,
            "MLFLOW_EXPERIMENT_ID": experiment_id(info.workspace_id, info.experiment),
            "MLFLOW_EXPERIMENT_NAME": info.experiment}


def start_for_step() -> Proxy | None:
    """Called by the step entry: when mlflow is importable and this process is a step, start
    the proxy and set the MLflow variables (leaving ones the step's configuration set alone).
    A failure is printed in the step's log and MLflow is left unconfigured."""
    import importlib.util
    import sys
    from .. import _context
    ctx = _context.job_context()
    if ctx is None or importlib.util.find_spec("mlflow") is None:
        return None
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return None   # the step's configuration chose a tracking server: keep it
    try:
        store = _context.current_store()
        info = store.get_run(ctx.run_id)
        proxy = start(store, ctx.run_id)
    except Exception as exc:  # noqa: BLE001 - tracking is an aid: the script still runs
        print(f"amlocal: MLflow tracking is not available in this step ({type(exc).__name__}: "
              f"{exc}); mlflow calls will not reach the step run", file=sys.stderr)
        return None
    for name, value in environment(proxy, info).items():
        if name == "MLFLOW_TRACKING_URI" or not os.environ.get(name):
            os.environ[name] = value
    os.environ["MLFLOW_TRACKING_TOKEN"] = proxy.token
    return proxy
