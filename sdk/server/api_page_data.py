"""Page JSON for a run's data (``/api/v1/page/...``): its outputs and files to browse, download and
preview as Studio classic's "Visualize" did, and two runs compared.

- ``/runs/{run_id}/outputs/{output}/files?path=`` lists one folder of a step run's output
  (folders first, with sizes); ``.../download?path=`` sends one file; ``.../preview?path=``
  previews a CSV, TSV or Parquet file, or a folder of them (:mod:`.page_tabular`: the first
  rows, each column's type, missing and unique counts, a histogram or value counts; bounded in
  rows, columns, bytes and files). An output lives on its datastore: a ``file://`` folder or a
  remote store read through fsspec (Azure Blob, ...).
- ``/runs/{run_id}/artifacts/files?path=`` and ``.../artifacts/preview?path=`` do the same for
  the run's own files (``outputs/``, ``logs/``); the read API downloads them.
- ``/compare?a=ID&b=ID``: :mod:`.page_compare`.

``path`` is relative to the output folder (or to the run's files); ``..``, absolute paths and
symbolic links that resolve outside are refused with a 400 naming the problem.
"""
from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Path as PathParam, Query, Request
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, Field

from . import page_tabular
from .page_compare import Comparison, compare
from .api_read import _get_run, _store
from .auth import read_access

router = APIRouter(prefix="/api/v1/page", tags=["page"], dependencies=[Depends(read_access)])

MAX_ENTRIES = 1000
CHUNK = 1 << 20
RunId = PathParam(description="the run id", max_length=256)
OutputName = PathParam(description="the output's name (GET /api/v1/runs/{id}/outputs)",
                       max_length=256)
SubPath = Query("", max_length=4096, description="a path inside the output folder; '' is the "
                                                  "folder itself")


# -- answers ------------------------------------------------------------------------------------
class Entry(BaseModel):
    name: str
    path: str = Field(description="relative to the output folder (or the run's files)")
    type: str = Field(description="file or folder")
    size: int | None = None
    tabular: str | None = Field(None, description="csv, tsv or parquet: it can be previewed")


class Listing(BaseModel):
    runId: str
    output: str | None = Field(None, description="the output's name; null for the run's files")
    datastore: str | None = None
    location: str | None = Field(None, description="the output folder on its datastore")
    path: str = Field(description="the folder listed, relative to the output folder")
    type: str = Field(description="folder, or file when path names a file")
    size: int | None = None
    entries: list[Entry]
    truncated: bool = Field(description=f"true when the folder holds over {MAX_ENTRIES} entries")
    tabular: bool = Field(description="whether the folder (or file) can be previewed")


class HistogramBin(BaseModel):
    low: Any = None
    high: Any = None
    count: int


class ValueCount(BaseModel):
    value: Any = None
    count: int


class ColumnStats(BaseModel):
    name: str
    type: str = Field(description="the pandas dtype read")
    kind: str = Field(description="numeric, text, category, boolean or datetime")
    count: int = Field(description="values present")
    missing: int
    unique: int
    min: Any = None
    max: Any = None
    mean: float | None = None
    median: float | None = None
    std: float | None = None
    histogram: list[HistogramBin] | None = Field(None, description="numeric and datetime columns")
    values: list[ValueCount] | None = Field(None, description="the most frequent values of the "
                                                              "other columns")
    others: int = Field(0, description="values not among `values`")


class Preview(BaseModel):
    runId: str
    output: str | None = None
    path: str
    files: list[str] = Field(description="the files read, relative to the output folder")
    format: str | None = None
    rows: list[list[Any]]
    columns: list[ColumnStats]
    rowsShown: int
    rowsRead: int = Field(description="rows the statistics describe")
    totalRows: int | None = Field(None, description="all rows, when known")
    columnsTotal: int
    truncated: bool = Field(description="true when limits cut the data read")
    notes: list[str] = Field(default_factory=list)
    limits: dict[str, int]


# -- where the files are ------------------------------------------------------------------------
@dataclass
class _Folder:
    fs: Any
    root: str                 # the folder on fs
    local: bool
    run_id: str
    output: str | None = None
    datastore: str | None = None
    location: str | None = None


