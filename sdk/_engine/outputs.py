"""A step's data on the host: where its outputs go, how its inputs are bound, what is uploaded
and registered after it finishes.

Every output, a PipelineData or an OutputFileDatasetConfig, is a folder ``path`` on a datastore
(PipelineData: ``azureml/{run-id}/{output-name}`` on its datastore, as on Azure). On a ``file://``
datastore a ``mount`` output is that folder itself, bind-mounted read-write; otherwise (``upload``
mode, or a remote datastore) the step writes to a staging folder that is uploaded when the step
has finished. Consumers bind the folder like any file dataset: a read-only bind mount on
``file://``, a cached copy from a remote store.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat as os_stat
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import UserErrorException
from .graph import NodeOutput

OUTPUTS_ROOT = "/amlocal/outputs"
DIGEST_READ_LIMIT = 64 * 1024 * 1024  # bigger files count by size and mtime, not by content


@dataclass(frozen=True)
class OutputLocation:
    """Where one output of one step run lives."""

    name: str
    datastore: str
    path: str                     # relative to the datastore's root
    local: str | None = None      # the host folder, for a file:// datastore
    digest: str | None = None     # its content digest, taken once when the producer finished

    def to_dict(self) -> dict:
        return asdict(self)

    def as_definition(self) -> dict:
        """The output folder as a FileDataset definition (what consumers and registration use)."""
        return {"schema_version": 1, "type": "FileDataset",
                "sources": [{"datastore": self.datastore, "path": self.path}],
                "partition_format": None, "is_file": False}


def locate_output(out: NodeOutput, step_run_id: str, datastore_info) -> OutputLocation:
    """Resolve an output of the frozen graph for one step run."""
    from amlocal.datastores.fs import local_path
    path = out.path.replace("{run-id}", step_run_id).replace("{output-name}", out.name)
    info = datastore_info(out.datastore)
    local = str(Path(local_path(info.url)) / path) if info.url.startswith("file://") else None
    return OutputLocation(out.name, info.name, path, local)


def folder_digest(folder: str | None) -> str:
    """A content digest of an output folder: relative path and sha256 of every file (size and
    mtime for files over 64 MB)."""
    h = hashlib.sha256()
    if not folder or not os.path.isdir(folder):
        return h.hexdigest()
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            # any name (not UTF-8, newlines) counts by its bytes; a link by where it points
            h.update(os.fsencode(os.path.relpath(path, folder)) + b"\0")
            try:
                stat = os.lstat(path)
            except FileNotFoundError:
                continue
            if not os_stat.S_ISREG(stat.st_mode):
                h.update(b"link:" + os.fsencode(os.readlink(path)) if os.path.islink(path)
                         else f"special:{stat.st_mode}".encode())
                continue
            if stat.st_size > DIGEST_READ_LIMIT:
                h.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
            else:
                with open(path, "rb") as f:
                    h.update(hashlib.file_digest(f, "sha256").digest()
                             if hasattr(hashlib, "file_digest") else hashlib.sha256(f.read()).digest())
    return h.hexdigest()


MAX_NAME_BYTES = 255  # one path component on the usual file systems


def artifact_name(rel: str) -> str:
    """The artifact name of a file a step left (``rel``: its relative path, as ``os`` gives it).
    A name that is not UTF-8, or holds control characters (a newline) or backslashes, is kept
    with those bytes written ``%XX`` (e.g. ``caf%E9.txt``); other names are kept as they are."""
    out = []
    for ch in os.fsencode(rel).decode("utf-8", "surrogateescape"):
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:          # a byte that is not UTF-8
            out.append(f"%{code - 0xDC00:02X}")
        elif code < 32 or code == 127 or ch == "\\":
            out.append(f"%{code:02X}")
        else:
            out.append(ch)
    return "".join(out)


def collectable_files(root: Path) -> tuple[list[tuple[Path, str]], list[str]]:
    """The files under a step's ``root`` folder (its outputs/ or logs/) to keep as artifacts, as
    (path, artifact name relative to root), and a warning for each one left out or renamed.

    Symbolic links are never followed (a link to a host file or folder brings nothing in), nor
    are pipes, sockets or devices kept; a name that would be too long once escaped is left out.
    Each such file is named in a warning."""
    files, notes = [], []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames) + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            shown = artifact_name(rel)
            if path.is_symlink():
                notes.append(f"{shown} is a symbolic link: not kept (links are not followed out "
                             "of the step's folder; copy the file there instead)")
                continue
            try:
                mode = path.lstat().st_mode
            except FileNotFoundError:
                continue
            if not os_stat.S_ISREG(mode):
                notes.append(f"{shown} is not a regular file (a pipe, socket or device): not kept")
                continue
            if any(len(part.encode()) > MAX_NAME_BYTES for part in shown.split("/")):
                notes.append(f"{shown[:80]}... : its name is too long once escaped: not kept")
                continue
            if shown != rel:
                notes.append(f"{shown}: the file name is not plain UTF-8 text; kept under this "
                             "escaped name")
            files.append((path, shown))
    return files, notes


def writes_in_place(out: NodeOutput, location: OutputLocation) -> bool:
    """Whether the step writes straight into the destination (mount mode on a local store)."""
    return out.mode == "mount" and location.local is not None


def finish_output(out: NodeOutput, location: OutputLocation, staging: Path, datastore_info) -> None:
    """After a successful step: upload a staged output to its datastore (a mount-mode output
    replaces what is there; an upload-mode one follows its ``overwrite``)."""
    from amlocal.datastores import upload_output
    info = datastore_info(location.datastore)
    upload_output(str(staging), info.url, dict(info.options), location.path,
                  overwrite=out.overwrite or out.mode == "mount",
                  source_globs=out.source_globs, show_progress=False)


def register_output(store, workspace_id: str, out: NodeOutput, location: OutputLocation) -> str | None:
    """Register the output folder as a dataset version when the graph asks for it."""
    registration = out.registration
    if not registration:
        return None
    from amlocal.datastores.paths import definition_id
    from ..store.entities import DatasetInfo
    definition = location.as_definition()
    info = store.register_dataset(DatasetInfo(
        workspace_id=workspace_id, name=registration["name"], version=0,
        id=definition_id(definition), definition=definition,
        description=registration.get("description"), tags=registration.get("tags") or {}),
        create_new_version=True)
    return f"{info.name}:{info.version}"


def staging_dir(work: Path, step_run_id: str, name: str) -> Path:
    folder = work / f"{step_run_id}-outputs" / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def require_output(outputs: dict, name: str, step: str) -> OutputLocation:
    if name not in outputs:
        raise UserErrorException(f"step '{step}' reads output '{name}', which no earlier step "
                                 "of this run produced")
    return outputs[name]
