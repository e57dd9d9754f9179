"""The run service: the workspace's store served to running steps.

:class:`RunService` (host side, in the pipeline runner) serves a :class:`~amlocal.store.base.Store`
over a Unix socket mounted into step containers and/or over TCP; :class:`RemoteStore` (step
side) implements the same Store interface by calling it. Both need only the standard library.
"""
from __future__ import annotations

from .client import RemoteStore
from .server import RunService

__all__ = ["RemoteStore", "RunService"]