def _output_folder(store, run_id: str, output: str) -> _Folder:
    from amlocal.datastores.fs import fs_for, is_local
    from amlocal.datastores.paths import join, safe_relpath
    info = _get_run(store, run_id)
    if info.kind == "pipeline":
        raise HTTPException(status_code=400, detail=(
            f"run {info.id} is a pipeline run: its outputs belong to its steps; "
            f"GET /api/v1/runs/{info.id}/outputs lists each step's"))
    outputs = (info.definition or {}).get("outputs") or {}
    loc = outputs.get(output)
    if not isinstance(loc, dict) or loc.get("datastore") is None:
        known = ", ".join(sorted(outputs)) or "none"
        raise HTTPException(status_code=404, detail=(
            f"run {info.id} has no output {output!r} (its outputs: {known})"))
    datastore = store.get_datastore(info.workspace_id, str(loc["datastore"]))
    if datastore is None:
        raise HTTPException(status_code=404, detail=(
            f"datastore {loc['datastore']!r} of output {output!r} is no longer registered"))
    fs, root = fs_for(datastore.url, dict(datastore.options or {}))
    rel = safe_relpath(str(loc.get("path") or ""), "output path")
    folder = join(root, rel)
    try:
        exists = fs.exists(folder)
    except Exception as exc:  # noqa: BLE001 - a remote store's own errors (auth, network)
        raise HTTPException(status_code=502, detail=(
            f"cannot read datastore '{datastore.name}': {type(exc).__name__}: "
            f"{str(exc)[:300]}")) from None
    if not exists:
        raise HTTPException(status_code=404, detail=(
            f"output {output!r} of run {info.id} has no folder on datastore "
            f"'{datastore.name}' ({rel}): the step wrote nothing there, or it was deleted"))
    return _Folder(fs, folder, is_local(fs), info.id, output, datastore.name, rel)


def _artifact_folder(store, run_id: str) -> _Folder:
    info = _get_run(store, run_id)
    files = getattr(store, "files", None)
    if files is None:
        raise HTTPException(status_code=400, detail="this store keeps run files elsewhere: "
                                                    "download them with the read API")
    fs, root, local = files.run_folder(info.id)   # local, or AMLOCAL_ARTIFACTS_URL's location
    return _Folder(fs, root, local, info.id)


def _has_files(folder: _Folder) -> bool:
    """Whether the run's folder exists (on a shared location: holds any file)."""
    return Path(folder.root).is_dir() if folder.local else _is_dir(folder.fs, folder.root)


def _target(folder: _Folder, path: str) -> tuple[str, str]:
    """``(full path on fs, normalised relative path)``; 400 when ``path`` leaves the folder."""
    from amlocal.datastores.paths import join, safe_relpath
    if "\x00" in path:
        raise HTTPException(status_code=400, detail="path must not contain NUL characters")
    rel = safe_relpath(path, "path")
    full = join(folder.root, rel)
    if folder.local and not _inside(folder.root, full):
        raise HTTPException(status_code=400, detail=(
            f"path {path!r} leads outside the output folder (a symbolic link); refusing it"))
    return full, rel


def _inside(root: str, full: str) -> bool:
    try:
        return Path(full).resolve().is_relative_to(Path(root).resolve())
    except (OSError, RuntimeError):
        return False


def _relative(folder: _Folder, full: str) -> str:
    root = folder.root.rstrip("/")
    name = str(full)
    if folder.local:
        if name == root:
            return ""
        return PurePosixPath(name).relative_to(PurePosixPath(root)).as_posix()
    return name[len(root):].lstrip("/") if name.startswith(root) else name


def _is_dir(fs, full: str) -> bool:
    try:
        return fs.isdir(full)
    except (OSError, ValueError):
        return False


def _missing(folder: _Folder, rel: str) -> HTTPException:
    where = f"output {folder.output!r} of run {folder.run_id}" if folder.output else (
        f"the files of run {folder.run_id}")
    return HTTPException(status_code=404, detail=f"there is no {rel!r} in {where}")


# -- listing ------------------------------------------------------------------------------------
def _listing(folder: _Folder, path: str) -> Listing:
    full, rel = _target(folder, path)
    fs = folder.fs
    base = dict(runId=folder.run_id, output=folder.output, datastore=folder.datastore,
                location=folder.location, path=rel)
    if not _is_dir(fs, full):
        if not fs.exists(full):
            raise _missing(folder, rel)
        return Listing(**base, type="file", size=_size(fs.info(full)), entries=[],
                       truncated=False, tabular=page_tabular.tabular_kind(rel) is not None)
    entries = []
    try:
        found = fs.ls(full, detail=True)
    except (OSError, ValueError) as exc:
        raise HTTPException(status_code=400, detail=f"cannot list {rel or 'the folder'}: {exc}")
    found = sorted(found, key=lambda e: (e.get("type") != "directory", str(e["name"])))
    for item in found[:MAX_ENTRIES]:
        name = PurePosixPath(str(item["name"]).rstrip("/")).name
        if folder.local and name.startswith(".tmp-"):
            continue
        child = f"{rel}/{name}" if rel else name
        is_dir = item.get("type") == "directory"
        entries.append(Entry(name=name, path=child, type="folder" if is_dir else "file",
                             size=None if is_dir else _size(item),
                             tabular=None if is_dir else page_tabular.tabular_kind(name)))
    tabular = any(e.tabular for e in entries) or (
        any(e.type == "folder" for e in entries) and bool(_tabular_under(folder, full, limit=1)))
    return Listing(**base, type="folder", entries=entries, truncated=len(found) > MAX_ENTRIES,
                   tabular=tabular)


