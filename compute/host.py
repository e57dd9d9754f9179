"""The ``host`` compute backend: a user-managed environment's interpreter, on this machine.

Azure runs a ``ScriptRunConfig`` on the ``'local'`` target with Docker off and
``python.user_managed_dependencies = True`` as a plain process of ``python.interpreter_path``
(default ``python``: the first one on PATH), installing nothing: the user's own packages (a
notebook's scikit-learn) are what the script sees. This backend does that. Everything else is
the ``local`` backend's (:func:`amlocal.compute.local.start_process`): the container layout
mapped onto a temporary folder of symlinks, the run service reached through its socket, the
process group stopped on cancel. Nothing is built, so ``prepare`` only finds the interpreter and
asks it for its version and installed packages; the environment's digest (and so a pipeline
step's reuse key) covers the interpreter's path, its version, the names and versions of the
packages installed in it, and the environment variables.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from typing import Callable

from amlocal.errors import EnvironmentBuildError

from .base import Capability, EnvironmentSpec, ResolvedEnvironment, ServiceHandle, StepSpec
from .capabilities import KIND_CAPABILITIES, missing_capability
from .process import refuse_sandbox, start_process

Log = Callable[[str], None]

VERSION_TIMEOUT = 30


def find_interpreter(spec: EnvironmentSpec) -> str:
    """The absolute path of ``spec.interpreter_path`` (a path, or a name looked up on PATH).

    Raises EnvironmentBuildError naming the interpreter and the fix when it is not there.
    """
    wanted = (spec.interpreter_path or "python").strip() or "python"
    expanded = os.path.expanduser(wanted)
    if os.sep in expanded or (os.altsep and os.altsep in expanded):
        found = expanded if os.path.isfile(expanded) and os.access(expanded, os.X_OK) else None
    else:
        found = shutil.which(expanded)
    if not found:
        raise EnvironmentBuildError(
            f"environment '{spec.name}' has user-managed dependencies and interpreter_path "
            f"{wanted!r}, which is not an executable on this machine"
            + ("" if os.sep in expanded else " (nothing of that name on PATH)")
            + ". Set env.python.interpreter_path to your Python (e.g. sys.executable), or set "
            "user_managed_dependencies = False to have amlocal build the environment.")
    return os.path.abspath(found)


# Prints the interpreter's version and a sha256 over its installed distributions' names and
# versions: what the host environment's digest (and so a step's reuse key) follows.
_DESCRIBE = """
import hashlib, sys
from importlib import metadata
names = sorted({f"{(d.metadata['Name'] or '').lower()}=={d.version}" for d in metadata.distributions()})
print(sys.version.split()[0])
print(hashlib.sha256("\\n".join(names).encode()).hexdigest())
"""


def describe_interpreter(interpreter: str) -> tuple[str, str]:
    """``(Python version, sha256 of its installed packages)`` of ``interpreter``.
    Raises EnvironmentBuildError when it does not run as a Python."""
    try:
        proc = subprocess.run([interpreter, "-E", "-c", _DESCRIBE], capture_output=True,
                              text=True, timeout=VERSION_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EnvironmentBuildError(f"interpreter {interpreter} could not be run: {exc}") from None
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or len(lines) < 2:
        raise EnvironmentBuildError(
            f"interpreter {interpreter} is not a working Python 3.8 or later: "
            f"{(proc.stderr or proc.stdout).strip()[-300:]}")
    return lines[0], lines[1]


class HostBackend:
    """Runs a user-managed environment's steps with its interpreter on this machine (compute
    kind ``host``; what a ``ScriptRunConfig`` on ``'local'`` with Docker off and
    user-managed dependencies gets)."""

    kind = "host"
    # no container, sandbox, shell or serve
    capabilities: frozenset[Capability] = KIND_CAPABILITIES["host"]

    def prepare(self, spec: EnvironmentSpec, log: Log = print) -> ResolvedEnvironment:
        """Find the interpreter and describe it; installs nothing. Raises
        EnvironmentBuildError for a spec that is not user-managed or a missing interpreter."""
        from .environments import compute_digest
        if not spec.user_managed:
            raise EnvironmentBuildError(
                f"environment '{spec.name}' is not user-managed: the host backend only runs an "
                "existing interpreter; use the 'local' or 'docker' backend to build it")
        interpreter = find_interpreter(spec)
        version, packages = describe_interpreter(interpreter)
        log(f"environment '{spec.name}': user-managed dependencies, running {interpreter} "
            f"(Python {version}) on this machine as it is; nothing is installed")
        lock_text = (f"# amlocal: user-managed dependencies, nothing installed; interpreter "
                     f"{interpreter} (Python {version}); installed packages sha256 {packages}\n")
        digest = compute_digest(lock_text, "host", version, b"", (f"host:{interpreter}",),
                                spec.environment_variables)
        return ResolvedEnvironment(spec=spec, installer="host", installer_version=version,
                                   lock_text=lock_text, digest=digest, base_image="", image="")

    def submit(self, step: StepSpec, env: ResolvedEnvironment):
        """Start ``step`` with the environment's interpreter and return its handle at once.
        Raises ComputeTargetException for a sandboxed step; EnvironmentBuildError when the
        interpreter is gone; OSError when it cannot start."""
        refuse_sandbox(step)
        return start_process(step, env, find_interpreter(env.spec), {})

    def shell(self, step: StepSpec, env: ResolvedEnvironment) -> int:
        """Refused: the 'host' backend has no shell capability (ComputeTargetException)."""
        raise missing_capability(self, Capability.SHELL, f"a shell in step '{step.step_name}'")

    def serve(self, step: StepSpec, env: ResolvedEnvironment, *,
              container_port: int | None = None, host_port: int | None = None) -> ServiceHandle:
        """Refused: the 'host' backend has no serve capability (ComputeTargetException)."""
        raise missing_capability(self, Capability.SERVE, f"serving step '{step.step_name}'")
