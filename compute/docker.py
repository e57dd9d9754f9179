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
(The options are decided once, in :mod:`amlocal.compute.container_options`, for a step, a
service and a shell alike.)

Beyond running a step to its end the backend can open an interactive shell where the step would
run (:meth:`DockerBackend.shell`) and keep a step running as a service with a published port
(:meth:`DockerBackend.serve`; :mod:`amlocal.compute.services` finds, reads and removes services).
docker-py's errors never leave it: see :mod:`amlocal.compute.docker_errors`.
"""
from __future__ import annotations

import codecs
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
from typing import Callable, Iterator

from amlocal.errors import ComputeError, ComputeTargetException, DockerUnavailableError

from .base import EnvironmentSpec, ResolvedEnvironment, ServiceHandle, StepSpec
from .capabilities import KIND_CAPABILITIES
from .container_options import (NOBODY, SANDBOX_PIDS, SANDBOX_TMPFS, cli_arguments,  # noqa: F401
                                container_options, container_user, docker_py_kwargs,
                                env_file_text)
from .docker_errors import docker_errors, translate

Log = Callable[[str], None]

STOP_TIMEOUT = 5
CANCELLED_STATUS = 143          # what ``wait`` returns after ``cancel`` when the step said 0
# The shell a step's container opens: bash where the image has it, else sh.
SHELL_COMMAND = ("/bin/sh", "-c", "if command -v bash >/dev/null 2>&1; then exec bash; "
                                  "else exec sh; fi")
STEP_COMMAND_VARIABLE = "AMLOCAL_STEP_COMMAND"


def _engine_gone(exc: BaseException, what: str) -> bool:
    """True when ``exc`` means the engine cannot be reached (raised as DockerUnavailableError
    by the caller); False for docker's "not found"/"refused" answers."""
    return isinstance(translate(exc, what), DockerUnavailableError)


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
        Ends quietly when the container is already gone; raises DockerUnavailableError when the
        engine goes away while streaming."""
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        pending = ""
        received = 0
        what = f"reading the output of container {self._container.id[:12]}"
        try:
            for chunk in self._container.logs(stream=True, follow=True, stdout=True, stderr=True):
                received += len(chunk)
                *complete, pending = (pending + decoder.decode(chunk)).split("\n")
                for line in complete:
                    yield line.rstrip("\r")
            # The engine's follow stream can end before a last line without "\n" is logged;
            # once the container has exited, the stored log is complete: add what was missed.
            self._record_exit()
            rest = self._container.logs(stdout=True, stderr=True)[received:]
            if rest:
                *complete, pending = (pending + decoder.decode(rest)).split("\n")
                for line in complete:
                    yield line.rstrip("\r")
        except Exception as exc:  # noqa: BLE001 - docker's "gone" ends the stream; no engine raises
            error = translate(exc, what)
            if error is None:
                raise
            if isinstance(error, DockerUnavailableError):
                raise error from None
        pending += decoder.decode(b"", final=True)
        if pending:
            yield pending.rstrip("\r")

    def _record_exit(self) -> None:
        import docker
        if self._exit is not None:
            return
        with docker_errors(f"waiting for container {self._container.id[:12]}"):
            try:
                status = int(self._container.wait().get("StatusCode", -1))
            except docker.errors.NotFound:
                status = -1               # removed under us (cancel): keep its status
        if self._exit is None:
            self._exit = status

    def wait(self, release: bool = True) -> int:
        """Block until the container exits; return its exit status. The container is removed
        in every case (also on KeyboardInterrupt), at once or, when ``release`` is False, by
        :meth:`release` (a failure to wait removes it at once). Raises DockerUnavailableError
        when the engine goes away while waiting (ComputeError for another refusal)."""
        try:
            self._record_exit()
            code = self._exit
        except BaseException:
            self._remove()
            raise
        if release:
            self._remove()
        if self._cancelled and code == 0:
            return CANCELLED_STATUS
        return code

    def release(self) -> None:
        self._remove()

    def cancel(self) -> None:
        """Stop the container (SIGTERM, SIGKILL after 5 s) and remove it. Raises
        DockerUnavailableError when the engine cannot be reached."""
        self._cancelled = True
        try:
            self._container.stop(timeout=STOP_TIMEOUT)
            result = self._container.wait(timeout=STOP_TIMEOUT + 10)
            if self._exit is None:
                self._exit = int(result.get("StatusCode", CANCELLED_STATUS))
        except Exception as exc:  # noqa: BLE001 - gone, refused or a wait timeout: removal below
            if _engine_gone(exc, "stopping a container"):
                with self._lock:
                    self._removed = True     # nothing more can be asked of the engine
                raise DockerUnavailableError(
                    f"stopping container {self._container.id[:12]}: {exc}"[:300]) from None
        finally:
            if self._exit is None:
                self._exit = CANCELLED_STATUS
            self._remove()

    def _remove(self) -> None:
        with self._lock:
            if self._removed:
                return
            self._removed = True
        try:
            self._container.remove(force=True)
        except Exception as exc:  # noqa: BLE001 - already gone or being removed: fine
            if translate(exc, "") is None:
                raise
            if _engine_gone(exc, ""):
                raise DockerUnavailableError(
                    f"removing container {self._container.id[:12]}: {exc}"[:300]) from None


def _require_image(client, env: ResolvedEnvironment, purpose: str) -> None:
    """Raise ComputeError (before any container starts) when ``env`` has no image here."""
    from .images import _get_image
    if not env.image:
        raise ComputeError(f"{purpose}: environment '{env.spec.name}' was prepared for the "
                           f"'{env.installer}' backend, which builds no image; prepare it with "
                           "the docker backend")
    if _get_image(client, env.image) is None:
        raise ComputeError(f"{purpose}: the image {env.image} of environment '{env.spec.name}' "
                           "does not exist on this Docker engine (removed since it was built?); "
                           "prepare the environment again, which builds it when missing")


def _options(step: StepSpec):
    try:
        return container_options(step)
    except ValueError as exc:
        raise ComputeTargetException(str(exc)) from None


def _run_container(client, image: str, command: list[str], kwargs: dict, what: str, fix: str = ""):
    """Create and start a detached container with a tiny init (again without one on an engine
    that has no docker-init); a container the engine created but could not start (a port in
    use) is removed. docker's errors are translated."""
    import docker

    def start(init: bool):
        container = client.containers.create(image, command=command, init=init, **kwargs)
        try:
            container.start()
        except BaseException:
            try:
                container.remove(force=True)
            except Exception:  # noqa: BLE001 - the start's error is the one to report
                pass
            raise
        return container

    with docker_errors(what, fix):
        try:
            return start(init=True)
        except docker.errors.APIError as exc:
            if not re.search(r"docker-init|\binit\b", str(exc), re.I):
                raise
        return start(init=False)