def _size(info: dict) -> int | None:
    size = info.get("size")
    return int(size) if isinstance(size, (int, float)) else None


def _tabular_under(folder: _Folder, full: str, limit: int | None = None) -> list[str]:
    found = []
    try:
        walked = folder.fs.find(full)
    except (OSError, ValueError):
        return []
    for name in walked:
        inside = not folder.local or _inside(folder.root, name)
        if page_tabular.tabular_kind(str(name)) and inside:
            found.append(str(name))
            if limit and len(found) >= limit:
                break
    return page_tabular.tabular_files(found)


def _preview(folder: _Folder, path: str) -> Preview:
    full, rel = _target(folder, path)
    if _is_dir(folder.fs, full):
        files = _tabular_under(folder, full)
        if not files:
            raise HTTPException(status_code=400, detail=(
                f"{rel or 'the output folder'} holds no CSV, TSV or Parquet file to preview"))
    elif not folder.fs.exists(full):
        raise _missing(folder, rel)
    elif page_tabular.tabular_kind(rel) is None:
        raise HTTPException(status_code=400, detail=(
            f"{rel} is not a CSV, TSV or Parquet file: only tables can be previewed; download "
            "it instead"))
    else:
        files = [full]
    shown = [_relative(folder, f) for f in files]
    result = page_tabular.preview(folder.fs, files, shown)
    return Preview(runId=folder.run_id, output=folder.output, path=rel, **result)


# -- routes -------------------------------------------------------------------------------------
@router.get("/runs/{run_id}/outputs/{output}/files", response_model=Listing)
def output_files(request: Request, run_id: str = RunId, output: str = OutputName,
                 path: str = SubPath):
    """One folder of a step run's output: its files (with sizes) and folders."""
    return _listing(_output_folder(_store(request), run_id, output), path)


@router.get("/runs/{run_id}/outputs/{output}/preview", response_model=Preview)
def output_preview(request: Request, run_id: str = RunId, output: str = OutputName,
                   path: str = SubPath):
    """Studio classic's Visualize of a tabular file of an output, or of a folder of them."""
    return _preview(_output_folder(_store(request), run_id, output), path)


@router.get("/runs/{run_id}/outputs/{output}/download", response_class=FileResponse,
            responses={200: {"content": {"application/octet-stream": {}},
                             "description": "the file"}})
def output_download(request: Request, run_id: str = RunId, output: str = OutputName,
                    path: str = Query(..., min_length=1, max_length=4096,
                                      description="a file inside the output folder")):
    """One file of a step run's output."""
    folder = _output_folder(_store(request), run_id, output)
    full, rel = _target(folder, path)
    if not rel or _is_dir(folder.fs, full):
        raise HTTPException(status_code=400, detail=(
            f"{rel or 'the output folder'} is a folder: download its files one by one"))
    if not folder.fs.exists(full):
        raise _missing(folder, rel)
    name = PurePosixPath(rel).name
    media = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if folder.local:
        return FileResponse(full, media_type=media, filename=name)

    def chunks():
        with folder.fs.open(full, "rb") as f:
            while True:
                data = f.read(CHUNK)
                if not data:
                    return
                yield data
    disposition = f"attachment; filename*=utf-8''{quote(name)}"
    return StreamingResponse(chunks(), media_type=media,
                             headers={"Content-Disposition": disposition})


@router.get("/runs/{run_id}/artifacts/files", response_model=Listing)
def artifact_files(request: Request, run_id: str = RunId, path: str = SubPath):
    """One folder of the run's own files (``outputs/``, ``logs/``), with sizes; download them
    with ``GET /api/v1/runs/{id}/artifacts/{name}``."""
    folder = _artifact_folder(_store(request), run_id)
    if not _has_files(folder):
        if path.strip("/"):
            raise _missing(folder, path)
        return Listing(runId=folder.run_id, path="", type="folder", entries=[],
                       truncated=False, tabular=False)
    return _listing(folder, path)


@router.get("/runs/{run_id}/artifacts/preview", response_model=Preview)
def artifact_preview(request: Request, run_id: str = RunId, path: str = SubPath):
    """Visualize a tabular file of the run's own files (or a folder of them)."""
    folder = _artifact_folder(_store(request), run_id)
    if not _has_files(folder):
        raise _missing(folder, path)
    return _preview(folder, path)


@router.get("/compare", response_model=Comparison)
def compare_runs(request: Request,
                 a: str = Query(..., min_length=1, max_length=256, description="a run id"),
                 b: str = Query(..., min_length=1, max_length=256, description="another run id")):
    """Two runs side by side: status, duration, parameters, per step the reuse key's parts and
    the environment digest (which steps differ, and in which parts), and the metrics' last
    values."""
    store = _store(request)
    return compare(store, _get_run(store, a), _get_run(store, b))
