"""Files of the store: run artifacts (logs and outputs included), model versions and, for a
shared location, snapshots.

:class:`StoreFiles` is the interface; :class:`LocalFiles` keeps them on this machine's filesystem
(under ``AMLOCAL_HOME``, or under the folder of a ``file://`` ``AMLOCAL_ARTIFACTS_URL``, e.g. an
NFS mount every machine shares); :class:`amlocal.store.files_fsspec.FsspecFiles` keeps them on any
other fsspec location (``az://container/prefix`` on Azure Blob through adlfs).
:func:`amlocal.store.files_open.open_files` picks one from the settings.

Every name is validated (:func:`safe_relpath`, :func:`_component`) and no path leaves its root.
Local writes go to a temporary name first and are renamed into place, so a reader never sees half
a file and a crash leaves nothing half-written behind.
"""
from __future__ import annotations

import abc
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath

from .._files import write_once
from ..errors import UserErrorException


def safe_relpath(name: str) -> str:
    """Normalise an artifact name; refuse absolute paths, ``..`` and NUL (they would escape the
    run or cut the name short)."""
    if not isinstance(name, str):
        raise UserErrorException(f"artifact name must be a string, not {type(name).__name__}")
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or not path.parts or "\x00" in name:
        raise UserErrorException(
            f"artifact name {name!r} must be a relative path inside the run, "
            "such as 'outputs/model.pkl'")
    return str(path)


def _component(value, what: str) -> str:
    """One folder name made from an identifier (a run id, a workspace id, a model name)."""
    text = str(value)
    if (not text or text in (".", "..") or "/" in text or "\\" in text or "\x00" in text
            or text != text.strip()):
        raise UserErrorException(f"{what} {value!r} cannot name a folder of the store: it must "
                                 "not be empty, '.', '..' or hold '/', '\\' or NUL")
    return text


def inside(root: Path, path: Path, what: str) -> Path:
    """``path`` when it resolves (symbolic links followed) to a place under ``root``; else
    UserErrorException. Every file the store reads or writes passes through this."""
    resolved_root = Path(root).resolve()
    if not Path(path).resolve().is_relative_to(resolved_root):
        raise UserErrorException(f"{what} resolves outside its folder of the store; refusing it")
    return Path(path)


def atomic_copy(source: Path, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=destination.parent, prefix=".tmp-")
    os.close(fd)
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, destination)
    except BaseException:
        os.unlink(tmp)
        raise


class StoreFiles(abc.ABC):
    """Where the store keeps files: each run's artifacts, each model version's files.

    ``remote`` is True for a location other machines reach through fsspec (not this machine's
    filesystem); such a location also keeps snapshots (``has_snapshot``, ``put_snapshot``,
    ``get_snapshot`` of :class:`~amlocal.store.files_fsspec.FsspecFiles`).
    """

    remote = False

    @abc.abstractmethod
    def put_artifact(self, run_id: str, name: str, source: Path) -> None:
        """Store the local file ``source`` as the run's artifact ``name``, atomically."""

    @abc.abstractmethod
    def list_artifacts(self, run_id: str) -> list[str]:
        """The run's artifact names, sorted."""

    @abc.abstractmethod
    def fetch_artifact(self, run_id: str, name: str, destination: Path) -> Path:
        """Copy one artifact to the local file ``destination`` (atomically); UserErrorException
        naming the run's files when there is no such artifact."""

    @abc.abstractmethod
    def append_artifact(self, run_id: str, name: str, data: bytes) -> None:
        """Append to a growing artifact (a live log)."""

    @abc.abstractmethod
    def read_artifact(self, run_id: str, name: str, offset: int = 0) -> bytes:
        """The artifact's bytes from ``offset`` on; empty when it does not exist (yet)."""

    @abc.abstractmethod
    def store_model_files(self, workspace_id: str, name: str, version: int, source: Path) -> str:
        """Copy a local model file or folder in; return its path relative to the version."""

    @abc.abstractmethod
    def copy_model_out(self, workspace_id: str, name: str, version: int, rel: str,
                       target_dir: Path) -> Path:
        """Copy a model version's entry ``rel`` into the local folder ``target_dir``."""

    @abc.abstractmethod
    def model_url(self, workspace_id: str, name: str, version: int, rel: str) -> str:
        """Where a model version's entry is: a ``file://`` URI, or the shared location's URL."""

    @abc.abstractmethod
    def run_folder(self, run_id: str) -> tuple:
        """``(fsspec filesystem, path of the run's folder on it, is_local)`` for browsing."""

    @abc.abstractmethod
    def delete_run_files(self, run_id: str) -> None:
        """Remove every file of the run (nothing there is fine)."""

    @abc.abstractmethod
    def delete_model_files(self, workspace_id: str) -> None:
        """Remove the files of every model version of the workspace."""


