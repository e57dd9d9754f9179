"""Where and how a step runs.

One small protocol (:class:`ComputeBackend`: prepare an environment, submit a step, watch it,
cancel it) with three implementations: ``docker`` (the default), ``local`` (a process in a
per-environment virtualenv built from the same lock) and ``host`` (a user-managed environment's
own interpreter on this machine, nothing installed). What a backend can do beyond running a
step to its end (a container, a sandbox, an interactive shell, a served step) is its
``capabilities``; :func:`require` refuses what it cannot with a clear error. A step is data
(:class:`StepSpec`: its command line, mounts and environment variables), never Docker calls
spread through the SDK.
"""
from __future__ import annotations

from .base import (CONTAINER_ROOT, RUNTIME_DIR, SERVICE_DIR, WORKDIR, Capability, ComputeBackend,
                   EnvironmentSpec, Mount, ResolvedEnvironment, ServiceHandle, StepHandle,
                   StepSpec)
from .backends import backend_class, target_options
from .capabilities import kinds_with, missing_capability, require


def get_backend(kind: str, **options) -> ComputeBackend:
    """The backend for a compute target's kind: ``docker``, ``local``, ``host`` or ``ray``.
    ``options`` are the target's settings the backend takes (``address`` for ``ray``); others
    need none. Ask it what it can do with ``backend.capabilities`` / :func:`require`, never by
    its kind."""
    return backend_class(kind)(**options)


__all__ = ["CONTAINER_ROOT", "RUNTIME_DIR", "SERVICE_DIR", "WORKDIR", "Capability", "ComputeBackend",
           "EnvironmentSpec", "Mount", "ResolvedEnvironment", "ServiceHandle", "StepHandle", "StepSpec",
           "backend_class", "get_backend", "kinds_with", "missing_capability", "require",
           "target_options"]
