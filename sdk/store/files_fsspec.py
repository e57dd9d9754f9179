"""The store's files on a shared fsspec location (``AMLOCAL_ARTIFACTS_URL``), so that every
machine of a cluster sharing one store reads what any of them wrote.

Layout under the URL (the same as under ``AMLOCAL_HOME``)::

    artifacts/<run id>/<artifact name>                 logs, outputs, uploaded files
    models/<workspace id>/<name>/<version>/<entry>     a model version's file or folder
    models/<workspace id>/<name>/<version>.manifest.json   written last: the version is complete
    snapshots/<digest>/<files>                         a step's source snapshot
    snapshots/<digest>.manifest.json                   written last: the snapshot is complete

Guarantees, as :class:`~amlocal.store.files.LocalFiles` keeps them:

- names are validated (:func:`safe_relpath`, :func:`_component`): no absolute path, no ``..``,
  no NUL; every path is the root joined with validated parts, so none leaves the root (object
  stores have no symbolic links to follow).
- writes are atomic for readers: on object stores (Azure Blob, S3, GCS) one upload makes one
  object appear whole or not at all; on any other filesystem a file is written under a
  temporary name (``.tmp-...``, never listed) and moved into place. A folder (a model version,
  a snapshot) is complete once its manifest exists; readers go by the manifest.
- ``append_artifact``: on Azure an append blob (one ``Append Block`` per chunk, atomic on the
  service); elsewhere a read-modify-write under a lock file of this machine (the one runner
  streaming a step's log is that log's only writer).
- ``read_artifact`` reads a byte range from ``offset``; fetches write local files atomically.

Errors: a missing filesystem package (adlfs), bad storage options, an unreachable endpoint or
a missing container raise an error naming ``AMLOCAL_ARTIFACTS_URL``.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
import uuid
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit, urlunsplit

from .._settings import ARTIFACTS_OPTIONS, ARTIFACTS_URL
from ..errors import StoreError, UserErrorException
from . import files_azure
from .files import StoreFiles, _component, safe_relpath

# protocols where one upload makes the object appear whole (no temporary name needed)
ATOMIC_PUT = frozenset({"az", "abfs", "abfss", "s3", "s3a", "gs", "gcs", "memory"})
TMP_PREFIX = ".tmp-"
MANIFEST = ".manifest.json"
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def parse_options(text: str | None) -> dict:
    """The storage options of ``AMLOCAL_ARTIFACTS_OPTIONS`` (a JSON object; unset: none)."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UserErrorException(
            f"{ARTIFACTS_OPTIONS} is not valid JSON ({getattr(exc, 'msg', exc)}); give a JSON "
            "object of the filesystem's storage options, e.g. "
            "'{\"connection_string\": \"...\"}'") from None
    if not isinstance(value, dict):
        raise UserErrorException(f"{ARTIFACTS_OPTIONS} must be a JSON object of storage "
                                 f"options, not a {type(value).__name__}")
    return value


