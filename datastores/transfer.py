"""Moving bytes between local folders and datastores (any fsspec filesystem).

Azure's skip-existing semantics: with ``overwrite=False`` a target that already exists is left
alone, and one ``UserWarning`` per call (``warnings.warn``) names the skipped files and the fix.
Progress (``show_progress=True``) goes to stderr, so scripts can keep stdout clean: a bar for large
transfers on a terminal, plain lines otherwise (:mod:`.progress`). Remote stores copy up to
``REMOTE_WORKERS`` files at a time (:mod:`.parallel`); the local disk copies one at a time.

:func:`upload_output` is the runner's: it uploads a step's output folder after the step.
"""
from __future__ import annotations

import os
import shutil
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from amlocal.errors import UserErrorException

from .fs import fs_for, is_local
from .parallel import each_file
from .paths import common_prefix, has_magic, join, parent, relative_to, safe_relpath
from .progress import Progress

@dataclass
class TransferResult:
    copied: list[str] = field(default_factory=list)   # paths relative to the datastore root
    skipped: list[str] = field(default_factory=list)  # existing targets left alone


def upload_dir(url: str, storage_options: dict | None, src_dir, target_path: str | None = None,
               overwrite: bool = False, show_progress: bool = True) -> TransferResult:
    """Copy every file below the local folder ``src_dir`` to ``target_path`` in the datastore,
    keeping the folder structure. Raises UserErrorException for a missing folder or a
    ``target_path`` leaving the datastore."""
    src = Path(src_dir).expanduser()
    if not src.is_dir():
        raise UserErrorException(
            f"src_dir {str(src)!r} is not a folder; to upload single files use upload_files(...)")
    target = safe_relpath(target_path or "", "target_path")
    pairs = [(p, join(target, p.relative_to(src).as_posix()))
             for p in sorted(src.rglob("*")) if p.is_file()]
    return _put(url, storage_options, pairs, overwrite, show_progress)


def upload_files(url: str, storage_options: dict | None, files, relative_root=None,
                 target_path: str | None = None, overwrite: bool = False,
                 show_progress: bool = True) -> TransferResult:
    """Copy local files to the datastore at ``target_path/<path relative to relative_root>``.

    ``relative_root`` defaults to the common folder of the files, as in Azure. Raises
    UserErrorException for missing files or a ``relative_root`` that does not contain them all.
    """
    if isinstance(files, (str, os.PathLike)):
        files = [files]
    paths = [Path(f).expanduser().resolve() for f in files]
    if not paths:
        raise UserErrorException("upload_files needs a list of files to upload")
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise UserErrorException(
            f"these files do not exist or are folders: {', '.join(missing)}; to upload a folder "
            "use upload(src_dir=...)")
    root = Path(relative_root).expanduser().resolve() if relative_root is not None \
        else Path(os.path.commonpath([str(p.parent) for p in paths]))
    target = safe_relpath(target_path or "", "target_path")
    pairs = []
    for p in paths:
        try:
            rel = p.relative_to(root).as_posix()
        except ValueError:
            raise UserErrorException(
                f"relative_root {str(root)!r} is not a parent of {str(p)!r}; give a folder that "
                "contains every file, or leave relative_root=None") from None
        pairs.append((p, join(target, rel)))
    return _put(url, storage_options, pairs, overwrite, show_progress)


def download_prefix(url: str, storage_options: dict | None, target_path, prefix: str | None = None,
                    overwrite: bool = False, show_progress: bool = True) -> TransferResult:
    """Copy every datastore file whose path starts with ``prefix`` (a string prefix, as blob
    names are matched in Azure) to ``target_path/<its datastore path>``."""
    fs, root = fs_for(url, storage_options)
    wanted = safe_relpath(prefix or "", "prefix")
    if wanted and (prefix or "").replace("\\", "/").endswith("/"):
        wanted += "/"
    folder = join(root, parent(wanted) if "/" in wanted else "")
    listing = fs.find(folder, detail=True) if fs.exists(folder) else {}
    sizes = {path: int(info.get("size") or 0) for path, info in listing.items()}
    rels = sorted(r for r in (relative_to(f, root) for f in listing) if r.startswith(wanted))
    dest_root = Path(target_path).expanduser().resolve()
    pairs = [(join(root, rel), dest_root / safe_relpath(rel, "datastore file")) for rel in rels]
    result = TransferResult()
    todo = []
    for source, dest in pairs:
        rel = relative_to(source, root)
        if dest.exists() and not overwrite:
            result.skipped.append(rel)
        else:
            todo.append((source, dest, rel))
    total = sum(sizes.get(source, 0) for source, _, _ in todo)
    with Progress("download", len(todo), total, show_progress) as progress:
        def fetch(item):
            source, dest, rel = item
            dest.parent.mkdir(parents=True, exist_ok=True)
            _get(fs, source, dest, progress, rel, sizes.get(source))
            return rel
        result.copied.extend(each_file(fetch, todo, parallel=not is_local(fs)))
    _warn_skipped(result.skipped, "download", "local file")
    return result


