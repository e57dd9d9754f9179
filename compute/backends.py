"""The backend class of each kind of compute target. Above the backends (it imports them on
demand, so importing :mod:`amlocal.compute` does not import Docker's client); what each kind can
do is in :mod:`amlocal.compute.capabilities`, below them."""
from __future__ import annotations


def backend_class(kind: str) -> type:
    """The class of the backend for ``kind`` (imported on demand). Raises ValueError."""
    if kind == "docker":
        from .docker import DockerBackend
        return DockerBackend
    if kind == "local":
        from .local import LocalBackend
        return LocalBackend
    if kind == "host":
        from .host import HostBackend
        return HostBackend
    raise ValueError(f"unknown compute kind {kind!r}; amlocal runs steps on 'docker', 'local' "
                     "or 'host'")
