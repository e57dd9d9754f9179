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
    if kind == "ray":
        from .ray import RayBackend
        return RayBackend
    raise ValueError(f"unknown compute kind {kind!r}; amlocal runs steps on 'docker', 'local', "
                     "'host' or 'ray'")


def target_options(kind: str, config: dict | None) -> dict:
    """The keyword arguments of ``kind``'s backend for a stored compute target's ``config``
    (for ``ray``: ``address``, ``resources`` and, when set, ``image_registry``, ``image_store``,
    ``max_retries``; nothing for the others)."""
    if kind == "ray":
        from .ray import options_from_target
        return options_from_target(config or {})
    return {}
