"""Content-addressed snapshots of a step's source directory.

The files not ignored by ``.amlignore`` (or, when there is none, ``.gitignore``) are hashed by
relative path and bytes; the digest names a read-only copy under ``AMLOCAL_HOME/snapshots``. The
same source gives the same digest, so publishing twice stores one copy, and editing a script
after publishing cannot change what a published pipeline runs.

amlocal's own state is never part of a snapshot: the current ``AMLOCAL_HOME`` and any folder
holding an amlocal database (``amlocal.db``) are skipped, so a home inside the source directory
(being written while the snapshot is taken) cannot break ``submit``/``publish``. Files that
vanish while the folder is walked are left out; the stored copy is what the digest names.

Azure's limits apply (300 MB, 2000 files), checked on ``stat`` before any file is read. File
names are kept byte for byte (a name that is not UTF-8, or holds a newline, is hashed by its
bytes). Stored files are read-only, and a stored snapshot is verified against its digest each
time it is used (submit, and each step before its container starts): a snapshot modified under
``AMLOCAL_HOME`` fails the run with an error saying so.

Shared snapshots: with a remote ``AMLOCAL_ARTIFACTS_URL`` (:func:`shared_files`), every snapshot
taken is also uploaded there (:meth:`FsspecFiles.put_snapshot`, complete once its manifest is
written), and ``AMLOCAL_HOME/snapshots`` is this machine's cache: a snapshot missing from it (taken
on another machine) is downloaded into it, and verified against its digest there, before use. A
cached copy that no longer gives its digest is fetched again; a shared copy that does not fails
the run. (A ``file://`` URL needs none of this: the snapshot folder itself is shared.)
"""
from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
import warnings
from pathlib import Path

from .._files import write_once
from ..errors import UserErrorException

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
    from .. import _settings
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


def check_limits(root: Path, files: list[str]) -> list[str]:
    """Azure's snapshot limits, checked on ``stat`` before any file is read: 300 MB in all (a
    single bigger file is named) and 2000 files (``AML_SNAPSHOT_NO_FILE_LIMIT`` lifts that one,
    as on Azure). Returns the files to read: regular files only (a pipe or socket in the folder
    is left out with a warning; files gone meanwhile are left out)."""
    from .._status import MAX_SNAPSHOT_FILES
    regular, sizes, total = [], [], 0
    for rel in files:
        try:
            st = os.stat(root / rel)
        except (FileNotFoundError, NotADirectoryError):
            continue  # removed while we walked: not in the snapshot
        if not stat.S_ISREG(st.st_mode):
            if not stat.S_ISDIR(st.st_mode):
                warnings.warn(f"snapshot of {root}: {rel!r} is not a regular file (a pipe, socket "
                              "or device); it is left out of the snapshot", stacklevel=3)
            continue
        regular.append(rel)
        sizes.append((st.st_size, rel))
        total += st.st_size
    if total > MAX_SNAPSHOT_BYTES:
        largest = ", ".join(f"{rel!r} ({size / 2**20:.0f} MB)"
                            for size, rel in sorted(sizes, reverse=True)[:3])
        raise UserErrorException(
            f"the source directory {root} holds {total / 2**20:.0f} MB, more than the snapshot "
            f"limit of {MAX_SNAPSHOT_BYTES // 2**20} MB (largest: {largest}); list data and "
            "large files in a .amlignore file there (same syntax as .gitignore) and read data "
            "through a datastore instead")
    if len(regular) > MAX_SNAPSHOT_FILES and not os.environ.get("AML_SNAPSHOT_NO_FILE_LIMIT"):
        raise UserErrorException(
            f"the source directory {root} holds {len(regular)} files, more than the snapshot "
            f"limit of {MAX_SNAPSHOT_FILES}; list the ones the steps do not need in a .amlignore "
            "file there (same syntax as .gitignore), or set AML_SNAPSHOT_NO_FILE_LIMIT=1")
    return regular


