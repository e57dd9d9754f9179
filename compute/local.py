"""The ``local`` compute backend: every step runs as a process in a per-environment virtualenv.

The virtualenv is built from the same uv lock as the Docker image (``uv venv`` +
``uv pip install --require-hashes``) at ``<AMLOCAL_HOME>/venvs/<digest>``, in place (virtualenvs
are not relocatable) under a file lock, with a ``.building`` marker while it is built and a
``.amlocal-complete`` file once it is usable; a half-built folder is removed and rebuilt.
When Docker answers and the base image's Python and platform match this machine, the lock and
digest are exactly the Docker backend's; otherwise the spec is locked for this machine.

Path mapping: a step is written for the container layout (:data:`CONTAINER_ROOT` ``/amlocal``).
``submit`` makes a per-step temporary root ``R`` holding symlinks
``R/<mount.target relative to /amlocal> -> mount.source`` for every mount and
``R/wd -> step.working_dir``, then replaces the ``/amlocal`` prefix with ``R`` wherever it starts
a path in the command line's items and the environment variables' values
(``PYTHONPATH=/amlocal/runtime:/amlocal/wd`` becomes ``R/runtime:R/wd``). ``R`` is removed
(only the symlinks, never their targets) when the step ends.

A sandboxed step (``StepSpec.sandbox`` set) is refused: a plain process cannot be kept off the
network or the filesystem, so the ``docker`` target is the only one that runs it.
"""
from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Callable, Iterator

from amlocal import _settings
from amlocal.errors import ComputeTargetException, EnvironmentBuildError

from .base import CONTAINER_ROOT, EnvironmentSpec, ResolvedEnvironment, StepSpec

Log = Callable[[str], None]

COMPLETE_MARKER = ".amlocal-complete"
BUILDING_MARKER = ".building"
KILL_AFTER = 5.0
# "/amlocal" at the start of a path component, also right after a URL scheme ("unix:///amlocal")
_PREFIX = re.compile(r"(?:(?<=://)|(?<![\w.\-/]))" + re.escape(CONTAINER_ROOT) + r"(?=/|$|[:;,\s\"'])")


def map_container_path(value: str, root: str) -> str:
    """Replace the ``/amlocal`` prefix of every path in ``value`` with ``root``."""
    return _PREFIX.sub(lambda _m: root, value)


def resolve_for_host(spec: EnvironmentSpec, log: Log = print) -> ResolvedEnvironment:
    """The Docker backend's lock when its base image matches this machine's Python and platform
    (same digest), else a lock for this machine. Never pulls, never needs Docker.

    Raises EnvironmentBuildError (conda packages; a package that cannot be resolved).
    """
    from amlocal.errors import DockerUnavailableError

    from . import environments
    if spec.conda_packages:
        raise EnvironmentBuildError(
            f"environment '{spec.name}' asks for conda packages ({', '.join(spec.conda_packages)}),"
            f" which the 'local' compute target cannot install (it builds a virtualenv): use "
            f"compute target 'docker', or move them to pip packages.")
    host = environments.host_base()
    base = None
    try:
        from . import images
        name = images.choose_base_image(spec, log=log, pull=False)
        base = images.describe_base(name, log=log, pull=False)
    except (DockerUnavailableError, EnvironmentBuildError):
        base = None
    if base is None or (base.python, base.platform) != (host.python, host.platform):
        base = host
    return environments.resolve(spec, log, base=base)


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


