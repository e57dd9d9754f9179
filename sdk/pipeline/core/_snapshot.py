"""Content-addressed snapshots of a step's source directory.

The files not ignored by ``.amlignore`` (or, when there is none, ``.gitignore``) are hashed by
relative path and bytes; the digest names a read-only copy under ``AMLOCAL_HOME/snapshots``. The
same source gives the same digest, so publishing twice stores one copy, and editing a script
after publishing cannot change what a published pipeline runs.

amlocal's own state is never part of a snapshot: the current ``AMLOCAL_HOME`` and any folder
holding an amlocal database (``amlocal.db``) are skipped, so a home inside the source directory
(being written while the snapshot is taken) cannot break ``submit``/``publish``. Files that
vanish while the folder is walked are left out; the stored copy is what the digest names.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from ..._files import write_once
from ...errors import UserErrorException

MAX_SNAPSHOT_BYTES = 300 * 1024 * 1024  # Azure's snapshot limit
ALWAYS_IGNORED = (".git/", "__pycache__/", ".azureml/", ".ipynb_checkpoints/", "*.pyc")
STATE_MARKER = "amlocal.db"  # a folder holding this file is an amlocal home: never snapshotted


def _ignore_spec(root: Path):
    import pathspec
    lines = list(ALWAYS_IGNORED)
    for name in (".amlignore", ".gitignore"):
        f = root / name
        if f.is_file():
            lines += f.read_text().splitlines()
            break
    return pathspec.PathSpec.from_lines("gitignore", lines)


def _state_folders() -> set[str]:
    """Real paths of amlocal's own state folders (the current home)."""
    from ... import _settings
    return {os.path.realpath(_settings.current().home)}


def _is_state_folder(path: str, state: set[str]) -> bool:
    return os.path.realpath(path) in state or os.path.isfile(os.path.join(path, STATE_MARKER))


def list_files(root: Path) -> list[str]:
    """Relative POSIX paths of the files a snapshot of ``root`` contains, sorted. amlocal state
    folders are skipped; a folder that vanishes during the walk is skipped."""
    root = Path(root)
    spec = _ignore_spec(root)
    state = _state_folders()
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = sorted(d for d in dirnames if not spec.match_file(rel_dir + d + "/")
                             and not _is_state_folder(os.path.join(dirpath, d), state))
        files += [rel_dir + f for f in filenames if not spec.match_file(rel_dir + f)]
    return sorted(files)


def _file_digests(root: Path, files: list[str]) -> dict[str, bytes]:
    """{relative path: sha256 of its bytes} for the files still there when read."""
    found: dict[str, bytes] = {}
    total = 0
    for rel in files:
        h = hashlib.sha256()
        try:
            with open(root / rel, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    total += len(block)
                    if total > MAX_SNAPSHOT_BYTES:
                        raise UserErrorException(
                            f"the source directory {root} holds more than "
                            f"{MAX_SNAPSHOT_BYTES // 2**20} MB; list data and large files in a "
                            ".amlignore file there (same syntax as .gitignore) and read data "
                            "through a datastore instead")
                    h.update(block)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            continue  # removed (or replaced by a folder) while we walked: not in the snapshot
        found[rel] = h.digest()
    return found


def _combine(digests: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for rel in sorted(digests):
        h.update(rel.encode() + b"\0" + digests[rel])
    return h.hexdigest()


def digest_of(root: Path, files: list[str]) -> str:
    """The snapshot digest of ``files`` under ``root`` (files gone meanwhile are left out)."""
    return _combine(_file_digests(Path(root), files))


def take_snapshot(root: Path, snapshots_dir: Path, files: list[str] | None = None) -> str:
    """Store a snapshot of ``root`` (once per content) and return its digest. ``files`` (relative
    paths) limits it to those files; by default every file :func:`list_files` finds.

    The files are hashed first; a snapshot already stored under that digest is not copied again.
    Otherwise they are copied into a private folder and the digest is taken again from the
    copies, so a file written or removed meanwhile cannot make the stored copy differ from its
    name."""
    root = Path(root)
    files = list_files(root) if files is None else sorted(files)
    digest = _combine(_file_digests(root, files))
    if (Path(snapshots_dir) / digest).is_dir():
        return digest
    Path(snapshots_dir).mkdir(parents=True, exist_ok=True)
    private = Path(tempfile.mkdtemp(dir=snapshots_dir, prefix=".copy-"))
    try:
        copied = []
        for rel in files:
            dest = private / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                shutil.copy2(root / rel, dest)
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                continue
            copied.append(rel)
        digest = _combine(_file_digests(private, copied))

        def fill(staging: Path) -> None:
            for entry in os.listdir(private):
                os.replace(private / entry, staging / entry)

        write_once(Path(snapshots_dir) / digest, fill)
    finally:
        shutil.rmtree(private, ignore_errors=True)
    return digest


def materialise(digest: str, snapshots_dir: Path, destination: Path) -> None:
    """Copy a stored snapshot into a step's fresh working directory."""
    source = snapshots_dir / digest
    if not source.is_dir():
        raise UserErrorException(f"snapshot {digest[:12]} is missing from {snapshots_dir}; "
                                 "publish the pipeline again")
    shutil.copytree(source, destination, dirs_exist_ok=True)
