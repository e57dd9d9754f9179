"""Where amlocal keeps things, read from the environment each time it is asked (no globals).

``AMLOCAL_HOME`` (default ``~/.amlocal``) holds the metadata database, artifacts, models,
snapshots, locks and logs. ``AMLOCAL_STORE_URL`` replaces the embedded SQLite database with any
SQLAlchemy URL (e.g. ``postgresql://...``).

``AMLOCAL_ARTIFACTS_URL`` moves the store's files (run artifacts with logs and outputs, model
versions, snapshots) where several machines sharing one store all reach them: a ``file://``
folder (an NFS mount; used as this machine's folders, exactly as the home's) or any fsspec URL
(``az://container/prefix``, ``abfs://...``) with storage options from
``AMLOCAL_ARTIFACTS_OPTIONS`` (a JSON object, as a datastore's) or, for Azure, adlfs's own
``AZURE_STORAGE_*`` variables. Unset: everything stays under ``AMLOCAL_HOME``, as before. With a
remote URL the home keeps a verified cache of snapshots only.

The home holds secrets (datastore credentials in the database, service keys): the store creates
it 0700 and the SQLite database 0600 (:func:`secure_home`, :func:`private_file`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

ARTIFACTS_URL = "AMLOCAL_ARTIFACTS_URL"
ARTIFACTS_OPTIONS = "AMLOCAL_ARTIFACTS_OPTIONS"


@dataclass(frozen=True)
class Settings:
    home: Path
    store_url: str
    artifacts_url: str | None = None        # AMLOCAL_ARTIFACTS_URL; None: the home
    artifacts_options: str | None = field(default=None, repr=False)  # JSON; may hold secrets

    @property
    def artifacts_remote(self) -> bool:
        """Whether the store's files live on a remote fsspec location (not a local folder)."""
        return self.artifacts_url is not None and _local_folder(self.artifacts_url) is None

    @property
    def files_root(self) -> Path:
        """The local folder holding artifacts, models and snapshots: a ``file://``
        ``AMLOCAL_ARTIFACTS_URL``'s folder, else the home (with a remote URL: the snapshot
        cache only)."""
        folder = _local_folder(self.artifacts_url) if self.artifacts_url else None
        return folder if folder is not None else self.home

    @property
    def artifacts(self) -> Path:
        return self.files_root / "artifacts"

    @property
    def models(self) -> Path:
        return self.files_root / "models"

    @property
    def snapshots(self) -> Path:
        return self.files_root / "snapshots"

    @property
    def locks(self) -> Path:
        return self.home / "locks"

    @property
    def build_logs(self) -> Path:
        return self.home / "build-logs"

    @property
    def datastores(self) -> Path:
        return self.home / "datastores"

    @property
    def venvs(self) -> Path:
        return self.home / "venvs"


def secure_home(home: Path) -> Path:
    """Create ``home`` readable by its owner only (0700): it holds the database with datastore
    credentials, service keys, artifacts and models. An existing home of this user that others
    can enter is made 0700 too. Returns ``home``."""
    home = Path(home)
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = home.stat()
    if info.st_uid == os.getuid() and info.st_mode & 0o077:
        os.chmod(home, 0o700)
    return home


def private_file(path: Path) -> Path:
    """Create ``path`` (empty) readable and writable by its owner only (0600), or make an
    existing file of this user 0600. Returns ``path``."""
    path = Path(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        info = os.fstat(fd)
        if info.st_uid == os.getuid() and info.st_mode & 0o077:
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    return path


def write_private(path: Path, text: str) -> Path:
    """Replace ``path`` with ``text`` atomically, 0600 from its first byte (keys, secrets)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def _local_folder(url: str | None) -> Path | None:
    """The folder of a ``file://`` URL or a plain path; None for any other URL."""
    if not url:
        return None
    if url.startswith("file://"):
        return Path(unquote(url[len("file://"):]) or "/").expanduser().resolve()
    if "://" in url or "::" in url:
        return None
    return Path(url).expanduser().resolve()


def current() -> Settings:
    home = Path(os.environ.get("AMLOCAL_HOME") or Path.home() / ".amlocal").expanduser().resolve()
    url = os.environ.get("AMLOCAL_STORE_URL") or f"sqlite:///{home / 'amlocal.db'}"
    return Settings(home=home, store_url=url,
                    artifacts_url=os.environ.get(ARTIFACTS_URL) or None,
                    artifacts_options=os.environ.get(ARTIFACTS_OPTIONS) or None)
