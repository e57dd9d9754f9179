"""Where and how a step runs.

One small protocol (:class:`ComputeBackend`: prepare an environment, submit a step, watch it,
cancel it) with three implementations: ``docker`` (the default), ``local`` (a process in a
per-environment virtualenv built from the same lock) and ``host`` (a user-managed environment's
own interpreter on this machine, nothing installed). A step is data (:class:`StepSpec`: its
command line, mounts and environment variables), never Docker calls spread through the SDK.
"""
from __future__ import annotations

from .base import (CONTAINER_ROOT, RUNTIME_DIR, SERVICE_DIR, WORKDIR, Capability, ComputeBackend,
                   EnvironmentSpec, Mount, ResolvedEnvironment, ServiceHandle, StepHandle,
                   StepSpec)


def get_backend(kind: str) -> ComputeBackend:
    """The backend for a compute target's kind: ``docker``, ``local`` or ``host``."""
    if kind == "docker":
        from .docker import DockerBackend
        return DockerBackend()
    if kind == "local":
        from .local import LocalBackend
        return LocalBackend()
    if kind == "host":
        from .host import HostBackend
        return HostBackend()
    raise ValueError(f"unknown compute kind {kind!r}; amlocal runs steps on 'docker', 'local' "
                     "or 'host'")


__all__ = ["CONTAINER_ROOT", "RUNTIME_DIR", "SERVICE_DIR", "WORKDIR", "Capability", "ComputeBackend",
           "EnvironmentSpec", "Mount", "ResolvedEnvironment", "ServiceHandle", "StepHandle", "StepSpec",
           "get_backend"]
