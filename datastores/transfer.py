"""Moving bytes between local folders and datastores (any fsspec filesystem).

Azure's skip-existing semantics: with ``overwrite=False`` a target that already exists is left
alone, and one ``UserWarning`` per call (``warnings.warn``) names the skipped files and the fix.
Progress lines (``show_progress=True``) go to stderr, so scripts can keep stdout clean.
"""
from __future__ import annotations

import os
import shutil
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from amlocal.errors import UserErrorException

from .fs import fs_for
from .paths import join, parent, relative_to, safe_relpath


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
    files = fs.find(folder) if fs.exists(folder) else []
    rels = sorted(r for r in (relative_to(f, root) for f in files) if r.startswith(wanted))
    dest_root = Path(target_path).expanduser().resolve()
    pairs = [(join(root, rel), dest_root / safe_relpath(rel, "datastore file")) for rel in rels]
    result = TransferResult()
    _progress(show_progress, f"Downloading {len(pairs)} files")
    for source, dest in pairs:
        rel = relative_to(source, root)
        if dest.exists() and not overwrite:
            result.skipped.append(rel)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        fs.get_file(source, str(dest))
        result.copied.append(rel)
        _progress(show_progress, f"Downloaded {rel}, {len(result.copied)} files out of an "
                                 f"estimated total of {len(pairs)}")
    _warn_skipped(result.skipped, "download", "local file")
    _progress(show_progress, f"Downloaded {len(result.copied)} files")
    return result


def copy_matches(resolution, target_dir, overwrite: bool = False,
                 ignore_not_found: bool = False) -> list[Path]:
    """Copy the files of a :class:`~amlocal.datastores.resolve.Resolution` to
    ``target_dir/<portable path>``; return the local paths.

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
    copied = []
    for match, dest in plan:
        fs = resolution.sources[match.source].fs
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            fs.get_file(match.path, str(dest))
        except FileNotFoundError:
            if ignore_not_found:
                continue
            raise UserErrorException(
                f"{match.key} disappeared while it was being copied; pass ignore_not_found=True "
                "to skip missing files") from None
        copied.append(dest)
    return copied


# -- internals --------------------------------------------------------------------------------
def _put(url, storage_options, pairs, overwrite, show_progress) -> TransferResult:
    fs, root = fs_for(url, storage_options)
    result = TransferResult()
    _progress(show_progress, f"Uploading an estimated of {len(pairs)} files")
    for local, rel in pairs:
        dest = join(root, rel)
        if not overwrite and fs.exists(dest):
            result.skipped.append(rel)
            continue
        folder = parent(dest)
        if folder:
            fs.makedirs(folder, exist_ok=True)
        fs.put_file(str(local), dest)
        result.copied.append(rel)
        _progress(show_progress, f"Uploaded {local}, {len(result.copied)} files out of an "
                                 f"estimated total of {len(pairs)}")
    _warn_skipped(result.skipped, "upload", "datastore file")
    _progress(show_progress, f"Uploaded {len(result.copied)} files")
    return result


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


def _progress(show: bool, line: str) -> None:
    if show:
        print(line, file=sys.stderr)


def remove_tree(path: Path) -> None:
    """Delete a staging folder amlocal created (used before re-staging an input)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
