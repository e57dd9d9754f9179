"""Telling whether a recorded pid is still the amlocal process it was (not a reused pid)."""
from __future__ import annotations

import os
from pathlib import Path


def runs_module(pid: int, module: str) -> bool:
    """Whether ``pid`` is alive and runs ``python -m <module>`` (exactly that module). Where
    /proc cannot be read, a live pid is taken as it."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False
    return any(a == b"-m" and b == module.encode() for a, b in zip(argv, argv[1:]))
