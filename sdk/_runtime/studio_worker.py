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
  Arrow IPC streams (a size written ``json:<n>``: typed JSON columns, see
  :mod:`amlocal._engine.worker_wire`), concatenated in that order: calls ``azureml_main`` with the
  request's frames on the dynamic ports and the static frames on the others, and answers 200 with
  the translated result frame as an Arrow IPC stream (with ``X-Answer: table``: as the answer's
  JSON table, refused like Arrow would refuse it), or 422 with ``{"error": message}`` when the script fails or
  returns something that is not ``(DataFrame, ...)`` (the user's message; the traceback from the
  user's frame on goes to the container's log).

The host front calls the same way over the lean framing of :mod:`amlocal._engine.worker_wire`
(a connection opened with ``AMLW1 <secret>``, checked before any call is read; then ``CALL`` frames
with the same ports, body and answers), which spares both sides HTTP's header parsing.

Calls are served by ``AMLOCAL_SERVICE_PROCESSES`` processes (default: one per CPU the container
may use, at most the concurrency), forked once the module is imported and the static inputs read,
so that calls run side by side rather than one at a time under one interpreter lock; like the
replicas of a real-time endpoint, each process has its own module state. In each, calls are
handled in threads, at most ``AMLOCAL_SERVICE_CONCURRENCY`` (default 4) at once (the host front
also lets at most that many requests in at once).
Images a script saves are left in the working directory (the python device is a batch output).
Only the standard library is imported at module level.
"""
from __future__ import annotations

import argparse
import hmac
import json
import os
import socketserver
import sys
import threading
from pathlib import Path

from . import studio
from .._engine.http_guard import GuardedHandler, HttpError, Limits, guarded
from .._engine.worker_wire import (ANSWER_HEADER, JSON_PORT, MAGIC, SECRET_ENV, SECRET_HEADER,
                                   check_table, columns_to_frame, frame_to_ipc, frame_to_table,
                                   ipc_to_frame, read_call, reply_frame, table_to_json)

PORTS = ("dataframe1", "dataframe2")
PROCESSES_ENV = "AMLOCAL_SERVICE_PROCESSES"
# the host front is the only client: frames between served steps may be large, and slow
_LIMITS = Limits(max_body=1 << 40, read_timeout=600.0)


class Worker:
    """The imported module, the static frames and the call."""

    ports = PORTS        # the ports a call may bring frames for

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
        self._deep = not _copy_on_write()
        self.indexes: dict = {}     # column indexes of request frames, by their names

    def call(self, frames: dict, answer: str = "arrow") -> bytes:
        """The result of ``azureml_main`` as Arrow IPC bytes (``answer="table"``: as the
        answer's JSON table). Raises StudioUserError with the user's message when the script
        fails or returns something else than ``(df, ...)``."""
        inputs = [_prepared(frames[p]) if p in frames else self.static.get(p) for p in PORTS]
        # each call gets its own static frames; under copy-on-write (pandas 3) a shallow copy is
        # one: whatever the script changes in it is copied first, the worker's frame stays
        inputs = [f.copy(deep=self._deep) if f is not None and p not in frames else f
                  for p, f in zip(PORTS, inputs)]
        try:
            result = studio.call_azureml_main(self.module.azureml_main, *inputs)
        except studio.StudioUserError:
            raise
        except Exception as exc:  # noqa: BLE001 - the user's error: log it, answer its message
            studio._print_user_traceback(exc, self.script)
            sys.stderr.flush()
            raise studio.StudioUserError(f"{type(exc).__name__}: {exc}") from None
        frame = _translated(studio.check_result(result))
        try:
            if answer == "table":
                check_table(frame)          # what Arrow (and a batch run) would refuse
                return table_to_json(frame_to_table(frame))
            return frame_to_ipc(frame)
        except Exception as exc:
            raise studio.StudioUserError(
                f"the returned DataFrame cannot be converted to a table ({type(exc).__name__}: "
                f"{exc}); give each column one type") from exc


def _copy_on_write() -> bool:
    import pandas as pd
    return int(pd.__version__.split(".")[0]) >= 3 or bool(
        getattr(pd.options.mode, "copy_on_write", False) is True)


def _prepared(frame):
    """``studio.prepare_input``, skipped for a frame that already has the 0..n-1 RangeIndex it
    would give (every frame a request brings)."""
    import pandas as pd
    index = frame.index
    if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
        return frame
    return studio.prepare_input(frame)


def _translated(frame):
    """``studio.translate_output``, skipped for a frame it would leave as it is (the 0..n-1
    RangeIndex and unique string column names): what most scripts return."""
    import pandas as pd
    index, names = frame.index, list(frame.columns)
    if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1 \
            and all(type(n) is str for n in names) and len(set(names)) == len(names):
        return frame
    return studio.translate_output(frame)


def _split(header: str, body: bytes, indexes: dict | None = None, ports=PORTS) -> dict:
    frames, offset = {}, 0
    for part in filter(None, (header or "").split(",")):
        port, _, size = part.partition("=")
        typed = size.startswith(JSON_PORT)
        size = size[len(JSON_PORT):] if typed else size
        if port not in ports or not size.isdigit():
            raise ValueError(f"bad X-Ports entry {part!r}")
        data = body[offset:offset + int(size)]
        frames[port] = columns_to_frame(data, indexes) if typed else ipc_to_frame(data)
        offset += int(size)
    return frames


def _run(worker: Worker, gate: threading.BoundedSemaphore, ports: str, answer: str,
         body: bytes) -> tuple[int, bytes]:
    """One call: ``(200, result)``, ``(422, user's error)`` or ``(500, our error)``."""
    with gate:
        try:
            return 200, worker.call(_split(ports, body, worker.indexes, worker.ports), answer)
        except studio.StudioUserError as exc:
            return 422, _error(str(exc))
        except Exception as exc:  # noqa: BLE001 - our side: say what, keep serving
            return 500, _error(f"{type(exc).__name__}: {exc}")


def _error(message: str) -> bytes:
    return json.dumps({"error": message}).encode("utf-8")


def _handler(worker: Worker, gate: threading.BoundedSemaphore, secret: str):
    expected = secret.encode("utf-8")
    refused = _error(f"this worker answers its service only (no or wrong {SECRET_HEADER})")

    class Handler(GuardedHandler):
        def handle(self):
            """A lean connection (see :mod:`amlocal._engine.worker_wire`) or HTTP."""
            try:
                lean = self.rfile.peek(len(MAGIC))[:len(MAGIC)] == MAGIC
            except OSError:                          # nothing sent within the read timeout
                return
            if lean:
                self._lean()
            else:
                super().handle()

        def _lean(self):
            line = self.rfile.readline(len(MAGIC) + 1024)
            if not hmac.compare_digest(line[len(MAGIC):].rstrip(b"\n"), expected):
                self.wfile.write(reply_frame(403, refused))   # before reading any call
                return
            while True:
                try:
                    call = read_call(self.rfile)
                except (OSError, ValueError):        # idle past the read timeout, or garbage
                    return
                if call is None:
                    return
                self.wfile.write(reply_frame(*_run(worker, gate, *call)))

        def _allowed(self) -> bool:
            given = (self.headers.get(SECRET_HEADER) or "").encode("utf-8", "replace")
            if hmac.compare_digest(given, expected):
                return True
            self.send_body(403, refused, close=True)
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
            table = self.headers.get(ANSWER_HEADER) == "table"
            status, data = _run(worker, gate, self.headers.get("X-Ports", ""),
                                "table" if table else "arrow", body)
            self.send_body(status, data, "application/json" if table or status != 200
                           else "application/vnd.apache.arrow.stream")

    return guarded(Handler, _LIMITS)


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def worker_main(prog: str, ports, module_parser, build, argv: list[str] | None = None) -> int:
    """The command line of a warm worker: ``--socket PATH``, ``--dynamic PORT`` (of ``ports``)
    and the module's own arguments (``module_parser()``), the worker secret from the
    environment (removed from it), then ``build(args, dynamic)`` -- a worker to :func:`serve`,
    or an exit status when it could not be made (it has said why)."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--socket", required=True)
    parser.add_argument("--dynamic", action="append", default=[], choices=ports)
    own, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    args = module_parser().parse_args(rest)
    secret = os.environ.pop(SECRET_ENV, "")
    if len(secret) < 16:
        print(f"Error: {SECRET_ENV} must hold the service's worker secret", file=sys.stderr)
        return 2
    worker = build(args, own.dynamic)
    return worker if isinstance(worker, int) else serve(worker, own.socket, secret)


def _build(args, dynamic):
    try:
        return Worker(args, dynamic)
    except studio.StudioUserError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - the user's import-time error
        studio._print_user_traceback(exc, str(Path(args.script)))
        return 1


def main(argv: list[str] | None = None) -> int:
    return worker_main("amlocal-studio-worker", PORTS, studio._parser, _build, argv)


def serve(worker, socket_path: str, secret: str) -> int:
    """Serve ``worker`` (anything with ``ports``, ``indexes`` and ``call(frames, answer)``, e.g.
    :class:`Worker`) on the Unix socket ``socket_path`` until the container stops."""
    limit = max(1, int(os.environ.get("AMLOCAL_SERVICE_CONCURRENCY", "4")))
    if os.path.exists(socket_path):
        os.unlink(socket_path)
    mask = os.umask(0o177)                 # the socket is born 0600: the worker's own user only
    try:
        server = _Server(socket_path + ".tmp",
                         _handler(worker, threading.BoundedSemaphore(limit), secret))
    finally:
        os.umask(mask)
    os.chmod(socket_path + ".tmp", 0o600)
    processes = _processes(limit)
    sys.stdout.flush()
    sys.stderr.flush()
    for _ in range(processes - 1):         # forked warm: the module is imported once
        if os.fork() == 0:
            try:
                server.serve_forever()
            finally:
                os._exit(0)
    os.replace(socket_path + ".tmp", socket_path)  # appears only when ready
    print(f"amlocal worker ready on {socket_path} ({processes} "
          f"process{'es' if processes > 1 else ''})", flush=True)
    server.serve_forever()
    return 0


def _processes(limit: int) -> int:
    """How many processes serve calls: ``AMLOCAL_SERVICE_PROCESSES``, else one per CPU this
    container may use; never more than the concurrency ``limit``."""
    text = os.environ.get(PROCESSES_ENV, "").strip()
    if text.isdigit() and int(text) > 0:
        return min(int(text), limit)
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, limit))


if __name__ == "__main__":
    sys.exit(main())
