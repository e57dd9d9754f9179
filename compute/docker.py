"""The ``docker`` compute backend: every step runs in a container of its environment's image.

A container gets the step's mounts as bind mounts (a Unix socket file or its folder works like
any other path), the step's working directory read-write at :data:`WORKDIR`, the step's
environment variables and labels (the runner passes ``amlocal.run_id``), and runs as the calling
user's uid:gid (``HOME=/tmp`` then, unless the step sets it) with a tiny init as PID 1 so
``docker stop`` reaches the script. The container is always removed by ``wait`` or ``cancel``.

A sandboxed step (``StepSpec.sandbox`` is a dict) additionally gets: no network
(``network_mode="none"``) unless ``sandbox["network"]`` is true, a read-only root filesystem with
a size-limited tmpfs at ``/tmp`` (:data:`SANDBOX_TMPFS`), a non-root user (the caller's uid:gid,
or ``nobody`` 65534:65534 when the caller is root; the working directory and the writable mounts
are then made writable for it on the host), all capabilities dropped, ``no-new-privileges``, a
process limit (:data:`SANDBOX_PIDS`), ``mem_limit``/``nano_cpus`` from ``sandbox["memory"]``/
``sandbox["cpus"]``, and ``HOME=/tmp``, ``PYTHONDONTWRITEBYTECODE=1``. The run service still
answers: it is a Unix socket bind-mounted under ``/amlocal/service``, which needs no network.
"""
from __future__ import annotations

import codecs
import os
import re
import threading
from typing import Callable, Iterator

from amlocal.errors import DockerUnavailableError

from .base import SERVICE_DIR, WORKDIR, EnvironmentSpec, ResolvedEnvironment, StepSpec

Log = Callable[[str], None]

STOP_TIMEOUT = 5
CANCELLED_STATUS = 143          # what ``wait`` returns after ``cancel`` when the step said 0
NOBODY = "65534:65534"          # who a sandboxed step runs as when the caller is root
SANDBOX_TMPFS = "rw,nosuid,nodev,size=256m,mode=1777"
SANDBOX_PIDS = 1024


class DockerStepHandle:
    """A running step's container: stream its output, wait for it, cancel it."""

    def __init__(self, container):
        self._container = container
        self._exit: int | None = None
        self._cancelled = False
        self._removed = False
        self._lock = threading.Lock()

    @property
    def container_id(self) -> str:
        return self._container.id

    def lines(self) -> Iterator[str]:
        """The container's stdout and stderr, line by line (``\\n`` stripped), until it exits.
        Ends quietly when the container is already gone."""
        import docker
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        pending = ""
        received = 0
        try:
            for chunk in self._container.logs(stream=True, follow=True, stdout=True, stderr=True):
                received += len(chunk)
                *complete, pending = (pending + decoder.decode(chunk)).split("\n")
                for line in complete:
                    yield line.rstrip("\r")
            # The engine's follow stream can end before a last line without "\n" is logged;
            # once the container has exited, the stored log is complete: add what was missed.
            self._container.wait()
            rest = self._container.logs(stdout=True, stderr=True)[received:]
            if rest:
                *complete, pending = (pending + decoder.decode(rest)).split("\n")
                for line in complete:
                    yield line.rstrip("\r")
        except (docker.errors.NotFound, docker.errors.APIError):
            pass
        pending += decoder.decode(b"", final=True)
        if pending:
            yield pending.rstrip("\r")

    def wait(self) -> int:
        """Block until the container exits; return its exit status. The container is removed
        in every case (also on KeyboardInterrupt). Raises DockerUnavailableError when the engine
        goes away while waiting."""
        import docker
        import requests
        try:
            if self._exit is None:
                try:
                    status = int(self._container.wait().get("StatusCode", -1))
                except docker.errors.NotFound:
                    status = -1                   # removed under us (cancel): keep its status
                except (docker.errors.APIError, requests.exceptions.ConnectionError) as exc:
                    raise DockerUnavailableError(str(exc)[:200]) from None
                if self._exit is None:
                    self._exit = status
            code = self._exit
        finally:
            self._remove()
        if self._cancelled and code == 0:
            return CANCELLED_STATUS
        return code

    def cancel(self) -> None:
        """Stop the container (SIGTERM, SIGKILL after 5 s) and remove it."""
        import docker
        self._cancelled = True
        try:
            self._container.stop(timeout=STOP_TIMEOUT)
            result = self._container.wait(timeout=STOP_TIMEOUT + 10)
            if self._exit is None:
                self._exit = int(result.get("StatusCode", CANCELLED_STATUS))
        except (docker.errors.NotFound, docker.errors.APIError):
            pass
        except Exception:  # noqa: BLE001 - a wait timeout: removal below kills it
            pass
        finally:
            if self._exit is None:
                self._exit = CANCELLED_STATUS
            self._remove()

    def _remove(self) -> None:
        import docker
        with self._lock:
            if self._removed:
                return
            self._removed = True
        try:
            self._container.remove(force=True)
        except (docker.errors.NotFound, docker.errors.APIError):
            pass          # already gone, or removal already in progress


