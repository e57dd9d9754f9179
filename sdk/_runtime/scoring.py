"""The scoring server inside a deployed model's container (``Model.deploy`` to a
LocalWebservice): ``python -m amlocal._runtime.scoring ENTRY_SCRIPT [PORT]``.

It imports the entry script once, calls its ``init()`` once, then serves ``POST /score`` by
calling ``run(raw_data)`` with the request body as text (Azure's contract) and answering with its
result as JSON; ``GET /`` answers "Healthy". A failing ``run`` answers 500 with the error message.
Standard library only.
"""
from __future__ import annotations

import http.server
import json
import os
import runpy
import sys
import traceback

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


def serve(module: dict, port: int) -> None:
    score = module["run"]

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # noqa: A002 - the base class's name
            print("scoring:", format % args, flush=True)

        def _answer(self, status: int, payload) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self._answer(200, "Healthy")

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8")
            if self.path.rstrip("/") != "/score":
                self._answer(404, {"error": f"no endpoint {self.path}; POST /score"})
                return
            try:
                result = score(raw)
            except Exception as exc:  # noqa: BLE001 - the user's error, reported to the client
                traceback.print_exc()
                self._answer(500, {"error": f"{type(exc).__name__}: {exc}"})
                return
            self._answer(200, result)

    server = http.server.ThreadingHTTPServer(("0.0.0.0", port), Handler)
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
