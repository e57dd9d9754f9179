"""A Ray step's files: what travels from this host to the node the step lands on, and back.

The node may be another machine, so no mount is a host folder there:

* **Out** (:func:`ship`, on the driver): every mount's folder (and the working directory) is
  packed as a tar, through Ray's object store in parts of :data:`PART_BYTES` (``ray.put``), once
  per *content digest* in this process (:class:`PackCache`: a 200-step pipeline puts the runtime
  tree once). The content digest is the sha256 over every file's relative path, kind, mode and
  bytes; it is remembered per folder by the files' names, sizes and modification times, so an
  unchanged folder is not read again. Symbolic links are followed when they resolve (their
  content travels), a dangling link travels as the link it is.
* **On the node** (:func:`node_mounts`): a read-only mount is unpacked once per digest into the
  node's cache (``<node root>/cache/<digest>``, :func:`node_root`) and bind-mounted read-only
  from there; the working directory and the writable mounts are unpacked into a folder of their
  own for this step (``<node root>/steps/<node id>/<step folder>``), removed when the step ends.
  The run service's Unix socket folder (the mount whose target is
  :data:`~amlocal.compute.base.SERVICE_DIR`) never travels: it is bind-mounted as is when the
  node has that folder (a node on this machine) and left out otherwise (a node elsewhere reaches
  the run service over TCP).
* **Back** (:func:`returned_files`, on the node, after the container exited): every file, folder
  and link of the working directory and the writable mounts that is new or changed since the
  unpacking is streamed back as events of the step's stream, in chunks of at most
  :data:`CHUNK_BYTES`. A file the step deleted is not deleted on the host.
* **Checked** (:class:`Receiver`, on the driver): what comes back is untrusted (the step wrote
  it). A path must be relative, normalised and stay inside its folder (no ``..``, no component
  that is a link on the host), a link must point inside its folder, a file must bring exactly
  the size it announced, special files are refused; a file two copies of one step
  (``StepSpec.node_count``) both write is an error naming it. Files land through a temporary
  name and ``os.replace``.
"""
from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import tarfile
import tempfile
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from amlocal.errors import ComputeError, ComputeTargetException

from .base import SERVICE_DIR, Mount, StepSpec

PART_BYTES = 32 * 1024 ** 2      # one object of a packed folder
CHUNK_BYTES = 1024 ** 2          # one returned-file event
CACHE_BYTES = 2 * 1024 ** 3      # packed folders this process keeps in the object store


# -- the driver's side: packing ----------------------------------------------------------------
@dataclass(frozen=True)
class Packed:
    """A folder (or one file, ``is_file``) packed as a tar in object-store parts."""

    digest: str
    parts: tuple          # ObjectRefs, in order
    size: int
    is_file: bool = False


@dataclass(frozen=True)
class Shipped:
    """One mount of a step as the node gets it. ``kind``: ``cached`` (read-only, unpacked once
    per digest), ``step`` (writable: unpacked for this step and returned), ``host`` (the run
    service's folder: bound as is where the node has it)."""

    index: int            # 0: the working directory; then the mounts in order
    target: str
    kind: str
    packed: Packed | None = None
    source: str = ""      # ``host``: the host path


def _entries(root: Path):
    """(relative path, kind, absolute path) below ``root`` in a stable order; links that
    resolve are followed (a folder link once: no loops), dangling ones are kept as links."""
    seen = {os.path.realpath(root)}
    stack = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            names = sorted(os.listdir(folder))
        except OSError as exc:
            raise ComputeError(f"cannot read {folder} to send it to the Ray node: {exc}") from None
        for name in names:
            path = folder / name
            rel = f"{prefix}{name}"
            try:
                info = os.stat(path)
            except OSError:
                yield rel, "link", path          # dangling
                continue
            if stat.S_ISDIR(info.st_mode):
                real = os.path.realpath(path)
                if real in seen:
                    continue
                seen.add(real)
                yield rel, "dir", path
                stack.append((path, rel + "/"))
            elif stat.S_ISREG(info.st_mode):
                yield rel, "file", path
    # (sockets, fifos and devices are not folder content: they do not travel)


def _signature(source: Path) -> str:
    """A cheap fingerprint of ``source``: names, kinds, sizes, modes and modification times."""
    h = hashlib.sha256(str(source).encode())
    if source.is_file():
        info = source.stat()
        h.update(f"{info.st_size}:{info.st_mtime_ns}:{info.st_mode}".encode())
        return h.hexdigest()
    for rel, kind, path in _entries(source):
        try:
            info = os.lstat(path) if kind == "link" else os.stat(path)
        except OSError:
            continue
        h.update(f"{rel}\0{kind}\0{info.st_size}\0{info.st_mtime_ns}\0{info.st_mode}\0".encode())
    return h.hexdigest()


