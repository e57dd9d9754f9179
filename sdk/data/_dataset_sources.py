"""A dataset definition's sources from the paths a user gives the dataset factories: a
``(datastore, 'rel/**/*.csv')`` tuple, a DataPath, a DataReference, a URL or an absolute local
path, or a list of these. A source names its datastore by NAME (``{"datastore": ..., "path":
...}``) or is a URL (``{"url": ...}``); see :mod:`.abstract_dataset`.
"""
from __future__ import annotations

from pathlib import Path, PurePath
from urllib.parse import quote

from ..errors import UserErrorException

SCHEMA_VERSION = 1


def _definition(kind: str, sources: list[dict], **fields) -> dict:
    return {"schema_version": SCHEMA_VERSION, "type": kind, "sources": sources, **fields}


def _parse_paths(path) -> tuple[list[dict], object]:
    """Definition sources and the workspace of their datastores (None for URL-only paths)."""
    from amlocal.datastores import safe_relpath
    items = path if isinstance(path, list) else [path]
    if not items:
        raise UserErrorException("path is an empty list; give at least one (datastore, 'path')")
    sources, workspaces = [], {}
    for item in items:
        datastore, rel = _datastore_and_path(item)
        if datastore is not None:
            sources.append({"datastore": datastore.name, "path": safe_relpath(rel, "dataset path")})
            workspaces[datastore.workspace._id] = datastore.workspace
        else:
            sources.append({"url": _url(item)})
    if len(workspaces) > 1:
        raise UserErrorException("the paths of one dataset name datastores of different workspaces; "
                                 "use datastores of one workspace")
    return sources, next(iter(workspaces.values()), None)


def _datastore_and_path(item):
    from .datapath import DataPath
    if isinstance(item, tuple):
        if len(item) == 2 and hasattr(item[0], "workspace") and hasattr(item[0], "_info") \
                and isinstance(item[1], (str, PurePath)):
            return item[0], str(item[1])
        raise UserErrorException(
            f"path tuple {item!r} is not valid: use (datastore, 'folder/**/*.csv') with a "
            "Datastore object")
    if isinstance(item, DataPath):
        return item._datastore, item.path_on_datastore or ""
    from .data_reference import DataReference
    if isinstance(item, DataReference):  # as Azure: its datastore and path (mode and name dropped)
        path = item.path_on_datastore
        return item.datastore, "" if path in (None, "/", ".", "./") else path
    return None, None


def _url(item) -> str:
    if isinstance(item, PurePath):
        item = str(item)
    if not isinstance(item, str) or not item:
        raise UserErrorException(
            f"path {item!r} is not supported: use (datastore, 'folder/**/*.csv'), a DataPath, a "
            "DataReference, a URL such as 'file:///data/x.csv', an absolute local path, or a list of these")
    first = item.split("::", 1)[0]
    if "://" in first:
        return item
    if not Path(item).expanduser().is_absolute():
        raise UserErrorException(
            f"path {item!r} is relative; give (datastore, '{item}') for a path in a datastore, or "
            "an absolute local path / file:// URL")
    # Percent-encode like Path.as_uri(), but keep glob characters readable.
    return "file://" + quote(Path(item).expanduser().as_posix(), safe="/*?[]!:@")


def _target(target):
    """``(datastore, folder)`` of a DataPath, a Datastore or a ``(datastore, path)`` tuple
    (Azure's ``parse_target``). Raises UserErrorException."""
    from amlocal.datastores import safe_relpath
    from .datapath import DataPath
    if isinstance(target, DataPath):
        datastore, path = target._datastore, target.path_on_datastore or ""
    elif isinstance(target, tuple) and len(target) == 2:
        datastore, path = target
    elif hasattr(target, "workspace") and hasattr(target, "upload_files"):
        datastore, path = target, ""
    else:
        datastore, path = None, None
    if not (hasattr(datastore, "workspace") and hasattr(datastore, "upload_files")) \
            or not isinstance(path, str):
        raise UserErrorException(
            f"target {target!r} is not supported: give a DataPath, a Datastore or a "
            "(datastore, 'folder') tuple")
    return datastore, safe_relpath(path, "target path")