class LocalFiles(StoreFiles):
    """Artifact and model folders on this machine's filesystem (under ``AMLOCAL_HOME``, or the
    folder of a ``file://`` ``AMLOCAL_ARTIFACTS_URL``)."""

    def __init__(self, artifacts_root: Path, models_root: Path):
        self.artifacts_root = artifacts_root
        self.models_root = models_root

    def run_dir(self, run_id: str) -> Path:
        return inside(self.artifacts_root, self.artifacts_root / _component(run_id, "run id"),
                      f"the files of run {run_id!r}")

    def _artifact(self, run_id: str, name: str) -> Path:
        root = self.run_dir(run_id)
        return inside(root, root / safe_relpath(name), f"artifact {name!r} of run {run_id}")

    def put_artifact(self, run_id: str, name: str, source: Path) -> None:
        atomic_copy(Path(source), self._artifact(run_id, name))

    def list_artifacts(self, run_id: str) -> list[str]:
        root = self.run_dir(run_id)
        if not root.is_dir():
            return []
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                      if p.is_file() and not p.name.startswith(".tmp-"))

    def fetch_artifact(self, run_id: str, name: str, destination: Path) -> Path:
        source = self._artifact(run_id, name)
        if not source.is_file():
            raise UserErrorException(
                f"run {run_id} has no file {name!r}; its files are: "
                f"{', '.join(self.list_artifacts(run_id)) or '(none)'}")
        atomic_copy(source, Path(destination))
        return Path(destination)

    def append_artifact(self, run_id: str, name: str, data: bytes) -> None:
        target = self._artifact(run_id, name)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "ab") as f:
            f.write(data)

    def read_artifact(self, run_id: str, name: str, offset: int = 0) -> bytes:
        target = self._artifact(run_id, name)
        try:
            with open(target, "rb") as f:
                f.seek(offset)
                return f.read()
        except FileNotFoundError:
            return b""

    def model_dir(self, workspace_id: str, name: str, version: int) -> Path:
        folder = (self.models_root / _component(workspace_id, "workspace id")
                  / _component(name, "model name") / str(int(version)))
        return inside(self.models_root, folder, f"model {name}:{version}")

    def store_model_files(self, workspace_id: str, name: str, version: int, source: Path) -> str:
        """Copy a model file or folder in; return its path relative to the version folder."""
        source = Path(source)

        def fill(staging: Path) -> None:
            if source.is_dir():
                shutil.copytree(source, staging / source.name)
            else:
                shutil.copy2(source, staging / source.name)

        write_once(self.model_dir(workspace_id, name, version), fill)
        return source.name

    def copy_model_out(self, workspace_id: str, name: str, version: int, rel: str,
                       target_dir: Path) -> Path:
        folder = self.model_dir(workspace_id, name, version)
        source = inside(folder, folder / safe_relpath(rel), f"the files of model {name}:{version}")
        target_dir = Path(target_dir)
        target_dir.mkdir(parents=True, exist_ok=True)
        destination = target_dir / source.name
        if source.is_dir():
            shutil.copytree(source, destination, dirs_exist_ok=True)
        else:
            shutil.copy2(source, destination)
        return destination

    def model_url(self, workspace_id: str, name: str, version: int, rel: str) -> str:
        return (Path(self.model_dir(workspace_id, name, version)) / rel).absolute().as_uri()

    def run_folder(self, run_id: str) -> tuple:
        from fsspec.implementations.local import LocalFileSystem
        return LocalFileSystem(), str(self.run_dir(run_id)), True

    def delete_run_files(self, run_id: str) -> None:
        shutil.rmtree(self.run_dir(run_id), ignore_errors=True)

    def delete_model_files(self, workspace_id: str) -> None:
        shutil.rmtree(self.models_root / _component(workspace_id, "workspace id"),
                      ignore_errors=True)
