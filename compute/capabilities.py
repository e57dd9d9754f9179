"""Asking a backend for a capability (:class:`~amlocal.compute.base.Capability`) instead of
testing its kind: :func:`require` raises a clear error naming what needed the capability and the
compute targets that have it."""
from __future__ import annotations

from amlocal.errors import ComputeTargetException

from .base import Capability

KINDS = ("docker", "local", "host")
# what a backend with the capability can do, for the messages
WHAT_IT_DOES = {
    Capability.CONTAINER: "run the step in a container image built for its environment",
    Capability.SANDBOX: "sandbox a step (no network, read-only root filesystem, non-root user)",
    Capability.SHELL: "open an interactive shell where the step would run",
    Capability.SERVE: "keep a step running as a service",
}


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


def kinds_with(capability: Capability) -> tuple[str, ...]:
    """The compute kinds whose backend has ``capability``."""
    return tuple(k for k in KINDS if capability in backend_class(k).capabilities)


def missing_capability(backend, capability: Capability, what: str) -> ComputeTargetException:
    """The error for ``what`` asking ``backend`` for a ``capability`` it lacks."""
    capability = Capability(capability)
    others = kinds_with(capability)
    instead = (f"run it on a {' or '.join(repr(k) for k in others)} compute target instead"
               + (" (an AmlCompute name such as 'cpu-cluster' runs on docker)"
                  if "docker" in others else "")
               if others else "no compute target of amlocal can")
    return ComputeTargetException(
        f"{what} needs a compute target that can {WHAT_IT_DOES[capability]} (capability "
        f"'{capability.value}'), which the '{backend.kind}' compute target cannot: {instead}")


def require(backend, capability: Capability, what: str) -> None:
    """Raise ComputeTargetException (naming ``what``, the capability and the compute targets
    that have it) unless ``backend`` has ``capability``."""
    if Capability(capability) not in backend.capabilities:
        raise missing_capability(backend, capability, what)
