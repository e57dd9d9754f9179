"""Asking a backend for a capability (:class:`~amlocal.compute.base.Capability`) instead of
testing its kind: :func:`require` raises a clear error naming what needed the capability and the
compute targets that have it.

A leaf below the backends: what each kind of compute target can do is stated here once
(:data:`KIND_CAPABILITIES`, which each backend class takes as its ``capabilities``), so the
messages need no backend class; the classes themselves are found by
:func:`amlocal.compute.backends.backend_class`."""
from __future__ import annotations

from amlocal.errors import ComputeTargetException

from .base import Capability

KINDS = ("docker", "local", "host", "ray")
# what each kind's backend can do beyond running a step to its end
KIND_CAPABILITIES: dict[str, frozenset[Capability]] = {
    "docker": frozenset({Capability.CONTAINER, Capability.SANDBOX, Capability.SHELL,
                         Capability.SERVE}),
    "local": frozenset(),    # no container, sandbox, shell or serve
    "host": frozenset(),     # no container, sandbox, shell or serve
    # a container on a Ray cluster's node, sandboxed as on docker; no shell or serve there
    "ray": frozenset({Capability.CONTAINER, Capability.SANDBOX}),
}
# what a backend with the capability can do, for the messages
WHAT_IT_DOES = {
    Capability.CONTAINER: "run the step in a container image built for its environment",
    Capability.SANDBOX: "sandbox a step (no network, read-only root filesystem, non-root user)",
    Capability.SHELL: "open an interactive shell where the step would run",
    Capability.SERVE: "keep a step running as a service",
}


def kinds_with(capability: Capability) -> tuple[str, ...]:
    """The compute kinds whose backend has ``capability``."""
    return tuple(k for k in KINDS if capability in KIND_CAPABILITIES[k])


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
