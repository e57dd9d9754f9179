"""The scoring server inside a deployed model's container (``Model.deploy`` to a
LocalWebservice): ``python -m amlocal._runtime.scoring ENTRY_SCRIPT [PORT]``.

It imports the entry script once, calls its ``init()`` once, then serves ``POST /score`` by
calling ``run(raw_data)`` with the request body as text (Azure's contract) and answering with its
result as JSON; ``GET /`` answers "Healthy". A failing ``run`` (or a result that is not JSON)
answers 500 with the error message. Like Azure's LocalWebservice it has no key.

Before ``run`` sees a body, the limits of :mod:`amlocal._engine.http_guard` apply (the values
of ``AMLOCAL_SERVICE_MAX_BODY`` / ``AMLOCAL_SERVICE_READ_TIMEOUT`` at deploy, given to the
container): 411 without a Content-Length, 400 for a bad one, 413 over the limit (answered before
the body is read; another path answers 404 the same way), 408 for a body not sent in time, 400 for
a body that is not UTF-8. A body sent as JSON (``Content-Type: application/json``, or a body
starting with ``{`` or ``[``) must parse, be nested at most 64 levels and hold no integer of more
than 4300 digits, else 400 naming the problem; ``NaN``/``Infinity`` pass (Python's ``json``
writes them and ``run`` parses the text itself). Other text reaches ``run`` as it is.
Standard library only.
"""
from __future__ import annotations

import http.server
import json
import os
import runpy
import sys
import traceback

from amlocal._engine.http_guard import GuardedHandler, HttpError, Limits, guarded, parse_json

DEFAULT_PORT = 5001


def load(entry_script: str) -> dict:
    from amlocal import compat
    compat.install()
    sys.path.insert(0, os.path.dirname(os.path.abspath(entry_script)))
    module = runpy.run_path(entry_script, run_name="amlocal_score")
    for name in ("init", "run"):
        if not callable(module.get(name)):
            raise SystemExit(f"{entry_script} must define {name}(); Azure's entry scripts define "
                             "init() (load the model) and run(raw_data) (score one request)")
    return module


def _is_json(content_type: str, text: str) -> bool:
    kind = content_type.split(";")[0].strip().lower()
    return kind == "application/json" or kind.endswith("+json") or text.lstrip()[:1] in ("{", "[")


def serve(module: dict, port: int, limits: Limits | None = None) -> None:
    score = module["run"]

    class Handler(GuardedHandler):
        # no line per request (GuardedHandler logs nothing): a failing run() prints its
        # traceback, and the server says once that it listens
        wbufsize = -1                   # one write per answer (flushed after each request) ...
        disable_nagle_algorithm = True  # ... sent at once: no 40 ms delayed-ACK stalls

        def do_GET(self):
            self.send_json(200, "Healthy")

        def do_POST(self):
            if self.path.split("?")[0].rstrip("/") != "/score":
                self.send_json(404, {"error": f"no endpoint {self.path[:200]}; POST /score"},
                               close=True)
                return
            try:
                raw = self.read_body()
            except HttpError as exc:
                self.send_json(exc.status, {"error": str(exc)}, close=True)
                return
            try:
                text = raw.decode("utf-8")
                if _is_json(self.headers.get("Content-Type") or "", text):
                    parse_json(raw, allow_constants=True)
            except UnicodeDecodeError as exc:
                self.send_json(400, {"error": f"the body is not UTF-8 text (byte {exc.start})"})
                return
            except HttpError as exc:
                self.send_json(exc.status, {"error": str(exc)})
                return
            try:
                answer = json.dumps(score(text)).encode("utf-8")
            except Exception as exc:  # noqa: BLE001 - the user's error, reported to the client
                traceback.print_exc()
                self.send_json(500, {"error": f"{type(exc).__name__}: {exc}"})
                return
            self.send_body(200, answer)

    server = http.server.ThreadingHTTPServer(("0.0.0.0", port),
                                             guarded(Handler, limits or Limits.from_env()))
    server.daemon_threads = True
    print(f"scoring: listening on port {port}", flush=True)
    server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print("usage: python -m amlocal._runtime.scoring ENTRY_SCRIPT [PORT]", file=sys.stderr)
        return 2
    module = load(argv[0])
    module["init"]()
    serve(module, int(argv[1]) if len(argv) > 1 else DEFAULT_PORT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
