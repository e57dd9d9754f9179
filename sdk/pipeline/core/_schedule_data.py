"""What a datastore schedule watches: the files directly under ``path_on_datastore`` (not in
sub-folders, as Azure's blob trigger), each with a signature that changes when the file is
added or rewritten (size and modification time; a blob's etag when the store has one)."""
from __future__ import annotations

import posixpath

from ...errors import UserErrorException


def _clean(path: str | None) -> str:
    text = (path or "").replace("\\", "/").strip("/")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UserErrorException(f"path_on_datastore {path!r} may not contain '..'")
    return "/".join(parts)


def _signature(entry: dict) -> str:
    for key in ("etag", "ETag"):
        if entry.get(key):
            return f"etag:{entry[key]}"
    modified = entry.get("mtime") or entry.get("last_modified") or entry.get("LastModified") \
        or entry.get("updated") or ""
    return f"{entry.get('size')}:{modified}"


def list_watched(datastore, path_on_datastore: str | None) -> dict[str, str]:
    """``{path on the datastore: signature}`` for the files directly under the watched folder
    (none when the folder does not exist yet)."""
    from amlocal.datastores import fs_for
    fs, root = fs_for(datastore.url, datastore._storage_options)
    folder = _clean(path_on_datastore)
    target = posixpath.join(root, folder) if folder else root
    try:
        entries = fs.ls(target, detail=True)
    except FileNotFoundError:
        return {}
    found = {}
    for entry in entries:
        if entry.get("type") != "file":
            continue
        name = posixpath.basename(str(entry["name"]).rstrip("/"))
        found[f"{folder}/{name}" if folder else name] = _signature(entry)
    return found


def changed_files(previous: dict[str, str], current: dict[str, str]) -> tuple[list[str], list[str]]:
    """``(added or modified paths, removed paths)``, each sorted."""
    changed = sorted(p for p, s in current.items() if previous.get(p) != s)
    gone = sorted(p for p in previous if p not in current)
    return changed, gone