def copy_matches(resolution, target_dir, overwrite: bool = False,
                 ignore_not_found: bool = False, show_progress: bool = False) -> list[Path]:
    """Copy the files of a :class:`~amlocal.datastores.resolve.Resolution` to
    ``target_dir/<portable path>``; return the local paths (sorted by portable path).

    Raises UserErrorException, before copying anything, when a target exists and ``overwrite`` is
    False; and when a file vanished since it was listed, unless ``ignore_not_found``.
    """
    root = Path(target_dir).expanduser().resolve()
    plan = [(m, root / m.portable.lstrip("/")) for m in resolution.matches]
    existing = [str(dest) for _, dest in plan if dest.exists()]
    if existing and not overwrite:
        shown = ", ".join(existing[:5]) + (" ..." if len(existing) > 5 else "")
        raise UserErrorException(
            f"{len(existing)} file(s) already exist in {str(root)!r} ({shown}); pass "
            "overwrite=True to replace them, or download to an empty folder")
    total = sum(m.size or 0 for m, _ in plan)
    with Progress("download", len(plan), total, show_progress) as progress:
        def fetch(item):
            match, dest = item
            fs = resolution.sources[match.source].fs
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                _get(fs, match.path, dest, progress, match.portable, match.size)
            except FileNotFoundError:
                if ignore_not_found:
                    return None
                raise UserErrorException(
                    f"{match.key} disappeared while it was being copied; pass "
                    "ignore_not_found=True to skip missing files") from None
            return dest
        copied = each_file(fetch, plan, parallel=not resolution.local)
    return [dest for dest in copied if dest is not None]


def upload_output(local_dir, url: str, storage_options: dict | None, dest_path: str, *,
                  overwrite: bool = False, source_globs=None,
                  show_progress: bool = True) -> list[str]:
    """Upload a step's output folder to ``dest_path`` in a datastore (the runner calls it for an
    ``OutputFileDatasetConfig`` in upload mode, or any output on a remote datastore, after the
    step ends); return the uploaded files' datastore paths, sorted.

    ``source_globs`` (a pattern or a list, relative to ``local_dir``, ``**`` crossing folders)
    limits the files; a pattern naming a folder takes every file below it. With
    ``overwrite=False`` an existing target raises before anything is uploaded: unlike
    ``Datastore.upload``, which skips, a step's output must never be silently half old.
    On a remote datastore the uploaded files also fill the local dataset cache, so a later step
    mounting them reads them without downloading.

    Raises UserErrorException for a missing folder, a ``dest_path`` leaving the datastore, or
    existing targets.
    """
    src = Path(local_dir).expanduser()
    if not src.is_dir():
        raise UserErrorException(f"the output folder {str(src)!r} does not exist")
    dest = safe_relpath(dest_path or "", "destination path")
    files = _select(src, source_globs)
    pairs = [(p, join(dest, p.relative_to(src).as_posix())) for p in files]
    fs, root = fs_for(url, storage_options)
    if not overwrite:
        existing = sorted(rel for rel in _existing(fs, root, dest) if rel in {r for _, r in pairs})
        if existing:
            shown = ", ".join(existing[:5]) + (" ..." if len(existing) > 5 else "")
            raise UserErrorException(
                f"{len(existing)} output file(s) already exist in the datastore ({shown}); use "
                "as_upload(overwrite=True), or a destination with {run-id} in its path")
    result = _put(url, storage_options, pairs, True, show_progress)
    if not is_local(fs):
        from .cache import seed_from_upload
        seed_from_upload(fs, root, url, storage_options or {}, dict((r, p) for p, r in pairs))
    return sorted(result.copied)