class DockerBackend:
    """Runs steps in containers built per environment (compute kind ``docker``)."""

    kind = "docker"

    def prepare(self, spec: EnvironmentSpec, log: Log = print) -> ResolvedEnvironment:
        """Lock ``spec`` and build its image when missing.

        Raises EnvironmentBuildError naming the failing package; DockerUnavailableError.
        """
        from . import environments, images
        resolved = environments.resolve(spec, log)
        images.ensure_image(resolved, log)
        return resolved

    def submit(self, step: StepSpec, env: ResolvedEnvironment) -> DockerStepHandle:
        """Start ``step`` in a container of ``env.image`` and return at once.

        Raises DockerUnavailableError when no engine answers; docker.errors.APIError for a
        container the engine refuses (e.g. a mount source that does not exist).
        """
        from docker.types import Mount as DockerMount

        from .images import docker_client
        client = docker_client()
        mounts = [DockerMount(target=WORKDIR, source=os.path.abspath(step.working_dir),
                              type="bind", read_only=False)]
        for m in step.mounts:
            mounts.append(DockerMount(target=m.target, source=os.path.abspath(m.source),
                                      type="bind", read_only=bool(m.read_only)))
        environment = {str(k): str(v) for k, v in (step.env or {}).items()}
        labels = {str(k): str(v) for k, v in (step.labels or {}).items()}
        labels.setdefault("amlocal.run_id", step.run_id)
        kwargs = {}
        if hasattr(os, "getuid"):
            uid, gid = os.getuid(), os.getgid()
            kwargs["user"] = f"{uid}:{gid}"
            if uid != 0:
                environment.setdefault("HOME", "/tmp")
        if step.sandbox is not None:
            kwargs.update(_sandbox_options(step, environment))
        import docker

        def run(init: bool):
            return client.containers.run(
                env.image, command=list(step.command), working_dir=WORKDIR, mounts=mounts,
                environment=environment, labels=labels, detach=True, init=init, **kwargs)

        try:
            container = run(init=True)
        except docker.errors.APIError as exc:
            if not re.search(r"docker-init|\binit\b", str(exc), re.I):
                raise
            container = run(init=False)      # an engine without docker-init
        return DockerStepHandle(container)


def container_user(sandboxed: bool) -> tuple[int, int]:
    """The uid and gid a step's container runs as: the caller's, or nobody's for a sandboxed
    step when the caller is root."""
    if sandboxed and os.getuid() == 0:
        uid, gid = NOBODY.split(":")
        return int(uid), int(gid)
    return os.getuid(), os.getgid()


def _sandbox_options(step: StepSpec, environment: dict) -> dict:
    """The ``containers.run`` options of a sandboxed step (see the module docstring); sets the
    sandbox's environment variables in ``environment``. When the caller is root the step runs
    as nobody, so its working directory and writable mounts are opened up for it here."""
    sandbox = step.sandbox or {}
    options: dict = {"read_only": True, "tmpfs": {"/tmp": SANDBOX_TMPFS},
                     "cap_drop": ["ALL"], "security_opt": ["no-new-privileges"],
                     "pids_limit": SANDBOX_PIDS}
    if not sandbox.get("network"):
        options["network_mode"] = "none"
    if sandbox.get("memory"):
        options["mem_limit"] = str(sandbox["memory"])
    if sandbox.get("cpus"):
        options["nano_cpus"] = int(float(sandbox["cpus"]) * 1e9)
    environment["HOME"] = "/tmp"
    environment["PYTHONDONTWRITEBYTECODE"] = "1"
    if hasattr(os, "getuid") and os.getuid() == 0:
        options["user"] = "{}:{}".format(*container_user(sandboxed=True))
        _open_up(step.working_dir, files=True)
        for m in step.mounts:
            if not m.read_only and m.target != SERVICE_DIR and os.path.isdir(m.source):
                _open_up(m.source, files=False)
    return options


def _open_up(folder: str, *, files: bool) -> None:
    """Make ``folder`` and the folders below it writable by anyone (and, with ``files``, its
    files readable and writable): the step's own copy or fresh output folders, run as nobody."""
    os.chmod(folder, 0o777)
    for root, dirs, names in os.walk(folder):
        for d in dirs:
            if not os.path.islink(os.path.join(root, d)):
                os.chmod(os.path.join(root, d), 0o777)
        if files:
            for n in names:
                path = os.path.join(root, n)
                if not os.path.islink(path):
                    os.chmod(path, os.stat(path).st_mode | 0o666)


def remove_labelled(labels: dict) -> int:
    """Remove every container carrying all ``labels`` (e.g. the steps of a run whose runner
    died: ``{"amlocal.pipeline_run_id": run_id}``); returns how many were removed. Raises
    DockerUnavailableError when no engine answers (docker's own errors are wrapped)."""
    import docker
    import requests

    from .services import remove_services
    try:
        return remove_services(labels)
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise DockerUnavailableError(f"could not remove the containers labelled {labels}: "
                                     f"{str(exc)[:200]}") from None