def redact(url: str) -> str:
    """``url`` without user information or query (where credentials could be)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, "***" if parts.query else "", ""))


def _protocol(url: str) -> str:
    first = url.split("::", 1)[0]
    return first.split("://", 1)[0].lower() if "://" in first else "file"


class FsspecFiles(StoreFiles):
    """Artifacts, models and snapshots on an fsspec URL (see the module's docstring)."""

    remote = True

    def __init__(self, url: str, options: dict | None = None, locks: Path | None = None):
        head, sep, tail = url.partition("://")
        self.url = head + sep + tail.rstrip("/")
        self.shown = redact(self.url)
        self.protocol = _protocol(self.url)
        self.fs, self.root = self._open(dict(options or {}))
        self.locks = Path(locks) if locks is not None else Path(tempfile.gettempdir())
        self._checked = False

    @classmethod
    def from_settings(cls, settings) -> "FsspecFiles":
        return cls(settings.artifacts_url, parse_options(settings.artifacts_options),
                   settings.locks)

    # -- plumbing ---------------------------------------------------------------------------
    def _open(self, options: dict):
        where = f"{ARTIFACTS_URL}={self.shown}"
        try:
            import fsspec
            import fsspec.core
        except ImportError:
            raise UserErrorException(f"{where} needs fsspec: pip install fsspec") from None
        try:
            fsspec.get_filesystem_class(self.protocol)
        except ImportError as exc:
            raise UserErrorException(
                f"{where} needs the filesystem package for '{self.protocol}://': "
                f"{exc or 'it is not installed'} (for az:// and abfs://: pip install adlfs)"
            ) from None
        except ValueError:
            raise UserErrorException(
                f"{where}: fsspec does not know the protocol '{self.protocol}'; use e.g. "
                "az://container/prefix, abfs://container/prefix or file:///shared/folder"
            ) from None
        if self.protocol in files_azure.AZURE_PROTOCOLS:
            # adlfs reads these itself, but fsspec caches one instance per URL and options:
            # named here, a changed variable gives a new instance instead of a stale one
            options = {**files_azure.env_options(), **options}
        try:
            fs, root = fsspec.core.url_to_fs(self.url, **options)
        except (TypeError, ValueError) as exc:
            raise UserErrorException(
                f"cannot open {where} with storage options {sorted(options)}: "
                f"{files_azure.first_line(exc)}. Give the filesystem's storage options in "
                f"{ARTIFACTS_OPTIONS} (a JSON object) or, for Azure, set "
                "AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT_NAME with "
                "AZURE_STORAGE_ACCOUNT_KEY or AZURE_STORAGE_SAS_TOKEN") from None
        root = root.rstrip("/")
        if self.protocol in files_azure.AZURE_PROTOCOLS and not files_azure.split(root)[0]:
            raise UserErrorException(f"{where} names no container: use az://container/prefix")
        return fs, root

    def _check(self) -> None:
        """Once per instance: the location answers (Azure: a listing without retries)."""
        if self._checked:
            return
        if self.protocol in files_azure.AZURE_PROTOCOLS:
            files_azure.probe(self.fs, self.root, self.shown)
        self._checked = True

    @contextlib.contextmanager
    def _reach(self, what: str):
        """Check the location, then turn a failure of the filesystem into an error naming
        the setting (a missing file is for the caller to handle before this sees it)."""
        self._check()
        try:
            yield
        except (UserErrorException, StoreError):
            raise
        except Exception as exc:  # noqa: BLE001 - a remote filesystem's own errors
            if self.protocol in files_azure.AZURE_PROTOCOLS and type(exc).__module__.startswith(
                    "azure."):
                raise files_azure.explain(exc, files_azure.split(self.root)[0],
                                          self.shown) from None
            raise StoreError(f"{what} at {ARTIFACTS_URL}={self.shown} failed: "
                             f"{type(exc).__name__}: {files_azure.first_line(exc)}") from None

    def _path(self, *parts: str) -> str:
        path = "/".join((self.root, *parts))
        if ".." in PurePosixPath(path).parts[len(PurePosixPath(self.root).parts):]:
            raise UserErrorException("a path of the store's files leaves its root; refusing it")
        return path

    def _put(self, local: Path, remote: str) -> None:
        self._put_many([(Path(local), remote)])

    def _put_many(self, pairs: list[tuple[Path, str]]) -> None:
        if not pairs:
            return
        if self.protocol in ATOMIC_PUT:
            self.fs.put([str(a) for a, _ in pairs], [b for _, b in pairs])
            return
        for local, remote in pairs:
            parent, _, base = remote.rpartition("/")
            self.fs.makedirs(parent, exist_ok=True)
            tmp = f"{parent}/{TMP_PREFIX}{uuid.uuid4().hex}-{base}"
            self.fs.put_file(str(local), tmp)
            try:
                self.fs.mv(tmp, remote)
            except BaseException:
                with contextlib.suppress(Exception):
                    self.fs.rm_file(tmp)
                raise

    def _pipe(self, remote: str, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(prefix=".amlocal-upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            self._put(Path(tmp), remote)
        finally:
            os.unlink(tmp)

    def _get_many(self, pairs: list[tuple[str, Path]]) -> None:
        """Download each remote file to its local path, each written under a temporary name
        and renamed into place."""
        temps = []
        try:
            for _, local in pairs:
                local.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=local.parent, prefix=TMP_PREFIX)
                os.close(fd)
                temps.append(tmp)
            if pairs:
                self.fs.get([r for r, _ in pairs], temps)
            for tmp, (_, local) in zip(temps, pairs):
                os.replace(tmp, local)
        finally:
            for tmp in temps:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)

    def _manifest(self, path: str) -> dict | None:
        try:
            data = json.loads(self.fs.cat_file(path))
        except FileNotFoundError:
            return None
        files = [safe_relpath(f) for f in data.get("files", [])]   # the shared copy is untrusted
        return {**data, "files": files}

    # -- artifacts --------------------------------------------------------------------------
    def _run(self, run_id: str) -> str:
        return self._path("artifacts", _component(run_id, "run id"))

    def _artifact(self, run_id: str, name: str) -> str:
        return self._path("artifacts", _component(run_id, "run id"), safe_relpath(name))

    def put_artifact(self, run_id, name, source):
        target = self._artifact(run_id, name)
        with self._reach(f"storing {name!r} of run {run_id}"):
            self._put(Path(source), target)

    def list_artifacts(self, run_id):
        prefix = self._run(run_id)
        with self._reach(f"listing the files of run {run_id}"):
            self.fs.invalidate_cache(prefix)
            try:
                found = self.fs.find(prefix)
            except FileNotFoundError:
                return []
        start = len(prefix) + 1
        return sorted(p[start:] for p in found if p.startswith(prefix + "/")
                      and not PurePosixPath(p).name.startswith(TMP_PREFIX))

    def fetch_artifact(self, run_id, name, destination):
        source = self._artifact(run_id, name)
        destination = Path(destination)
        with self._reach(f"reading {name!r} of run {run_id}"):
            try:
                self._get_many([(source, destination)])
                return destination
            except FileNotFoundError:
                pass
        raise UserErrorException(
            f"run {run_id} has no file {name!r}; its files are: "
            f"{', '.join(self.list_artifacts(run_id)) or '(none)'}")

    def append_artifact(self, run_id, name, data):
        target = self._artifact(run_id, name)
        data = bytes(data)
        with self._reach(f"appending to {name!r} of run {run_id}"):
            if self.protocol in files_azure.AZURE_PROTOCOLS:
                if not data or files_azure.append(self.fs, target, data):
                    return
            import filelock
            self.locks.mkdir(parents=True, exist_ok=True)
            key = hashlib.sha256(f"{self.url}\0{target}".encode()).hexdigest()[:32]
            with filelock.FileLock(str(self.locks / f"append-{key}.lock"), timeout=120):
                try:
                    old = self.fs.cat_file(target)
                except FileNotFoundError:
                    old = b""
                self._pipe(target, old + data)

    def read_artifact(self, run_id, name, offset=0):
        target = self._artifact(run_id, name)
        offset = max(0, int(offset))
        with self._reach(f"reading {name!r} of run {run_id}"):
            try:
                return bytes(self.fs.cat_file(target, start=offset or None))
            except FileNotFoundError:
                return b""
            except Exception:  # noqa: BLE001 - a range past the end is an error on some stores
                if offset and self.fs.size(target) <= offset:
                    return b""
                raise

    def run_folder(self, run_id):
        prefix = self._run(run_id)
        self.fs.invalidate_cache(prefix)       # listings made now, not from an earlier call
        return self.fs, prefix, False

    def delete_run_files(self, run_id):
        self._remove(self._run(run_id))

    def _remove(self, path: str) -> None:
        with self._reach(f"deleting {path}"):
            self.fs.invalidate_cache(path)
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm(path, recursive=True)

    # -- models -----------------------------------------------------------------------------
    def _model(self, workspace_id: str, name: str, version: int) -> str:
        return self._path("models", _component(workspace_id, "workspace id"),
                          _component(name, "model name"), str(int(version)))

    def store_model_files(self, workspace_id, name, version, source):
        source = Path(source)
        entry = _component(source.name, "model file name")
        folder = self._model(workspace_id, name, version)
        if source.is_dir():
            pairs = [(p, f"{entry}/{p.relative_to(source).as_posix()}")
                     for p in sorted(source.rglob("*")) if p.is_file()]
        else:
            pairs = [(source, entry)]
        with self._reach(f"storing model {name}:{version}"):
            if self._manifest(folder + MANIFEST) is not None:
                return entry                      # written once
            self._put_many([(local, f"{folder}/{rel}") for local, rel in pairs])
            self._pipe(folder + MANIFEST, json.dumps(
                {"entry": entry, "folder": source.is_dir(),
                 "files": [rel for _, rel in pairs]}).encode())
        return entry

    def copy_model_out(self, workspace_id, name, version, rel, target_dir):
        rel = safe_relpath(rel)
        folder = self._model(workspace_id, name, version)
        with self._reach(f"reading model {name}:{version}"):
            manifest = self._manifest(folder + MANIFEST)
            if manifest is None:
                raise UserErrorException(
                    f"the files of model {name}:{version} are missing from {ARTIFACTS_URL}="
                    f"{self.shown} (still being registered, or deleted there)")
            chosen = [f for f in manifest["files"] if f == rel or f.startswith(rel + "/")]
            target_dir = Path(target_dir)
            destination = target_dir / PurePosixPath(rel).name
            if not chosen and not manifest.get("folder"):
                raise UserErrorException(f"model {name}:{version} has no file {rel!r}")
            target_dir.mkdir(parents=True, exist_ok=True)
            if manifest.get("folder") and rel == manifest.get("entry"):
                destination.mkdir(exist_ok=True)           # an empty folder comes back too
            self._get_many([(f"{folder}/{f}", destination / f[len(rel):].lstrip("/")
                             if f != rel else destination) for f in chosen])
        return destination

    def model_url(self, workspace_id, name, version, rel):
        return f"{self.protocol}://{self._model(workspace_id, name, version)}/{safe_relpath(rel)}"

    def delete_model_files(self, workspace_id):
        self._remove(self._path("models", _component(workspace_id, "workspace id")))

    # -- snapshots --------------------------------------------------------------------------
    def _snapshot(self, digest: str) -> str:
        if not isinstance(digest, str) or not _DIGEST.match(digest):
            raise UserErrorException(f"{digest!r} is not a snapshot id (64 hex digits)")
        return self._path("snapshots", digest)

    def has_snapshot(self, digest: str) -> bool:
        path = self._snapshot(digest) + MANIFEST
        with self._reach(f"looking for snapshot {digest[:12]}"):
            self.fs.invalidate_cache(path.rpartition("/")[0])
            return bool(self.fs.exists(path))

    def put_snapshot(self, digest: str, folder: Path, files: list[str]) -> None:
        """Upload a stored snapshot (its ``files``, relative POSIX paths) unless it is there."""
        base = self._snapshot(digest)
        if self.has_snapshot(digest):
            return
        with self._reach(f"storing snapshot {digest[:12]}"):
            self._put_many([(Path(folder) / rel, f"{base}/{safe_relpath(rel)}") for rel in files])
            self._pipe(base + MANIFEST, json.dumps({"files": list(files)}).encode())

    def get_snapshot(self, digest: str, destination: Path) -> list[str]:
        """Download snapshot ``digest`` into the local folder ``destination``; return its files.
        UserErrorException when the location does not hold it."""
        base = self._snapshot(digest)
        with self._reach(f"reading snapshot {digest[:12]}"):
            manifest = self._manifest(base + MANIFEST)
            if manifest is None:
                raise UserErrorException(
                    f"snapshot {digest[:12]} is missing from {ARTIFACTS_URL}={self.shown}; "
                    "submit or publish the pipeline again")
            self._get_many([(f"{base}/{rel}", Path(destination) / rel)
                            for rel in manifest["files"]])
        return manifest["files"]
