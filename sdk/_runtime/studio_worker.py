"""A warm Execute Python Script worker: runs INSIDE a step's container for a pipeline web service.

``python -m amlocal._runtime.studio_worker --socket PATH [--dynamic PORT ...] STUDIO-ARGS...``
where STUDIO-ARGS are the step's own arguments (``--dataframe1 ... --result ... --device ...``,
see :mod:`amlocal._runtime.studio`). At start it does once what a batch run does every time:
switches matplotlib to Agg, installs the script bundle, imports the user's module and reads the
*static* input ports (those not listed with ``--dynamic``). Then it serves HTTP on the Unix socket
``PATH`` (a socket in a mounted folder works with ``network none``). The socket is made 0600 and
its folder is the service's own (0700, owned by the user the worker runs as); on top of that every
request must carry the service's worker secret (header ``X-Amlocal-Worker-Secret``, the value given
in the environment variable ``AMLOCAL_WORKER_SECRET``, which is removed from the environment before
the user's module is imported): a request without it answers 403 before its body is read.

- ``GET /health`` answers 200 once the module is imported;
- ``POST /call`` with header ``X-Ports: dataframe1=<n>[,dataframe2=<m>]`` and a body of those
  Arrow IPC streams, concatenated in that order: calls ``azureml_main`` with the request's frames
  on the dynamic ports and the static frames on the others, and answers 200 with the translated
  result frame as an Arrow IPC stream, or 422 with ``{"error": message}`` when the script fails or
  returns something that is not ``(DataFrame, ...)`` (the user's message; the traceback from the
  user's frame on goes to the container's log).

Requests are handled in threads, at most ``AMLOCAL_SERVICE_CONCURRENCY`` (default 4) at once.
Images a script saves are left in the working directory (the python device is a batch output).
Only the standard library is imported at module level.
"""
from __future__ import annotations

import argparse
import hmac
import os
import socketserver
import sys
import threading
from pathlib import Path

from . import studio
from .._engine.http_guard import GuardedHandler, HttpError, Limits, guarded
from .._engine.worker_wire import SECRET_ENV, SECRET_HEADER, frame_to_ipc, ipc_to_frame

PORTS = ("dataframe1", "dataframe2")
# the host front is the only client: frames between served steps may be large, and slow
_LIMITS = Limits(max_body=1 << 40, read_timeout=600.0)


class Worker:
    """The imported module, the static frames and the call."""

    def __init__(self, args, dynamic: list[str], workdir: str = "."):
        os.environ["MPLBACKEND"] = "Agg"
        if args.bundle:
            studio.install_bundle(args.bundle, workdir)
        self.dynamic = list(dynamic)
        self.static = {}
        for port in PORTS:
            value, kind = getattr(args, port), getattr(args, f"{port}_kind")
            if port not in self.dynamic:
                self.static[port] = studio.read_input(value, kind) if value else None
        self.script = str(Path(workdir) / args.script)
        self.module = studio.load_user_module(self.script)

    def call(self, frames: dict) -> bytes:
        """The result of ``azureml_main`` as Arrow IPC bytes. Raises StudioUserError with the
        user's message when the script fails or returns something else than ``(df, ...)``."""
        inputs = [studio.prepare_input(frames[p]) if p in frames else self.static.get(p)
                  for p in PORTS]
        inputs = [f.copy() if f is not None and p not in frames else f
                  for p, f in zip(PORTS, inputs)]
        try:
            result = studio.call_azureml_main(self.module.azureml_main, *inputs)
        except studio.StudioUserError:
            raise
        except Exception as exc:  # noqa: BLE001 - the user's error: log it, answer its message
            studio._print_user_traceback(exc, self.script)
            sys.stderr.flush()
            raise studio.StudioUserError(f"{type(exc).__name__}: {exc}") from None
        frame = studio.translate_output(studio.check_result(result))
        try:
            return frame_to_ipc(frame)
        except Exception as exc:
            raise studio.StudioUserError(
                f"the returned DataFrame cannot be converted to a table ({type(exc).__name__}: "
                f"{exc}); give each column one type") from exc


def _split(header: str, body: bytes) -> dict:
    frames, offset = {}, 0
    for part in filter(None, (header or "").split(",")):
        port, _, size = part.partition("=")
        if port not in PORTS or not size.isdigit():
            raise ValueError(f"bad X-Ports entry {part!r}")
        frames[port] = ipc_to_frame(body[offset:offset + int(size)])
        offset += int(size)
    return frames


def _handler(worker: Worker, gate: threading.BoundedSemaphore, secret: str):
    expected = secret.encode("utf-8")

    class Handler(GuardedHandler):
        def _allowed(self) -> bool:
            given = (self.headers.get(SECRET_HEADER) or "").encode("utf-8", "replace")
            if hmac.compare_digest(given, expected):
                return True
            self.send_json(403, {"error": f"this worker answers its service only (no or wrong "
                                          f"{SECRET_HEADER})"}, close=True)
            return False

        def do_GET(self):
            if self._allowed():
                self.send_body(200 if self.path == "/health" else 404, b"ok", "text/plain")

        def do_POST(self):
            if not self._allowed():
                return
            if self.path != "/call":
                self.send_json(404, {"error": "POST /call"}, close=True)
                return
            try:
                body = self.read_body()
            except HttpError as exc:
                self.send_json(exc.status, {"error": str(exc)}, close=True)
                return
            with gate:
                try:
                    data = worker.call(_split(self.headers.get("X-Ports", ""), body))
                except studio.StudioUserError as exc:
                    self.send_json(422, {"error": str(exc)})
                    return
                except Exception as exc:  # noqa: BLE001 - our side: say what, keep serving
                    self.send_json(500, {"error": f"{type(exc).__name__}: {exc}"})
                    return
            self.send_body(200, data, "application/vnd.apache.arrow.stream")

    return guarded(Handler, _LIMITS)


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="amlocal-studio-worker")
    parser.add_argument("--socket", required=True)
    parser.add_argument("--dynamic", action="append", default=[], choices=PORTS)
    own, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    args = studio._parser().parse_args(rest)
    secret = os.environ.pop(SECRET_ENV, "")
    if len(secret) < 16:
        print(f"Error: {SECRET_ENV} must hold the service's worker secret", file=sys.stderr)
        return 2
    try:
        worker = Worker(args, own.dynamic)
    except studio.StudioUserError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - the user's import-time error
        studio._print_user_traceback(exc, str(Path(args.script)))
        return 1
    limit = max(1, int(os.environ.get("AMLOCAL_SERVICE_CONCURRENCY", "4")))
    if os.path.exists(own.socket):
        os.unlink(own.socket)
    mask = os.umask(0o177)                 # the socket is born 0600: the worker's own user only
    try:
        server = _Server(own.socket + ".tmp", _handler(worker, threading.BoundedSemaphore(limit),
                                                       secret))
    finally:
        os.umask(mask)
    os.chmod(own.socket + ".tmp", 0o600)
    os.replace(own.socket + ".tmp", own.socket)  # appears only when ready
    print(f"amlocal worker ready on {own.socket}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
