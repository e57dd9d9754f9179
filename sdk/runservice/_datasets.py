"""The run service's ``fetch_dataset``: a step reads a dataset that is not one of its inputs.

v1 scoring scripts read registered datasets in ``init()`` (``Dataset.get_by_name(ws,
name).download()``). The host copies the files on the step's behalf, from the datastores of the
step's own workspace, so the step never holds a datastore's credentials. Only datastore-relative
sources are served (the resolver refuses paths that leave their datastore); a step reads URL
sources itself.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import NotFoundError, UserErrorException


def copy_dataset(store, workspace_id: str, definition, folder: Path) -> tuple[Path, list]:
    """Copy the files of ``definition`` into ``folder``; return (the copy's folder, the bound
    sources that resolve the definition's files in it). Raises UserErrorException for sources
    that are not datastore-relative and NotFoundError for an unknown datastore."""
    from amlocal.datastores.materialize import bind_input
    sources = definition.get("sources") if isinstance(definition, dict) else None
    if not isinstance(sources, list) or not sources or not all(
            isinstance(s, dict) and "datastore" in s and set(s) <= {"datastore", "path"}
            for s in sources):
        raise UserErrorException("fetch_dataset serves datasets over the workspace's datastores "
                                 "only; a step reads URL sources itself")

    def resolve(name: str):
        info = store.get_datastore(workspace_id, name)
        if info is None:
            raise NotFoundError(f"datastore '{name}' is not registered in this workspace")
        return info.url, dict(info.options)

    # every file is copied as it is: the step applies the dataset's transformations (a table's
    # rows, a FileDataset's selections) to the copy itself
    files_only = {**{k: v for k, v in definition.items() if k not in ("bound", "transforms")},
                  "type": "FileDataset"}
    _refuse_links(files_only["sources"], resolve)
    binding = bind_input(files_only, "dataset", "download", None, resolve, folder)
    return Path(folder) / "dataset", json.loads(binding.step_definition)["bound"]["sources"]


def _refuse_links(sources: list, resolve) -> None:
    """Refuse a copy that would read through a symbolic link of a local datastore, or land
    outside its root: steps write output folders on such datastores, and a link planted there
    must not make the host read one of its own files for a step."""
    import os
    from amlocal.datastores import resolve_sources
    from amlocal.datastores.fs import is_local
    res = resolve_sources(sources, resolve)
    for match in res.matches:
        src = res.sources[match.source]
        if not is_local(src.fs) or src.root is None:
            continue
        root = os.path.realpath(src.root)
        real = os.path.realpath(match.path)
        if os.path.islink(match.path) or not (real == root or real.startswith(root + os.sep)):
            raise UserErrorException(
                f"the dataset's file {match.portable!r} on datastore '{src.label}' is a symbolic "
                "link (or leads outside the datastore); the host copies no file through a link "
                "for a step")
