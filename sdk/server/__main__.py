"""``python -m amlocal.server [--host 127.0.0.1] [--port 8765]``: the studio server of the home
in ``AMLOCAL_HOME`` (started in the background by ``amlocal._engine.studio``, or in the
foreground by ``amlocal studio``)."""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from .._engine import studio
    host, port = studio.wanted_address()
    parser = argparse.ArgumentParser(prog="python -m amlocal.server")
    parser.add_argument("--host", default=host)
    parser.add_argument("--port", type=int, default=port)
    args = parser.parse_args(argv)
    from .app import serve
    return serve(args.host, args.port)


if __name__ == "__main__":
    sys.exit(main())
