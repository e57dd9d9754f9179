"""Content-addressed snapshots of a step's source directory.

The files not ignored by ``.amlignore`` (or, when there is none, ``.gitignore``) are hashed by
relative path and bytes; the digest names a read-only copy under ``AMLOCAL_HOME/snapshots``. The
same source gives the same digest, so publishing twice stores one copy, and editing a script
after publishing cannot change what a published pipeline runs.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from ..._files import write_once

from ...errors import UserErrorException

MAX_SNAPSHOT_BYTES = 300 * 1024 * 1024  # Azure's snapshot limit
ALWAYS_IGNORED = (".git/", "__pycache__/", ".azureml/", ".ipynb_checkpoints/", "*.pyc")


def _ignore_spec(root: Path):
    import pathspec
    lines = list(ALWAYS_IGNORED)
    for name in (".amlignore", ".gitignore"):
        f = root / name
        if f.is_file():
            lines += f.read_text().splitlines()
            break
    return pathspec.PathSpec.from_lines("gitignore", lines)


def list_files(root: Path) -> list[str]:
    """Relative POSIX paths of the files a snapshot of ``root`` contains, sorted."""
    spec = _ignore_spec(root)
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = sorted(d for d in dirnames if not spec.match_file(rel_dir + d + "/"))
        files += [rel_dir + f for f in filenames if not spec.match_file(rel_dir + f)]
    return sorted(files)


def digest_of(root: Path, files: list[str]) -> str:
    h = hashlib.sha256()
    total = 0
    for rel in files:
        data = (root / rel).read_bytes()
        total += len(data)
        if total > MAX_SNAPSHOT_BYTES:
            raise UserErrorException(
                f"the source directory {root} holds more than {MAX_SNAPSHOT_BYTES // 2**20} MB; "
                "list data and large files in a .amlignore file there (same syntax as .gitignore) "
                "and read data through a datastore instead")
        h.update(rel.encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()


def take_snapshot(root: Path, snapshots_dir: Path) -> str:
    """Store a snapshot of ``root`` (once per content) and return its digest."""
    root = Path(root)
    files = list_files(root)
    digest = digest_of(root, files)

    def fill(staging: Path) -> None:
        for rel in files:
            dest = staging / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / rel, dest)

    write_once(snapshots_dir / digest, fill)
    return digest


def materialise(digest: str, snapshots_dir: Path, destination: Path) -> None:
    """Copy a stored snapshot into a step's fresh working directory."""
    source = snapshots_dir / digest
    if not source.is_dir():
        raise UserErrorException(f"snapshot {digest[:12]} is missing from {snapshots_dir}; "
                                 "publish the pipeline again")
    shutil.copytree(source, destination, dirs_exist_ok=True)
