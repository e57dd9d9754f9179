"""The ``local`` compute backend: every step runs as a process in a per-environment virtualenv.

The virtualenv is built from the same uv lock as the Docker image (``uv venv`` +
``uv pip install --require-hashes``) at ``<AMLOCAL_HOME>/venvs/<digest>``, in place (virtualenvs
are not relocatable) under a file lock, with a ``.building`` marker while it is built and a
``.amlocal-complete`` file once it is usable; a half-built folder is removed and rebuilt.
When Docker answers and the base image's Python and platform match this machine, the lock and
digest are exactly the Docker backend's; otherwise the spec is locked for this machine.

Steps run as processes with the container layout mapped onto this machine
(:mod:`amlocal.compute.process`).

Conda packages are installed from PyPI through :mod:`amlocal.compute.conda_map` (a virtualenv
cannot hold conda packages), with the same warning and lock record as the Docker backend's
fallback. A user-managed environment builds nothing: its step runs on this machine's
``interpreter_path`` as the ``host`` backend does (:mod:`amlocal.compute.host`).

A sandboxed step (``StepSpec.sandbox`` set) is refused: a plain process cannot be kept off the
network or the filesystem.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

from amlocal import _settings
from amlocal.errors import EnvironmentBuildError

from .base import Capability, EnvironmentSpec, ResolvedEnvironment, ServiceHandle, StepSpec
from .capabilities import KIND_CAPABILITIES, missing_capability
from .host import HostBackend
from .process import LocalStepHandle, refuse_sandbox, start_process

Log = Callable[[str], None]

COMPLETE_MARKER = ".amlocal-complete"
BUILDING_MARKER = ".building"


def resolve_for_host(spec: EnvironmentSpec, log: Log = print) -> ResolvedEnvironment:
    """The Docker backend's lock when its base image matches this machine's Python and platform
    (same digest), else a lock for this machine. Never pulls, never needs Docker.

    Conda packages are mapped to PyPI (the virtualenv cannot hold conda packages). Raises
    EnvironmentBuildError (a package that cannot be resolved; an R package).
    """
    from amlocal.errors import ComputeError, DockerUnavailableError

    from . import environments
    host = environments.host_base()
    base = None
    try:
        from . import images
        name = images.choose_base_image(spec, log=log, pull=False)
        base = images.describe_base(name, log=log, pull=False)
    except (DockerUnavailableError, EnvironmentBuildError, ComputeError):
        base = None
    if base is None or (base.python, base.platform) != (host.python, host.platform):
        base = host
    return environments.resolve(spec, log, base=base, allow_conda=False)


def venv_path(resolved: ResolvedEnvironment) -> Path:
    return _settings.current().venvs / resolved.digest


def ensure_venv(resolved: ResolvedEnvironment, log: Log = print) -> bool:
    """Build the virtualenv of ``resolved`` unless it is complete; True when it built.

    Raises EnvironmentBuildError naming the package that failed (the half-built folder is
    removed).
    """
    from filelock import FileLock

    from .environments import uv_binary, uv_failure
    target = venv_path(resolved)
    if (target / COMPLETE_MARKER).is_file():
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target.parent / f"{resolved.digest}.filelock")):
        if (target / COMPLETE_MARKER).is_file():
            return False
        if target.exists():
            shutil.rmtree(target)
        log(f"building virtualenv for environment '{resolved.spec.name}' at {target}")
        uv = uv_binary()
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        try:
            steps = [[uv, "venv", "--no-project", "--python", sys.executable, str(target)]]
            if resolved.lock_text.strip():
                steps.append([uv, "pip", "install", "--python", str(target / "bin" / "python"),
                              "--require-hashes", "-r", str(target / "requirements.lock")])
            for i, cmd in enumerate(steps):
                proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                                      cwd=str(target.parent))
                if i == 0 and proc.returncode == 0:
                    (target / BUILDING_MARKER).write_text(resolved.digest + "\n")
                    (target / "requirements.lock").write_text(resolved.lock_text)
                if proc.returncode != 0:
                    raise uv_failure(resolved.spec, proc.stderr or proc.stdout)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        (target / COMPLETE_MARKER).write_text(resolved.digest + "\n")
        (target / BUILDING_MARKER).unlink(missing_ok=True)
    log(f"built virtualenv {target}")
    return True


class LocalBackend:
    """Runs steps as local processes in per-environment virtualenvs (compute kind ``local``)."""

    kind = "local"
    # no container, sandbox, shell or serve
    capabilities: frozenset[Capability] = KIND_CAPABILITIES["local"]

    def prepare(self, spec: EnvironmentSpec, log: Log = print) -> ResolvedEnvironment:
        """Lock ``spec`` and build its virtualenv when missing (a user-managed environment:
        find its interpreter, build nothing). Raises EnvironmentBuildError."""
        if spec.user_managed:
            return HostBackend().prepare(spec, log)
        resolved = resolve_for_host(spec, log)
        ensure_venv(resolved, log)
        return resolved

    def submit(self, step: StepSpec, env: ResolvedEnvironment) -> LocalStepHandle:
        """Start ``step`` as a process in the environment's virtualenv (see the module docstring
        for the path mapping) and return at once. Raises EnvironmentBuildError when the
        virtualenv was not prepared; ComputeTargetException for a sandboxed step; OSError
        when the command cannot start."""
        if env.spec.user_managed:
            return HostBackend().submit(step, env)
        refuse_sandbox(step)
        venv = venv_path(env)
        if not (venv / COMPLETE_MARKER).is_file():
            raise EnvironmentBuildError(f"the virtualenv of environment '{env.spec.name}' is not "
                                        f"built; call prepare() first ({venv})")
        return start_process(step, env, str(venv / "bin" / "python"),
                             {"VIRTUAL_ENV": str(venv)}, path_first=str(venv / "bin"))

    def shell(self, step: StepSpec, env: ResolvedEnvironment) -> int:
        """Refused: the 'local' backend has no shell capability (ComputeTargetException)."""
        raise missing_capability(self, Capability.SHELL, f"a shell in step '{step.step_name}'")

    def serve(self, step: StepSpec, env: ResolvedEnvironment, *,
              container_port: int | None = None, host_port: int | None = None) -> ServiceHandle:
        """Refused: the 'local' backend has no serve capability (ComputeTargetException)."""
        raise missing_capability(self, Capability.SERVE, f"serving step '{step.step_name}'")