# -- internals --------------------------------------------------------------------------------
def _put(url, storage_options, pairs, overwrite, show_progress) -> TransferResult:
    fs, root = fs_for(url, storage_options)
    result = TransferResult()
    todo = []
    if overwrite:
        existing: set[str] = set()
    elif len(pairs) <= 16:   # a few files: ask for each; many: list their common folder once
        existing = {rel for _, rel in pairs if fs.exists(join(root, rel))}
    else:
        existing = _existing(fs, root, common_prefix([rel for _, rel in pairs]))
    for local, rel in pairs:
        if rel in existing:
            result.skipped.append(rel)
        else:
            todo.append((local, rel))
    for folder in sorted({parent(join(root, rel)) for _, rel in todo} - {"", "/"}):
        fs.makedirs(folder, exist_ok=True)
    total = sum(local.stat().st_size for local, _ in todo)
    with Progress("upload", len(todo), total, show_progress) as progress:
        def put(item):
            local, rel = item
            callback = progress.callback()
            if callback is None:
                fs.put_file(str(local), join(root, rel))
            else:
                fs.put_file(str(local), join(root, rel), callback=callback)
            progress.file_done(str(local), local.stat().st_size, callback)
            return rel
        result.copied.extend(each_file(put, todo, parallel=not is_local(fs)))
    _warn_skipped(result.skipped, "upload", "datastore file")
    return result


def _get(fs, source: str, dest: Path, progress: Progress, label: str, size) -> None:
    callback = progress.callback()
    if callback is None:
        fs.get_file(source, str(dest))
    else:
        fs.get_file(source, str(dest), callback=callback)
    progress.file_done(label, size if size is not None else dest.stat().st_size, callback)


def _existing(fs, root: str, prefix: str) -> set[str]:
    """Datastore paths (relative to ``root``) of the files below the folder ``prefix``: one
    listing instead of one ``exists`` call per file."""
    folder = join(root, prefix)
    try:
        if not fs.exists(folder):
            return set()
        if fs.isfile(folder):
            return {prefix}
        return {relative_to(f, root) for f in fs.find(folder)}
    except FileNotFoundError:
        return set()


def _select(src: Path, source_globs) -> list[Path]:
    """Files below ``src`` matching ``source_globs`` (every file when None), sorted. Symbolic
    links are never followed (a step writes these folders: a link to a host file must bring
    nothing in); each one left out is named in a warning."""
    links: set[Path] = set()

    def files_below(folder: Path):
        for p in folder.rglob("*"):
            if p.is_symlink():
                links.add(p)
            elif p.is_file():
                yield p

    found: set[Path] = set()
    if source_globs is None:
        found.update(files_below(src))
    else:
        globs = [source_globs] if isinstance(source_globs, str) else list(source_globs)
        for pattern in globs:
            rel = safe_relpath(str(pattern), "source_globs pattern")
            for path in (src.glob(rel) if has_magic(rel) else [src / rel]):
                if path.is_symlink():
                    links.add(path)
                elif path.is_dir():
                    found.update(files_below(path))
                elif path.is_file():
                    found.add(path)
    if links:
        shown = ", ".join(str(p.relative_to(src)) for p in sorted(links)[:5])
        warnings.warn(f"left out {len(links)} symbolic link(s) of the output folder (links are "
                      f"never followed): {shown}{' ...' if len(links) > 5 else ''}")
    return sorted(found)


def _warn_skipped(skipped: list[str], verb: str, what: str) -> None:
    if not skipped:
        return
    shown = ", ".join(skipped[:5]) + (" ..." if len(skipped) > 5 else "")
    warnings.warn(
        f"skipped the {verb} of {len(skipped)} file(s) because the {what} already exists "
        f"({shown}); pass overwrite=True to replace them", UserWarning,
        stacklevel=_caller_level())


def _caller_level() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside amlocal."""
    import amlocal
    roots = tuple(str(Path(p).resolve()) for p in
                  [*amlocal.__path__, *sys.modules[__package__].__path__])
    frame, level = sys._getframe(2), 2   # 1 is _warn_skipped, the warning's own caller
    while frame is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(roots):
        frame, level = frame.f_back, level + 1
    return level


def remove_tree(path: Path) -> None:
    """Delete a staging folder amlocal created (used before re-staging an input)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
