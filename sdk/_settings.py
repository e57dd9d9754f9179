"""Where amlocal keeps things, read from the environment each time it is asked (no globals).

``AMLOCAL_HOME`` (default ``~/.amlocal``) holds the metadata database, artifacts, models,
snapshots, locks and logs. ``AMLOCAL_STORE_URL`` replaces the embedded SQLite database with any
SQLAlchemy URL (e.g. ``postgresql://...``); files still live under ``AMLOCAL_HOME``.
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


def current() -> Settings:
    home = Path(os.environ.get("AMLOCAL_HOME") or Path.home() / ".amlocal").expanduser().resolve()
    url = os.environ.get("AMLOCAL_STORE_URL") or f"sqlite:///{home / 'amlocal.db'}"
    return Settings(home=home, store_url=url)
