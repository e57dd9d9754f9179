"""The warm runner host: a ready Python process that forks a runner per submitted run.

Starting ``python -m amlocal._engine.runner`` costs a Python start and the imports of the
store, docker-py and the engine (about a quarter of a second) on every run. The host pays that
once: it imports everything a runner needs, then waits on a Unix socket; a submission sends it
the run id with the submitter's environment and working folder, and the host forks. The child
is the run's runner, exactly as a spawned one would be: its own session, its own store
connection and Docker client, its output in ``AMLOCAL_HOME/runner-logs/<run id>.log``, its pid
recorded on the run (so a runner that dies is still noticed and its run settled). The host
holds no store, no threads and no Docker connection when it forks.

One host serves one user and one installation: the socket is
``<temp dir>/amlocal-runner-<uid>/<fingerprint>.sock`` (the folder 0700 and owned by the user;
anything else is not used), where the fingerprint covers the interpreter and every file of the
package (see :func:`runtime_tree.code_fingerprint`), so edited code or another Python gets a
host of its own and never runs in a stale one. The host ends after ``AMLOCAL_RUNNER_HOST_IDLE``
seconds without a submission (default 900), or soon after the installed code changes (it
would never be asked again); runs it started go on without it.
``AMLOCAL_RUNNER_HOST=0`` turns it off (every run then starts its own Python, as before).

When no host answers, the submission starts its runner the plain way and starts a host in the
background for the next one.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

from .settle import RUN_ID

IDLE_SECONDS = 900.0
STALE_CHECK = 30.0        # seconds between checks that the installed code is still ours
CONNECT_TIMEOUT = 5.0
_MAX_REQUEST = 1 << 20


def enabled() -> bool:
    return os.environ.get("AMLOCAL_RUNNER_HOST", "1").strip().lower() not in ("0", "false", "no", "off")


def _fingerprint() -> str:
    import hashlib
    from .runtime_tree import code_fingerprint
    extra = os.environ.get("PYTHONPATH", "")
    return hashlib.sha256(f"{code_fingerprint()}\0{extra}".encode()).hexdigest()[:20]


def host_dir() -> Path | None:
    """The user's host folder (created 0700), or None when it exists but is not private."""
    folder = Path(tempfile.gettempdir()) / f"amlocal-runner-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        st = os.lstat(folder)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        return None
    return folder


def paths(fingerprint: str | None = None) -> tuple[Path, Path, Path] | None:
    """(socket, lock, log) of the host for this installation, or None (no private folder)."""
    folder = host_dir()
    if folder is None:
        return None
    fp = fingerprint or _fingerprint()
    return folder / f"{fp}.sock", folder / f"{fp}.lock", folder / f"{fp}.log"


# -- the submitting side -------------------------------------------------------------------
def hand_over(run_id: str, env: dict, cwd: str) -> int | None:
    """Ask the host to fork the runner of ``run_id``; its pid, or None when no host answers
    (the caller then starts the runner itself and calls :func:`start_host`)."""
    if not enabled():
        return None
    where = paths()
    if where is None or not where[0].exists():
        return None
    request = json.dumps({"run_id": run_id, "env": env, "cwd": cwd}).encode() + b"\n"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(CONNECT_TIMEOUT)
            conn.connect(str(where[0]))
            conn.sendall(request)
            answer = conn.makefile("rb").readline(_MAX_REQUEST)
        reply = json.loads(answer or b"{}")
    except (OSError, ValueError):
        return None
    pid = reply.get("pid") if isinstance(reply, dict) else None
    return pid if isinstance(pid, int) and pid > 0 else None


def stop_hosts() -> list[int]:
    """Ask every host of this user to end (runs they started go on); their pids."""
    folder = host_dir()
    stopped = []
    for sock in sorted(folder.glob("*.sock")) if folder else []:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.settimeout(CONNECT_TIMEOUT)
                conn.connect(str(sock))
                conn.sendall(b'{"stop": true}\n')
                reply = json.loads(conn.makefile("rb").readline(_MAX_REQUEST) or b"{}")
            if isinstance(reply, dict) and isinstance(reply.get("stopped"), int):
                stopped.append(reply["stopped"])
        except (OSError, ValueError):
            continue
    return stopped


