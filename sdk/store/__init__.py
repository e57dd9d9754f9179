"""The metadata store: one interface (:class:`Store`), chosen by URL scheme."""
from __future__ import annotations

from .base import Store


def open_store(settings=None) -> Store:
    """The store for ``settings`` (default: the current environment's). Builders are lazy, so
    SQLAlchemy is imported only on the host, never in a step container."""
    from .. import _settings
    settings = settings or _settings.current()
    from .files_open import open_files
    from .sql import SqlStore
    return SqlStore(settings.store_url, settings.artifacts, settings.models,
                    files=open_files(settings), home=settings.home)


__all__ = ["Store", "open_store"]
