"""The amlocal package tree that is mounted (read-only) into every step as its runtime."""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from .._files import write_once


def _package_roots() -> dict[str, Path]:
    """Where each top-level piece of the ``amlocal`` package lives on this host. In a wheel they
    are nested already; in an editable checkout they are the sdk/, compute/ and datastores/
    folders."""
    import amlocal
    import amlocal.compute
    import amlocal.datastores
    return {"": Path(amlocal.__file__).parent,
            "compute": Path(amlocal.compute.__file__).parent,
            "datastores": Path(amlocal.datastores.__file__).parent}


def _files(roots: dict[str, Path]) -> list[tuple[str, Path]]:
    found = []
    for prefix, root in roots.items():
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith(".")
                                 and not (prefix == "" and Path(dirpath) == root
                                          and root / d in roots.values()))
            for name in sorted(filenames):
                if name.endswith((".pyc", ".pyo")) or name.startswith("."):
                    continue   # compiled files, and dotfiles (an editor's or a writer's temp file)
                path = Path(dirpath) / name
                rel = path.relative_to(root).as_posix()
                found.append((f"{prefix}/{rel}" if prefix else rel, path))
    return sorted(found)


def package_tree(cache: Path) -> Path:
    """The ``amlocal`` package laid out as a wheel installs it, under ``cache/<digest>/amlocal``
    (built once per content); returns that ``amlocal`` folder."""
    files = _files(_package_roots())
    digest = hashlib.sha256()
    for rel, path in files:
        digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    def fill(staging: Path) -> None:
        for rel, path in files:
            dest = staging / "amlocal" / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)

    target = write_once(cache / digest.hexdigest()[:24], fill)
    return target / "amlocal"