def start_host(env: dict) -> None:
    """Start a host in the background for later submissions (a second one started at the same
    time finds the lock taken and ends at once)."""
    if not enabled() or paths() is None:
        return
    clean = {k: v for k, v in env.items() if k not in ("AMLOCAL_HOME", "AZUREML_RUN_ID")}
    try:
        subprocess.Popen([sys.executable, "-m", "amlocal._engine.runner_host"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, env=clean, start_new_session=True,
                         close_fds=True, cwd="/")
    except OSError:
        pass   # the runs still start, one Python each


# -- the host ----------------------------------------------------------------------------
def _preload() -> None:
    """Import what a runner imports, so a forked runner starts with all of it loaded."""
    import sqlalchemy  # noqa: F401
    import docker  # noqa: F401
    from amlocal.compute import docker as _docker, environments, images  # noqa: F401
    from amlocal.store import sql  # noqa: F401
    from amlocal.runservice import server  # noqa: F401
    from . import outputs, plan, reuse, runner, settle, snapshot  # noqa: F401
    from .. import datastores  # noqa: F401


def serve(idle: float | None = None) -> int:
    import fcntl
    import select
    import time
    where = paths()
    if where is None:
        return 1
    sock_path, lock_path, log_path = where
    lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(lock_fd)
        return 0   # another host serves this installation
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    _preload()
    idle = float(os.environ.get("AMLOCAL_RUNNER_HOST_IDLE", IDLE_SECONDS)) if idle is None else idle
    if sock_path.exists() or sock_path.is_symlink():
        sock_path.unlink()   # we hold the lock: whatever is there is left over
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(sock_path))
    os.chmod(sock_path, 0o600)
    listener.listen(16)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)   # children are reaped by the kernel
    last = checked = time.monotonic()
    print(f"runner host {os.getpid()} serving {sock_path.name}", flush=True)
    try:
        while time.monotonic() - last < idle:
            ready, _, _ = select.select([listener], [], [], min(5.0, idle))
            if not ready:
                if time.monotonic() - checked > STALE_CHECK:   # the code was edited: we are
                    checked = time.monotonic()                   # of no use to anyone now
                    if not sock_path.name.startswith(_fingerprint()):
                        break
                continue
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            last = time.monotonic()
            with conn:
                if _answer(conn, listener, lock_fd) == "stop":
                    break
    finally:
        try:
            if os.path.exists(sock_path) and os.stat(sock_path).st_ino == os.fstat(listener.fileno()).st_ino:
                sock_path.unlink()
        except OSError:
            pass
        listener.close()
    return 0


def _answer(conn, listener, lock_fd: int) -> str | None:
    conn.settimeout(CONNECT_TIMEOUT)
    try:
        request = json.loads(conn.makefile("rb").readline(_MAX_REQUEST) or b"{}")
        if request == {"stop": True}:
            _reply(conn, {"stopped": os.getpid()})
            return "stop"
        run_id, env, cwd = request["run_id"], request["env"], request["cwd"]
        if not (isinstance(run_id, str) and RUN_ID.match(run_id)):
            raise ValueError("bad run id")
        if not (isinstance(env, dict) and all(isinstance(k, str) and isinstance(v, str)
                                              for k, v in env.items()) and env.get("AMLOCAL_HOME")):
            raise ValueError("bad environment")
        if not isinstance(cwd, str):
            raise ValueError("bad working folder")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        _reply(conn, {"error": f"bad request: {exc}"})
        return None
    pid = os.fork()
    if pid == 0:   # the runner
        code = 1
        try:
            listener.close()
            conn.close()
            os.close(lock_fd)
            code = _become_runner(run_id, env, cwd)
        finally:
            os._exit(code)
    _reply(conn, {"pid": pid})
    return None


def _reply(conn, message: dict) -> None:
    try:
        conn.sendall(json.dumps(message).encode() + b"\n")
    except OSError:
        pass


def _become_runner(run_id: str, env: dict, cwd: str) -> int:
    """In the forked child: the submitter's environment, folder and a log of its own, then the
    runner's ``main``, exactly as ``python -m amlocal._engine.runner RUN_ID`` runs it."""
    os.setsid()
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    os.environ.clear()
    os.environ.update(env)
    tempfile.tempdir = None        # found again from the submitter's TMPDIR
    log_dir = Path(env["AMLOCAL_HOME"]) / "runner-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_fd = os.open(log_dir / f"{run_id}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(null)
    os.close(log_fd)
    try:
        os.chdir(cwd)
    except OSError:
        os.chdir("/")
    from . import runner
    try:
        return runner.main([run_id])
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


if __name__ == "__main__":
    sys.exit(serve())
