"""``FileDataset.mount()`` on this machine: a folder showing the dataset's files, without FUSE.

Azure mounts a FileDataset with FUSE. Here the mount point is a plain folder holding, at each
file's portable path (what ``to_path()`` shows), a symbolic link to:

- the file itself, for local (``file://``) sources: nothing is copied;
- the file's object in the content-addressed dataset cache (:mod:`.cache`) for remote sources
  (Azure Blob, S3 ...): each remote object version is fetched once and shared with every later
  mount and step (files whose store gives no etag or modification time are copied into the
  mount point instead).

``stop()`` removes the links and the folders it created (the mount point itself when it made it);
the files they pointed to are untouched. Deliberate differences from Azure: the files are not
read-only (a link to a local datastore's file writes to that file: treat the mount as read-only,
as on Azure), and files added to the datastore after ``start()`` do not appear.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from amlocal.errors import UserErrorException

from .fs import is_local
from .resolve import Resolution


class MountContext:
    """Azure's ``MountContext``: ``start()`` / ``stop()``, ``mount_point``, and ``with
    dataset.mount() as context:`` (entering starts it, leaving stops it)."""

    def __init__(self, resolve, mount_point: str | None = None, cache_dir: Path | None = None):
        self._resolve = resolve          # () -> Resolution, called at start()
        self._requested = mount_point
        self._mount_point = str(Path(mount_point).expanduser().absolute()) if mount_point else \
            tempfile.mkdtemp(prefix="amlocal-mount-")
        self._made_root = mount_point is None
        self._cache_dir = cache_dir
        self._created: list[Path] = []   # links, files and folders start() made, in order
        self._started = False
        self._staging: Path | None = None   # copies of uncacheable remote files, while starting

    @property
    def mount_point(self) -> str:
        """The folder showing the files."""
        return self._mount_point

    def start(self) -> None:
        """Fill the mount point. Raises UserErrorException when it is not an empty folder or a
        source matches no file (the error names it)."""
        if self._started:
            return
        root = Path(self._mount_point)
        if root.exists() and not root.is_dir():
            raise UserErrorException(f"mount point {self._mount_point} is a file; give a folder")
        if root.is_dir() and any(root.iterdir()):
            raise UserErrorException(
                "Dataset mount point must be empty, mounting dataset to non-empty folder is not "
                f"supported: {self._mount_point}")
        res: Resolution = self._resolve()
        res.require_files("Check the path and that the data was uploaded")
        if not root.is_dir():
            root.mkdir(parents=True)
            self._made_root = True
        targets = self._targets(res)
        try:
            for match, target, link in targets:
                dest = root / match.portable.lstrip("/")
                self._make_parents(dest.parent, root)
                if link:
                    os.symlink(target, dest)
                else:
                    shutil.copyfile(target, dest)
                self._created.append(dest)
        except OSError as exc:
            self.stop()
            raise UserErrorException(f"cannot fill the mount point {self._mount_point}: {exc}") from exc
        finally:
            if self._staging is not None:
                shutil.rmtree(self._staging, ignore_errors=True)
                self._staging = None
        self._started = True

    def stop(self) -> None:
        """Remove what ``start()`` made; the dataset's files are untouched."""
        for path in reversed(self._created):
            try:
                if path.is_symlink() or path.is_file():
                    path.unlink()
                elif path.is_dir():
                    path.rmdir()
            except OSError:
                pass   # a folder the user put a file into stays, with that file
        self._created = []
        if self._made_root:
            try:
                Path(self._mount_point).rmdir()
            except OSError:
                pass
        self._started = False

    def __enter__(self) -> "MountContext":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _make_parents(self, folder: Path, root: Path) -> None:
        missing = []
        while folder != root and not folder.exists():
            missing.append(folder)
            folder = folder.parent
        for path in reversed(missing):
            path.mkdir()
            self._created.append(path)

    def _targets(self, res: Resolution) -> list:
        """``(match, what to link or copy, link?)`` for each file."""
        from .cache import cacheable, cached_tree
        if all(is_local(s.fs) for s in res.sources):
            return [(m, m.path, True) for m in res.matches]
        local = [m for m in res.matches if is_local(res.sources[m.source].fs)]
        remote = Resolution(res.sources, [m for m in res.matches if m not in local])
        if not cacheable(remote):
            staging = Path(tempfile.mkdtemp(prefix="amlocal-mount-copy-"))
            from .transfer import copy_matches
            copied = copy_matches(remote, staging, overwrite=True)
            self._staging = staging
            result = [(m, str(p), False) for m, p in zip(remote.matches, copied)]
        else:
            tree = cached_tree(remote, self._cache_dir).path
            result = [(m, str(tree / m.portable.lstrip("/")), True) for m in remote.matches]
        result += [(m, m.path, True) for m in local]
        return sorted(result, key=lambda item: item[0].portable)
