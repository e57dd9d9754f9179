"""Where amlocal keeps things, read from the environment each time it is asked (no globals).

``AMLOCAL_HOME`` (default ``~/.amlocal``) holds the metadata database, artifacts, models,
snapshots, locks and logs. ``AMLOCAL_STORE_URL`` replaces the embedded SQLite database with any
SQLAlchemy URL (e.g. ``postgresql://...``); files still live under ``AMLOCAL_HOME``.

The home holds secrets (datastore credentials in the database, service keys): the store creates
it 0700 and the SQLite database 0600 (:func:`secure_home`, :func:`private_file`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    home: Path
    store_url: str

    @property
    def artifacts(self) -> Path:
        return self.home / "artifacts"

    @property
    def models(self) -> Path:
        return self.home / "models"

    @property
    def snapshots(self) -> Path:
        return self.home / "snapshots"

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


def current() -> Settings:
    home = Path(os.environ.get("AMLOCAL_HOME") or Path.home() / ".amlocal").expanduser().resolve()
    url = os.environ.get("AMLOCAL_STORE_URL") or f"sqlite:///{home / 'amlocal.db'}"
    return Settings(home=home, store_url=url)
