"""Files of the store on the local filesystem: run artifacts and model versions.

Writes go to a temporary name first and are renamed into place, so a reader never sees half a
file and a crash leaves nothing half-written behind.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath

from .._files import write_once
from ..errors import UserErrorException


def safe_relpath(name: str) -> str:
    """Normalise an artifact name; refuse absolute paths and ``..`` (they would escape the run)."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise UserErrorException(
            f"artifact name {name!r} must be a relative path inside the run, "
            "such as 'outputs/model.pkl'")
    return str(path)


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


class LocalFiles:
    """Artifact and model folders under ``AMLOCAL_HOME``."""

    def __init__(self, artifacts_root: Path, models_root: Path):
        self.artifacts_root = artifacts_root
        self.models_root = models_root

    def run_dir(self, run_id: str) -> Path:
        return self.artifacts_root / run_id

    def put_artifact(self, run_id: str, name: str, source: Path) -> None:
        atomic_copy(Path(source), self.run_dir(run_id) / safe_relpath(name))

    def list_artifacts(self, run_id: str) -> list[str]:
        root = self.run_dir(run_id)
        if not root.is_dir():
            return []
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                      if p.is_file() and not p.name.startswith(".tmp-"))

    def fetch_artifact(self, run_id: str, name: str, destination: Path) -> Path:
        source = self.run_dir(run_id) / safe_relpath(name)
        if not source.is_file():
            raise UserErrorException(
                f"run {run_id} has no file {name!r}; its files are: "
                f"{', '.join(self.list_artifacts(run_id)) or '(none)'}")
        atomic_copy(source, Path(destination))
        return Path(destination)

    def append_artifact(self, run_id: str, name: str, data: bytes) -> None:
        target = self.run_dir(run_id) / safe_relpath(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "ab") as f:
            f.write(data)

    def read_artifact(self, run_id: str, name: str, offset: int = 0) -> bytes:
        target = self.run_dir(run_id) / safe_relpath(name)
        try:
            with open(target, "rb") as f:
                f.seek(offset)
                return f.read()
        except FileNotFoundError:
            return b""

    def model_dir(self, workspace_id: str, name: str, version: int) -> Path:
        return self.models_root / workspace_id / name / str(version)

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
        source = self.model_dir(workspace_id, name, version) / rel
        target_dir = Path(target_dir)
        target_dir.mkdir(parents=True, exist_ok=True)
        destination = target_dir / source.name
        if source.is_dir():
            shutil.copytree(source, destination, dirs_exist_ok=True)
        else:
            shutil.copy2(source, destination)
        return destination
