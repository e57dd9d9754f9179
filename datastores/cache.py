"""The local cache of remote dataset files: how ``as_mount()`` works on a remote datastore.

There is no FUSE for blob containers here (Docker would need ``--device /dev/fuse`` and
``SYS_ADMIN`` for every step, and blobfuse/adlfs-fuse in the host), so a mount of a dataset on a
remote store is a **read-through, content-addressed cache bound read-only into the step**:

- ``AMLOCAL_HOME/cache/datasets/objects/<k[:2]>/<k>``: one file per remote object *version*,
  keyed by ``k = sha256(where the store is (without secrets), the object's path, its size, its
  etag or else its modification time)``. A changed remote object has a new key; an unchanged one
  is never downloaded again, by any later run or step.
- ``AMLOCAL_HOME/cache/datasets/trees/<t>/``: the dataset's files at their portable paths, as
  hard links to the objects (copies where links are impossible), keyed by
  ``t = sha256(every (portable path, object key))``. This folder is what the step sees.

Only the objects missing from the cache are fetched, in parallel, before the step starts: a
second run of an unchanged dataset fetches nothing, and a change to one file of a thousand
fetches one. Objects and trees are written under temporary names and renamed into place, so
steps running side by side never see half a file. Nothing is evicted automatically; delete the
folder to reclaim space (it is rebuilt on demand).

Files whose store gives neither an etag nor a modification time cannot be cached safely;
datasets holding such files are copied into the step's staging folder instead (download mode).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from amlocal.errors import UserErrorException

from .fs import identity
from .parallel import each_file
from .paths import common_prefix, join, relative_to
from .progress import Progress
from .resolve import Match, Resolution, resolve_sources, version_stamp


def default_cache_dir() -> Path:
    """``AMLOCAL_HOME/cache/datasets``."""
    from amlocal import _settings
    return _settings.current().home / "cache" / "datasets"


@dataclass(frozen=True)
class CachedTree:
    path: Path     # the folder to bind read-only
    fetched: int   # objects downloaded from the store by this call
    cached: int    # objects found in the cache


def cacheable(resolution: Resolution) -> bool:
    """Whether every matched file has a version stamp (etag or modification time)."""
    return all(m.mtime for m in resolution.matches)


def object_key(where: str, path: str, size, stamp: str) -> str:
    """The cache key of one version of one remote object."""
    text = json.dumps([where, path, size, stamp], separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cached_tree(resolution: Resolution, cache_dir: Path | None = None,
                show_progress: bool = False) -> CachedTree:
    """The cache folder holding the resolution's files at their portable paths, fetching the
    objects the cache lacks. Raises UserErrorException when a file has no version stamp or
    changed while it was fetched."""
    if not cacheable(resolution):
        unstamped = [m.key for m in resolution.matches if not m.mtime][:3]
        raise UserErrorException(
            f"cannot cache {', '.join(unstamped)}: the store gives no etag or modification time; "
            "consume the dataset with as_download() instead")
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    keys = [_key(resolution, m) for m in resolution.matches]
    tree_key = hashlib.sha256(json.dumps(
        [[m.portable, k] for m, k in zip(resolution.matches, keys)]).encode()).hexdigest()
    tree = root / "trees" / tree_key
    if tree.is_dir():
        return CachedTree(tree, 0, len(keys))
    objects, fetched = fetch_objects(resolution, keys, root, show_progress)
    tmp = root / "trees" / f".{tree_key}.{uuid.uuid4().hex}.tmp"
    tmp.mkdir(parents=True)
    try:
        for match, obj in zip(resolution.matches, objects):
            dest = tmp / match.portable.lstrip("/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            _link(obj, dest)
        try:
            os.rename(tmp, tree)
        except OSError:
            if not tree.is_dir():   # another step built the same tree meanwhile: keep theirs
                raise
    finally:
        if tmp.exists():
            _remove(tmp)
    return CachedTree(tree, fetched, len(keys) - fetched)


def fetch_objects(resolution: Resolution, keys: list[str], cache_dir: Path,
                  show_progress: bool = False) -> tuple[list[Path], int]:
    """The object file of every match (in order), and how many were downloaded now."""
    paths = [object_path(cache_dir, k) for k in keys]
    missing = {}
    for match, path in zip(resolution.matches, paths):
        if not path.exists():
            missing.setdefault(path, match)
    todo = list(missing.items())
    with Progress("download", len(todo), sum(m.size or 0 for _, m in todo), show_progress,
                  what="files into the dataset cache") as progress:
        def fetch(item):
            path, match = item
            _fetch_one(resolution.sources[match.source].fs, match, path, progress)
        each_file(fetch, todo, parallel=not resolution.local)
    return paths, len(todo)


def object_path(cache_dir: Path, key: str) -> Path:
    return Path(cache_dir) / "objects" / key[:2] / key


def local_cache_of(url: str, storage_options: dict | None, dest_path: str,
                   cache_dir: Path | None = None, show_progress: bool = False) -> Path:
    """A local read-only folder with the files below ``dest_path`` of a datastore (a remote
    one: through the cache; ``file://``: the folder itself). For the runner's outputs on remote
    datastores, e.g. a PipelineData consumed by a later step. An empty or missing folder gives
    an empty folder."""
    res = resolve_sources([{"datastore": "output", "path": dest_path}],
                          lambda _name: (url, dict(storage_options or {})))
    if res.local and res.sources[0].folder is not None:
        return Path(res.sources[0].folder)
    return cached_tree(res, cache_dir, show_progress).path


def seed_from_upload(fs, root: str, url: str, options: dict, uploaded: dict,
                     cache_dir: Path | None = None) -> int:
    """Put just-uploaded files into the cache under the keys the store now gives them, so a
    later mount of them downloads nothing. ``uploaded``: datastore path (relative to ``root``)
    -> local file. Returns how many objects were added."""
    if not uploaded:
        return 0
    folder = join(root, common_prefix(list(uploaded)))
    listing = fs.find(folder, detail=True)
    where = identity(url, options)
    added = 0
    cache_root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    for path, info in listing.items():
        local = uploaded.get(relative_to(path, root)) if path.startswith(root) else None
        stamp = version_stamp(info)
        if local is None or not stamp or int(info.get("size") or -1) != Path(local).stat().st_size:
            continue
        target = object_path(cache_root, object_key(where, path, info.get("size"), stamp))
        if not target.exists():
            _install(Path(local), target, copy=True)
            added += 1
    return added


# -- internals --------------------------------------------------------------------------------
def _key(resolution: Resolution, match: Match) -> str:
    return object_key(resolution.sources[match.source].identity, match.path, match.size,
                      match.mtime)


def _fetch_one(fs, match: Match, target: Path, progress: Progress) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex}.part"
    callback = progress.callback()
    try:
        if callback is None:
            fs.get_file(match.path, str(tmp))
        else:
            fs.get_file(match.path, str(tmp), callback=callback)
        size = tmp.stat().st_size
        if match.size is not None and size != match.size:
            raise UserErrorException(
                f"{match.key} changed while it was being fetched ({match.size} bytes listed, "
                f"{size} read); run again")
        _install(tmp, target, copy=False)
    except FileNotFoundError:
        raise UserErrorException(
            f"{match.key} disappeared while it was being fetched; run again") from None
    finally:
        if tmp.exists():
            tmp.unlink()
    progress.file_done(match.portable, match.size, callback)


def _install(source: Path, target: Path, copy: bool) -> None:
    """Move (or copy) ``source`` into the cache as ``target``, read-only, atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if copy:
        tmp = target.parent / f".{target.name}.{uuid.uuid4().hex}.part"
        shutil.copyfile(source, tmp)
        source = tmp
    os.chmod(source, 0o444)
    os.replace(source, target)


def _link(obj: Path, dest: Path) -> None:
    try:
        os.link(obj, dest)
    except OSError:   # another filesystem, or links not allowed: a copy does the same job
        shutil.copyfile(obj, dest)
        os.chmod(dest, 0o444)


def _remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