def _content_digest(source: Path) -> str:
    h = hashlib.sha256(b"amlocal-ray-tree/1")

    def add_file(path: Path) -> None:
        h.update(f"{os.stat(path).st_mode & 0o777}\0".encode())
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1024 * 1024), b""):
                h.update(block)
        h.update(b"\0")

    if source.is_file():
        h.update(b"file\0")
        add_file(source)
        return h.hexdigest()
    for rel, kind, path in _entries(source):
        h.update(f"{rel}\0{kind}\0".encode())
        if kind == "file":
            add_file(path)
        elif kind == "link":
            h.update(os.readlink(path).encode() + b"\0")
    return h.hexdigest()


class _PartWriter(io.RawIOBase):
    """A write-only stream that ``ray.put``s every :data:`PART_BYTES`."""

    def __init__(self, ray):
        self._ray, self._buffer, self.parts, self.size = ray, bytearray(), [], 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._buffer += data
        self.size += len(data)
        while len(self._buffer) >= PART_BYTES:
            self.parts.append(self._ray.put(bytes(self._buffer[:PART_BYTES])))
            del self._buffer[:PART_BYTES]
        return len(data)

    def finish(self) -> tuple:
        if self._buffer or not self.parts:
            self.parts.append(self._ray.put(bytes(self._buffer)))
            self._buffer.clear()
        return tuple(self.parts)