def _file_digests(root: Path, files: list[str], limits: bool = True) -> dict[str, bytes]:
    """{relative path: sha256 of its bytes} for the files still there when read. With
    ``limits`` the snapshot limits are checked first (on stat, nothing read)."""
    if limits:
        files = check_limits(root, files)
    found: dict[str, bytes] = {}
    total = 0
    for rel in files:
        h = hashlib.sha256()
        try:
            with open(root / rel, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    total += len(block)
                    if limits and total > MAX_SNAPSHOT_BYTES:  # a file grew while we read it
                        raise UserErrorException(
                            f"the source directory {root} holds more than "
                            f"{MAX_SNAPSHOT_BYTES // 2**20} MB (files grew while it was read); "
                            "list data and large files in a .amlignore file there")
                    h.update(block)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            continue  # removed (or replaced by a folder) while we walked: not in the snapshot
        found[rel] = h.digest()
    return found


def _combine(digests: dict[str, bytes]) -> str:
    """One digest of {relative path: file digest}; a name that is not UTF-8 counts by its bytes."""
    h = hashlib.sha256()
    for rel in sorted(digests):
        h.update(os.fsencode(rel) + b"\0" + digests[rel])
    return h.hexdigest()


def digest_of(root: Path, files: list[str]) -> str:
    """The snapshot digest of ``files`` under ``root`` (files gone meanwhile are left out)."""
    return _combine(_file_digests(Path(root), files))


def shared_files(settings=None):
    """The shared files layer holding snapshots when ``AMLOCAL_ARTIFACTS_URL`` is a remote URL
    (:class:`~amlocal.store.files_fsspec.FsspecFiles`); None when snapshots are local."""
    from .. import _settings
    settings = settings or _settings.current()
    if not settings.artifacts_remote:
        return None
    from ..store.files_open import open_files
    return open_files(settings)


def take_snapshot(root: Path, snapshots_dir: Path, files: list[str] | None = None, *,
                  shared=None) -> str:
    """Store a snapshot of ``root`` (once per content) and return its digest. ``files`` (relative
    paths) limits it to those files; by default every file :func:`list_files` finds.

    The files are hashed first; a snapshot already stored under that digest is not copied again
    (unless it was modified since: then it is stored afresh).
    Otherwise they are copied into a private folder and the digest is taken again from the
    copies, so a file written or removed meanwhile cannot make the stored copy differ from its
    name. With ``shared`` (:func:`shared_files`) the stored snapshot is uploaded there too."""
    digest = _take(Path(root), snapshots_dir, files)
    if shared is not None:
        folder = Path(snapshots_dir) / digest
        shared.put_snapshot(digest, folder, stored_files(folder))
    return digest


def _take(root: Path, snapshots_dir: Path, files: list[str] | None) -> str:
    files = check_limits(root, list_files(root) if files is None else sorted(files))
    digest = _combine(_file_digests(root, files))
    stored = Path(snapshots_dir) / digest
    if stored.is_dir():
        try:
            verify(digest, snapshots_dir)
            return digest
        except UserErrorException:  # modified under the home: store the true content again
            aside = Path(tempfile.mkdtemp(dir=snapshots_dir, prefix=".modified-"))
            try:
                os.replace(stored, aside / digest)
            except OSError:
                pass  # another process replaced it meanwhile
            shutil.rmtree(aside, ignore_errors=True)
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
            os.chmod(dest, stat.S_IMODE(os.stat(dest).st_mode) & ~0o222)  # stored read-only
            copied.append(rel)
        digest = _combine(_file_digests(private, copied, limits=False))

        def fill(staging: Path) -> None:
            for entry in os.listdir(private):
                os.replace(private / entry, staging / entry)

        write_once(Path(snapshots_dir) / digest, fill)
    finally:
        shutil.rmtree(private, ignore_errors=True)
    return digest


def stored_files(folder: Path) -> list[str]:
    """Every file of a stored snapshot folder (relative POSIX paths; nothing is ignored)."""
    files = []
    for dirpath, _dirnames, filenames in os.walk(folder):
        rel_dir = Path(dirpath).relative_to(folder).as_posix()
        files += [f if rel_dir == "." else f"{rel_dir}/{f}" for f in filenames]
    return sorted(files)


def _fetch(digest: str, snapshots_dir: Path, shared) -> None:
    """Download shared snapshot ``digest`` into the local cache (written once, read-only)."""
    def fill(staging: Path) -> None:
        for rel in shared.get_snapshot(digest, staging):
            path = staging / rel
            os.chmod(path, stat.S_IMODE(os.stat(path).st_mode) & ~0o222)

    write_once(Path(snapshots_dir) / digest, fill)


def _discard(folder: Path) -> None:
    """Move a cached snapshot aside and remove it (another process may do the same)."""
    aside = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".modified-"))
    try:
        os.replace(folder, aside / folder.name)
    except OSError:
        pass
    for dirpath, _dirnames, _filenames in os.walk(aside):   # read-only folders: writable
        os.chmod(dirpath, 0o700)
    shutil.rmtree(aside, ignore_errors=True)


def verify(digest: str, snapshots_dir: Path, *, shared=None) -> Path:
    """The stored snapshot ``digest``, after checking that its files still give that digest.
    Raises UserErrorException when it is missing or was modified under ``AMLOCAL_HOME``.
    With ``shared`` (:func:`shared_files`) a snapshot missing here, or whose copy here was
    modified, is downloaded from the shared location first; one only here is uploaded there."""
    source = Path(snapshots_dir) / digest
    fetched = False
    if shared is not None and not source.is_dir():
        _fetch(digest, snapshots_dir, shared)
        fetched = True
    if not source.is_dir():
        raise UserErrorException(f"snapshot {digest[:12]} is missing from {snapshots_dir}; "
                                 "publish the pipeline again")
    found = _combine(_file_digests(source, stored_files(source), limits=False))
    if found != digest and shared is not None and not fetched:
        _discard(source)             # this machine's cached copy was modified: fetch it again
        return verify(digest, snapshots_dir, shared=shared)
    if found != digest:
        where = "the shared location (AMLOCAL_ARTIFACTS_URL)" if shared is not None else \
            "AMLOCAL_HOME/snapshots"
        raise UserErrorException(
            f"snapshot {digest} under {where} was modified after it was stored "
            f"(its files now give the digest {found}): the run would not execute the code that "
            "was submitted or published. Submit or publish the pipeline again from its source "
            "folder (a new snapshot is stored), and do not edit files under AMLOCAL_HOME")
    if shared is not None and not fetched:
        # taken here before the shared location was set: other machines need it there too
        shared.put_snapshot(digest, source, stored_files(source))
    return source


def _writable_copy(src: str, dst: str) -> str:
    """Copy one file of a snapshot into a step's folder, writable by its owner there."""
    shutil.copy2(src, dst)
    os.chmod(dst, stat.S_IMODE(os.stat(dst).st_mode) | 0o200)
    return dst


def materialise(digest: str, snapshots_dir: Path, destination: Path, *, shared=None) -> None:
    """Copy a stored snapshot into a step's fresh working directory, after verifying it (a
    snapshot modified since it was stored fails here, before any container starts). With
    ``shared`` a snapshot taken on another machine is fetched from there first."""
    source = verify(digest, snapshots_dir, shared=shared)
    shutil.copytree(source, destination, dirs_exist_ok=True, copy_function=_writable_copy)
