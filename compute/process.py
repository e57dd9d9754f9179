"""Running a step as a process of this machine: the ``local`` and ``host`` backends' shared part.

Path mapping: a step is written for the container layout (:data:`CONTAINER_ROOT` ``/amlocal``).
:func:`start_process` makes a per-step temporary root ``R`` holding symlinks
``R/<mount.target relative to /amlocal> -> mount.source`` for every mount and
``R/wd -> step.working_dir``, then replaces the ``/amlocal`` prefix with ``R`` wherever it starts
a path in the command line's items and the environment variables' values
(``PYTHONPATH=/amlocal/runtime:/amlocal/wd`` becomes ``R/runtime:R/wd``). ``R`` is removed
(only the symlinks, never their targets) when the step ends. A read-only mount is not enforced
here (the process has this user's rights over the folder behind the link): only a backend with
the ``container`` capability enforces it.

A sandboxed step (``StepSpec.sandbox`` set) is refused (:func:`refuse_sandbox`): a plain process
cannot be kept off the network or the filesystem, so the ``docker`` target is the only one that
runs it.
"""
from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Iterator

from amlocal.errors import ComputeTargetException

from .base import CONTAINER_ROOT, ResolvedEnvironment, StepSpec

KILL_AFTER = 5.0
# "/amlocal" at the start of a path component, also right after a URL scheme ("unix:///amlocal")
_PREFIX = re.compile(r"(?:(?<=://)|(?<![\w.\-/]))" + re.escape(CONTAINER_ROOT) + r"(?=/|$|[:;,\s\"'])")


def map_container_path(value: str, root: str) -> str:
    """Replace the ``/amlocal`` prefix of every path in ``value`` with ``root``."""
    return _PREFIX.sub(lambda _m: root, value)



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

    def wait(self, release: bool = True) -> int:
        """Wait for the process and return its exit status (negative: killed by that signal).
        The temporary root is removed (later, by :meth:`release`, when ``release`` is False); on
        KeyboardInterrupt the process group is killed."""
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
        if release:
            self.release()
        return code if code != 0 or not self._cancelled else 143

    def release(self) -> None:
        shutil.rmtree(self._root, ignore_errors=True)

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


def refuse_sandbox(step: StepSpec) -> None:
    """Raise ComputeTargetException for a sandboxed step: a process cannot be sandboxed."""
    if step.sandbox is not None:
        raise ComputeTargetException(
            f"step '{step.step_name}' is sandboxed (no network, read-only filesystem, "
            "non-root user), which the 'local' compute target cannot enforce: run it on a "
            "docker compute target (e.g. compute_target='cpu-cluster'), or turn the sandbox "
            "off (runconfig.docker.sandbox = False)")


def start_process(step: StepSpec, env: ResolvedEnvironment, python: str, extra_env: dict,
                  *, path_first: str | None = None) -> LocalStepHandle:
    """Start ``step`` as a process of this machine with ``python`` as its interpreter (the
    module docstring's path mapping applies) and return its handle at once.

    The environment's variables are set first, then ``extra_env``, then the step's own (the
    step's win, as in a container). ``path_first`` is put first on PATH. Raises OSError when
    the command cannot start; ValueError for a mount outside the container layout.
    """
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
            argv[0] = python
        # the store's URL may hold a database password: a step reaches the store only through
        # its run service
        environ = {k: v for k, v in os.environ.items()
                   if k not in ("PYTHONPATH", "VIRTUAL_ENV", "AMLOCAL_STORE_URL")}
        environ.update({str(k): str(v) for k, v in (env.spec.environment_variables or {}).items()})
        environ.update(extra_env)
        environ.update({str(k): map_container_path(str(v), root)
                        for k, v in (step.env or {}).items()})
        if path_first:
            environ["PATH"] = path_first + os.pathsep + environ.get("PATH", "")
        environ.setdefault("PYTHONUNBUFFERED", "1")
        proc = subprocess.Popen(argv, cwd=step.working_dir, env=environ,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return LocalStepHandle(proc, root)