class DockerBackend:
    """Runs steps in containers built per environment (compute kind ``docker``)."""

    kind = "docker"
    capabilities = KIND_CAPABILITIES["docker"]

    def prepare(self, spec: EnvironmentSpec, log: Log = print) -> ResolvedEnvironment:
        """Lock ``spec`` and build its image when missing.

        Raises EnvironmentBuildError naming the failing package; DockerUnavailableError.
        """
        from . import environments, images
        resolved = environments.resolve(spec, log)
        images.ensure_image(resolved, log)
        return resolved

    def resolve(self, spec: EnvironmentSpec, log: Log = print) -> ResolvedEnvironment:
        """Lock ``spec`` (from the lock cache when locked before) and compute its digest, without
        building its image: what deciding a step's reuse needs."""
        from . import environments
        return environments.resolve(spec, log)

    def submit(self, step: StepSpec, env: ResolvedEnvironment) -> DockerStepHandle:
        """Start ``step`` in a container of ``env.image`` and return at once.

        Raises DockerUnavailableError when no engine answers; ComputeError when the image is
        missing or the engine refuses the container (e.g. a mount source that does not exist);
        ComputeTargetException for a sandbox option docker cannot take.
        """
        from .images import docker_client
        client = docker_client()
        _require_image(client, env, f"step '{step.step_name}'")
        options = _options(step)
        container = _run_container(client, env.image, list(step.command),
                                   docker_py_kwargs(options),
                                   f"starting the container of step '{step.step_name}'")
        return DockerStepHandle(container)

    def shell(self, step: StepSpec, env: ResolvedEnvironment) -> int:
        """An interactive ``docker run --rm -i`` (``-t`` when stdin is a terminal) of the step's
        image with everything the step would get (its mounts, environment variables, labels,
        working directory :data:`WORKDIR`, user and sandbox) and a tiny init, running ``bash``
        (``sh`` where the image has no bash) attached to this process's stdin, stdout and stderr;
        returns the shell's exit status. ``$AMLOCAL_STEP_COMMAND`` holds the step's command,
        quoted for a shell (``eval "$AMLOCAL_STEP_COMMAND"`` runs it).

        The environment variables reach ``docker run`` through an ``--env-file`` readable by
        this user only, never on its command line. Needs the ``docker`` command line program.
        Raises DockerUnavailableError, ComputeError (no image, no ``docker`` program),
        ComputeTargetException (a variable with a line break, which an env file cannot carry).
        """
        from .images import docker_client
        client = docker_client()
        _require_image(client, env, f"a shell in step '{step.step_name}'")
        options = _options(step)
        program = shutil.which("docker")
        if program is None:
            raise ComputeError(f"a shell in step '{step.step_name}' needs the docker command "
                               "line program, which is not on PATH: install the Docker CLI")
        flags, environment = cli_arguments(options)
        environment[STEP_COMMAND_VARIABLE] = shlex.join(step.command)
        try:
            text = env_file_text(environment)
        except ValueError as exc:
            raise ComputeTargetException(f"a shell in step '{step.step_name}': {exc}") from None
        folder = tempfile.mkdtemp(prefix="amlocal-shell-")    # 0700
        try:
            env_file = os.path.join(folder, "env")
            fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            argv = [program, "run", "--rm", "-i", *(["-t"] if _stdin_is_tty() else []),
                    "--init", "--env-file", env_file, *flags, env.image, *SHELL_COMMAND]
            return subprocess.call(argv)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def serve(self, step: StepSpec, env: ResolvedEnvironment, *,
              container_port: int | None = None, host_port: int | None = None) -> ServiceHandle:
        """Start ``step`` as a long-lived container (its command is the server) and return at
        once. It gets what a step gets (mounts, environment, labels, user, sandbox, init) and,
        with ``container_port``, that TCP port published on 127.0.0.1 at ``host_port`` (a free
        port when None). It is not removed when it exits: find, read and remove it with
        :mod:`amlocal.compute.services` (by its labels or ``ServiceHandle.id``).

        Raises DockerUnavailableError; ComputeError (no image, a port in use, a container that
        exits before its port is published); ComputeTargetException for a published port on a
        sandboxed step without network.
        """
        from .images import docker_client
        if container_port is not None and step.sandbox is not None \
                and not (step.sandbox or {}).get("network"):
            raise ComputeTargetException(
                f"step '{step.step_name}' is sandboxed without network, so its port "
                f"{container_port} cannot be published: serve it through a Unix socket in a "
                "mount (as pipeline web service workers do), or allow the sandbox network")
        if host_port is not None and not (0 < int(host_port) < 65536):
            raise ComputeTargetException(f"host port {host_port} is not a TCP port (1-65535)")
        client = docker_client()
        what = f"starting the service of step '{step.step_name}'"
        _require_image(client, env, what)
        options = _options(step)
        kwargs = docker_py_kwargs(options)
        if container_port is not None:
            kwargs["ports"] = {f"{int(container_port)}/tcp": ("127.0.0.1", host_port)}
        container = _run_container(
            client, env.image, list(step.command), kwargs, what,
            fix=(f"If port {host_port} is in use, choose another one or leave it unset for a "
                 "free port." if host_port else ""))
        if container_port is None:
            return ServiceHandle(id=container.id)
        with docker_errors(f"{what}: reading its published port"):
            container.reload()
            bindings = ((container.attrs.get("NetworkSettings") or {}).get("Ports") or {})
            bound = bindings.get(f"{int(container_port)}/tcp") or []
            if not bound:
                log = container.logs().decode("utf-8", "replace").strip()[-2000:]
                status = container.status
                container.remove(force=True)
                raise ComputeError(f"{what}: the container {status} before its port "
                                   f"{container_port} was published; its log:\n{log}")
        return ServiceHandle(id=container.id, host_port=int(bound[0]["HostPort"]))


def _stdin_is_tty() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):
        return False


def remove_labelled(labels: dict) -> int:
    """Remove every container carrying all ``labels`` (e.g. the steps of a run whose runner
    died: ``{"amlocal.pipeline_run_id": run_id}``); returns how many were removed. Raises
    DockerUnavailableError when no engine answers, ComputeError when one cannot be removed."""
    from .services import remove_services
    return remove_services(labels)
