"""Folders written once: content-addressed copies (snapshots, the step runtime, generated
sources, web-service examples) are filled in a staging folder beside their target and renamed
into place, so a reader never sees half a folder and two writers racing for the same content
both end up with one complete copy. Standard library only."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable


def write_once(target: Path, fill: Callable[[Path], None]) -> Path:
    """Create ``target`` by ``fill(staging_folder)`` unless it exists; return ``target``."""
    target = Path(target)
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".staging-"))
    try:
        fill(staging)
        try:
            os.replace(staging, target)
        except OSError:
            if not target.is_dir():  # not a lost race with an identical copy
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