def _pack(ray, source: Path, digest: str) -> Packed:
    out = _PartWriter(ray)
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        if source.is_file():
            tar.add(str(source), arcname="file", recursive=False)
        else:
            for rel, kind, path in _entries(source):
                if kind == "link":
                    info = tarfile.TarInfo(rel)
                    info.type, info.linkname = tarfile.SYMTYPE, os.readlink(path)
                    tar.addfile(info)
                    continue
                info = tar.gettarinfo(str(path), arcname=rel)   # follows a link: os.stat
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                if kind == "file":
                    with open(path, "rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)
    return Packed(digest=digest, parts=out.finish(), size=out.size, is_file=source.is_file())


class PackCache:
    """Packed folders of this process by content digest (their object-store parts stay alive
    while cached; at most :data:`CACHE_BYTES`, least recently used dropped first), and content
    digests by folder fingerprint."""

    def __init__(self):
        self._lock = threading.Lock()
        self._packed: OrderedDict[str, Packed] = OrderedDict()
        self._digests: dict[str, str] = {}

    def pack(self, ray, source: Path) -> Packed:
        signature = _signature(source)
        with self._lock:
            digest = self._digests.get(signature)
        if digest is None:
            digest = _content_digest(source)
        with self._lock:
            if len(self._digests) > 10000:           # one per folder seen: keep it bounded
                self._digests.clear()
            self._digests[signature] = digest
            found = self._packed.get(digest)
            if found is not None:
                self._packed.move_to_end(digest)
                return found
        packed = _pack(ray, source, digest)
        with self._lock:
            self._packed[digest] = packed
            while sum(p.size for p in self._packed.values()) > CACHE_BYTES and \
                    len(self._packed) > 1:
                self._packed.popitem(last=False)
        return packed


def ship(ray, step: StepSpec, cache: PackCache) -> tuple[Shipped, ...]:
    """The step's working directory and mounts as the node gets them (packed into the object
    store where they are not there yet). Raises ComputeError (a source that does not exist),
    ComputeTargetException (a writable mount of a single file)."""
    mounts = (Mount(step.working_dir, "", read_only=False), *step.mounts)
    out = []
    for index, mount in enumerate(mounts):
        where = "the working directory" if index == 0 else f"mount {mount.target}"
        if mount.target == SERVICE_DIR:
            out.append(Shipped(index, mount.target, "host", source=os.path.abspath(mount.source)))
            continue
        source = Path(os.path.abspath(mount.source))
        if not source.exists():
            raise ComputeError(f"step '{step.step_name}': {where} comes from {source}, which does "
                               "not exist on this host")
        if not mount.read_only and not source.is_dir():
            raise ComputeTargetException(
                f"step '{step.step_name}': {where} is a writable mount of the single file "
                f"{source}; the ray target brings back folders only: mount its folder")
        out.append(Shipped(index, mount.target, "cached" if mount.read_only else "step",
                           packed=cache.pack(ray, source)))
    return tuple(out)


# -- the node's side -----------------------------------------------------------------------
def node_root() -> Path:
    """This node's folder for amlocal's Ray steps: ``$AMLOCAL_RAY_NODE_DIR``, else
    ``amlocal-ray-<uid>`` in the system's temporary folder."""
    configured = os.environ.get("AMLOCAL_RAY_NODE_DIR", "").strip()
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(configured or os.path.join(tempfile.gettempdir(), f"amlocal-ray-{uid}"))


class _PartsReader(io.RawIOBase):
    """The tar of a :class:`Packed`, read part by part (``ray.get`` when the reader gets there)."""

    def __init__(self, ray, parts):
        self._ray, self._parts, self._current, self._pos = ray, list(parts), b"", 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while self._pos >= len(self._current):
            if not self._parts:
                return 0
            self._current, self._pos = self._ray.get(self._parts.pop(0)), 0
        n = min(len(buffer), len(self._current) - self._pos)
        buffer[:n] = self._current[self._pos:self._pos + n]
        self._pos += n
        return n


def _unpack(ray, packed: Packed, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    reader = io.BufferedReader(_PartsReader(ray, packed.parts), buffer_size=1024 * 1024)
    with tarfile.open(fileobj=reader, mode="r|") as tar:
        tar.extractall(str(dest), filter="tar")     # the host packed it: links kept as they are


def _cached(ray, packed: Packed) -> Path:
    """The node's unpacked copy of ``packed`` (unpacked now when missing)."""
    cache = node_root() / "cache"
    final = cache / packed.digest
    if not final.is_dir():
        partial = cache / f".{packed.digest}.{uuid.uuid4().hex[:8]}"
        try:
            _unpack(ray, packed, partial)
            os.rename(partial, final)
        except OSError:
            if not final.is_dir():
                raise
        finally:
            if partial.exists():
                shutil.rmtree(partial, ignore_errors=True)
    os.utime(final)                                   # last used: what a sweep prunes by
    return final / "file" if packed.is_file else final


def state(folder: Path) -> dict:
    """rel -> (kind, size, mtime_ns) of everything below ``folder`` (links not followed)."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in (*dirnames, *filenames):
            path = os.path.join(dirpath, name)
            info = os.lstat(path)
            rel = os.path.relpath(path, folder).replace(os.sep, "/")
            kind = ("link" if stat.S_ISLNK(info.st_mode) else "dir" if stat.S_ISDIR(info.st_mode)
                    else "file" if stat.S_ISREG(info.st_mode) else "special")
            found[rel] = (kind, info.st_size, info.st_mtime_ns)
    return found


def node_mounts(ray, shipped: tuple[Shipped, ...], folder: Path):
    """Unpack ``shipped`` on this node: (working dir, mounts, {index: (folder, state)} of what is
    returned after the step). The step's own copies go under ``folder``."""
    working_dir, mounts, returned = None, [], {}
    for item in shipped:
        if item.kind == "host":
            if os.path.exists(item.source):
                mounts.append(Mount(item.source, item.target, read_only=False))
            continue
        if item.kind == "cached":
            mounts.append(Mount(str(_cached(ray, item.packed)), item.target, read_only=True))
            continue
        dest = folder / f"m{item.index}"
        _unpack(ray, item.packed, dest)
        returned[item.index] = (dest, state(dest))
        if item.index == 0:
            working_dir = str(dest)
        else:
            mounts.append(Mount(str(dest), item.target, read_only=False))
    return working_dir, tuple(mounts), returned


def returned_files(returned: dict) -> Iterator[tuple]:
    """The events bringing back what changed in the step's writable folders: ("dir", index,
    rel), ("link", index, rel, target), ("file", index, rel, size, mode) followed by ("data",
    bytes) chunks, ("note", text) for what cannot travel."""
    for index, (folder, before) in sorted(returned.items()):
        for rel, (kind, size, mtime) in sorted(state(folder).items()):
            if before.get(rel) == (kind, size, mtime):
                continue
            path = folder / rel
            if kind == "dir":
                yield ("dir", index, rel)
            elif kind == "link":
                yield ("link", index, rel, os.readlink(path))
            elif kind == "file":
                mode = os.lstat(path).st_mode & 0o777
                yield ("file", index, rel, size, mode)
                left = size
                with open(path, "rb") as f:
                    while left > 0:
                        data = f.read(min(CHUNK_BYTES, left))
                        if not data:
                            break
                        left -= len(data)
                        yield ("data", data)
            else:
                yield ("note", f"amlocal: {rel} is not a file, folder or link: not brought back")


# -- the driver's side: what comes back ------------------------------------------------------
class Receiver:
    """Writes what one copy of a step sends back into the host folders, checking it (see the
    module docstring). ``claims`` (shared by the copies of one step, under ``lock``) maps
    (folder, rel) to the copy that wrote it."""

    def __init__(self, step_name: str, folders: dict, rank: int, claims: dict,
                 lock: threading.Lock, copies: int = 1):
        self._step, self._folders, self._rank = step_name, folders, rank
        self._claims, self._lock, self._copies = claims, lock, copies
        self._file = None                  # (handle, temp path, final path, rel, size, got)
        self._index = 0
        self.files = self.bytes = 0

    def _refuse(self, index: int, rel: str, why: str) -> ComputeError:
        self.abort()
        where = "the working directory" if index == 0 else f"output folder {self._folders[index]}"
        return ComputeError(f"step '{self._step}' sent back {rel!r} in {where}, which {why}: "
                            "refused (nothing more of it was written)")

    def _path(self, index: int, rel: str) -> Path:
        if index not in self._folders:
            raise ComputeError(f"step '{self._step}' sent back files for a folder it does not "
                               f"have (#{index}): refused")
        root = Path(self._folders[index])
        parts = rel.split("/")
        if (not rel or rel.startswith("/") or "\\" in rel or "\0" in rel
                or any(p in ("", ".", "..") for p in parts)):
            raise self._refuse(index, rel, "is not a plain relative path")
        current = root
        for part in parts[:-1]:
            current = current / part
            if current.is_symlink() or (current.exists() and not current.is_dir()):
                raise self._refuse(index, rel, f"goes through {current}, which is not a folder")
        return root / rel

    def _claim(self, index: int, rel: str) -> None:
        if self._copies == 1:
            return
        key = (index, rel)
        with self._lock:
            other = self._claims.setdefault(key, self._rank)
        if other != self._rank:
            where = "the working directory" if index == 0 else self._folders[index]
            self.abort()
            raise ComputeError(f"step '{self._step}': copies {other} and {self._rank} "
                               f"(AMLOCAL_NODE_RANK) both wrote {rel!r} in {where}; each copy "
                               "must write files of its own name (e.g. with its rank in it)")

    def take(self, event: tuple) -> str | None:
        """Apply one event; returns a line for the step's log (a note), else None."""
        kind = event[0]
        if kind == "data":
            if self._file is None:
                raise ComputeError(f"step '{self._step}' sent back data without a file: refused")
            handle, _, _, rel, size, got = self._file
            got += len(event[1])
            if got > size:
                raise self._refuse(self._index, rel,
                                   f"announced {size} bytes but brought more")
            handle.write(event[1])
            self._file = (*self._file[:5], got)
            return None
        self.close_file()
        if kind == "note":
            return str(event[1])
        index, rel = int(event[1]), str(event[2])
        path = self._path(index, rel)
        self._index = index
        if kind == "dir":
            if path.is_symlink() or (path.exists() and not path.is_dir()):
                raise self._refuse(index, rel, "is a folder where the host has something else")
            path.mkdir(parents=True, exist_ok=True)
        elif kind == "link":
            target = str(event[3])
            inside = os.path.normpath(os.path.join(os.path.dirname(rel), target))
            if os.path.isabs(target) or inside == ".." or inside.startswith("../"):
                raise self._refuse(index, rel, f"is a link to {target!r}, out of its folder")
            self._claim(index, rel)
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.is_symlink() or path.is_file():
                path.unlink()
            os.symlink(target, path)
        elif kind == "file":
            size, mode = int(event[3]), int(event[4]) & 0o777
            if size < 0:
                raise self._refuse(index, rel, f"announced a size of {size}")
            if path.is_dir() and not path.is_symlink():
                raise self._refuse(index, rel, "is a file where the host has a folder")
            self._claim(index, rel)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(prefix=".amlocal-", dir=path.parent)
            os.fchmod(fd, mode | 0o600)
            self._file = (os.fdopen(fd, "wb"), temp, path, rel, size, 0)
        else:
            raise ComputeError(f"step '{self._step}' sent back an unknown event {kind!r}")
        return None

    def close_file(self) -> None:
        """Finish the file being received: its size must be what it announced."""
        if self._file is None:
            return
        handle, temp, path, rel, size, got = self._file
        handle.close()
        self._file = None
        if got != size:
            os.unlink(temp)
            raise self._refuse(self._index, rel, f"announced {size} bytes but brought {got}")
        if path.is_symlink():
            path.unlink()
        os.replace(temp, path)
        self.files += 1
        self.bytes += size

    def abort(self) -> None:
        """Drop a file half received (its temporary file)."""
        if self._file is not None:
            handle, temp = self._file[0], self._file[1]
            self._file = None
            handle.close()
            try:
                os.unlink(temp)
            except OSError:
                pass
