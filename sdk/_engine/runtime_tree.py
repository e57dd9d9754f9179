"""The amlocal package tree that is mounted (read-only) into every step as its runtime."""
from __future__ import annotations

import hashlib
import os
import shutil
import sys
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


def code_fingerprint(files: list[tuple[str, Path]] | None = None) -> str:
    """A cheap fingerprint of the installed code: every file's name, size and modification
    time (no content read), with the interpreter. It changes whenever a file is edited."""
    digest = hashlib.sha256(f"{sys.executable}\0{sys.version}\0".encode())
    for rel, path in (_files(_package_roots()) if files is None else files):
        st = path.stat()
        digest.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    return digest.hexdigest()


def package_tree(cache: Path) -> Path:
    """The ``amlocal`` package laid out as a wheel installs it, under ``cache/<digest>/amlocal``
    (built once per content, with byte code compiled for this interpreter's Python so that a
    step image of the same Python version imports it without compiling); returns that
    ``amlocal`` folder.

    The content digest is found from the files' names, sizes and modification times
    (``cache/stat-<fingerprint>`` names it), so an unchanged installation is not read again."""
    files = _files(_package_roots())
    known = cache / f"stat-{code_fingerprint(files)[:24]}"
    try:
        name = known.read_text(encoding="ascii").strip()
        if name and (cache / name / "amlocal").is_dir():
            return cache / name / "amlocal"
    except OSError:
        pass
    digest = hashlib.sha256()
    for rel, path in files:
        digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")

    def fill(staging: Path) -> None:
        for rel, path in files:
            dest = staging / "amlocal" / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
        import compileall
        compileall.compile_dir(str(staging / "amlocal"), quiet=2, workers=1)

    name = digest.hexdigest()[:24]
    target = write_once(cache / name, fill)
    tmp = known.with_name(f".{known.name}.{os.getpid()}")
    tmp.write_text(name, encoding="ascii")
    os.replace(tmp, known)
    return target / "amlocal"