class LocalStepHandle:
    """A step running as a local process group."""

    def __init__(self, proc: subprocess.Popen, root: str):
        self._proc = proc
        self._root = root
        self._queue: queue.Queue = queue.Queue()
        self._cancelled = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        # A reader thread so a full pipe never blocks the step when nobody reads ``lines``.
        import codecs
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        try:
            for raw in iter(lambda: self._proc.stdout.readline(), b""):
                self._queue.put(decoder.decode(raw).rstrip("\n").rstrip("\r"))
        finally:
            self._queue.put(None)

    def lines(self) -> Iterator[str]:
        """The process's merged stdout/stderr, line by line, until it exits."""
        while True:
            line = self._queue.get()
            if line is None:
                self._queue.put(None)   # later callers end too
                return
            yield line

    def wait(self) -> int:
        """Wait for the process and return its exit status (negative: killed by that signal).
        The temporary root is removed; on KeyboardInterrupt the process group is killed."""
        try:
            code = self._proc.wait()
        except BaseException:
            self._kill(signal.SIGKILL)
            try:
                self._proc.wait(timeout=KILL_AFTER)
            except subprocess.TimeoutExpired:
                pass
            shutil.rmtree(self._root, ignore_errors=True)
            raise
        shutil.rmtree(self._root, ignore_errors=True)
        return code if code != 0 or not self._cancelled else 143

    def cancel(self) -> None:
        """SIGTERM the process group, SIGKILL it after 5 s."""
        self._cancelled = True
        if self._proc.poll() is not None:
            return
        self._kill(signal.SIGTERM)
        try:
            self._proc.wait(timeout=KILL_AFTER)
        except subprocess.TimeoutExpired:
            self._kill(signal.SIGKILL)
            self._proc.wait()

    def _kill(self, sig) -> None:
        try:
            os.killpg(self._proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


class LocalBackend:
    """Runs steps as local processes in per-environment virtualenvs (compute kind ``local``)."""

    kind = "local"

    def prepare(self, spec: EnvironmentSpec, log: Log = print) -> ResolvedEnvironment:
        """Lock ``spec`` and build its virtualenv when missing. Raises EnvironmentBuildError."""
        resolved = resolve_for_host(spec, log)
        ensure_venv(resolved, log)
        return resolved

    def submit(self, step: StepSpec, env: ResolvedEnvironment) -> LocalStepHandle:
        """Start ``step`` as a process in the environment's virtualenv (see the module docstring
        for the path mapping) and return at once. Raises EnvironmentBuildError when the
        virtualenv was not prepared; ComputeTargetException for a sandboxed step; OSError
        when the command cannot start."""
        if step.sandbox is not None:
            raise ComputeTargetException(
                f"step '{step.step_name}' is sandboxed (no network, read-only filesystem, "
                "non-root user), which the 'local' compute target cannot enforce: run it on a "
                "docker compute target (e.g. compute_target='cpu-cluster'), or turn the sandbox "
                "off (runconfig.docker.sandbox = False)")
        venv = venv_path(env)
        if not (venv / COMPLETE_MARKER).is_file():
            raise EnvironmentBuildError(f"the virtualenv of environment '{env.spec.name}' is not "
                                        f"built; call prepare() first ({venv})")
        root = tempfile.mkdtemp(prefix="amlocal-step-")
        try:
            links = [(CONTAINER_ROOT + "/wd", step.working_dir)]
            links += [(m.target, m.source) for m in step.mounts]
            for target, source in links:
                rel = os.path.relpath(target, CONTAINER_ROOT)
                if rel.startswith(".."):
                    raise ValueError(f"mount target {target} is not under {CONTAINER_ROOT}")
                link = Path(root, rel)
                link.parent.mkdir(parents=True, exist_ok=True)
                if link.is_symlink():
                    link.unlink()
                link.symlink_to(os.path.abspath(source))
            argv = [map_container_path(str(a), root) for a in step.command]
            if argv and argv[0] in ("python", "python3"):
                argv[0] = str(venv / "bin" / "python")
            environ = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
            environ.update({str(k): map_container_path(str(v), root)
                            for k, v in (step.env or {}).items()})
            environ["VIRTUAL_ENV"] = str(venv)
            environ["PATH"] = str(venv / "bin") + os.pathsep + environ.get("PATH", "")
            environ.setdefault("PYTHONUNBUFFERED", "1")
            proc = subprocess.Popen(argv, cwd=step.working_dir, env=environ,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        return LocalStepHandle(proc, root)
