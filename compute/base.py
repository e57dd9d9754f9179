"""The compute protocol and the plain data that crosses it."""
from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Callable, Iterator, Protocol

# the paths inside a step and the mount record are plain data shared by the layers
from amlocal._mount import CONTAINER_ROOT, RUNTIME_DIR, SERVICE_DIR, WORKDIR, Mount  # noqa: F401


@dataclass(frozen=True)
class EnvironmentSpec:
    """What a step's Python environment must contain, already normalised by the SDK
    (azureml-* entries dropped, ``sklearn`` renamed, python/pip removed from conda packages).

    ``user_managed``: nothing is installed; the step runs ``interpreter_path`` (default
    ``python`` on PATH) of the base image, or of this machine on the ``host`` backend."""

    name: str = "default"
    python_version: str | None = None
    conda_channels: tuple[str, ...] = ()
    conda_packages: tuple[str, ...] = ()
    pip_packages: tuple[str, ...] = ()
    pip_options: tuple[str, ...] = ()
    base_image: str | None = None
    environment_variables: dict = field(default_factory=dict)
    user_managed: bool = False
    interpreter_path: str | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "EnvironmentSpec":
        known = {f.name for f in dataclasses.fields(cls)}
        data = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items() if k in known}
        return cls(**data)


@dataclass(frozen=True)
class ResolvedEnvironment:
    """An environment pinned to a lockfile. ``digest`` names its image (or virtualenv)."""

    spec: EnvironmentSpec
    installer: str          # "uv", "conda-lock", "user-managed" (image as is) or "host"
    installer_version: str
    lock_text: str
    digest: str             # sha256 hex over lock, installer, template and base layers
    base_image: str
    image: str              # docker tag derived from the digest

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["spec"] = self.spec.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "ResolvedEnvironment":
        return cls(**{**data, "spec": EnvironmentSpec.from_dict(data["spec"])})


@dataclass(frozen=True)
class StepSpec:
    """One unit of work: every backend runs the same command, differing only in how it launches
    it. ``command[0] == "python"`` means the environment's interpreter."""

    run_id: str
    step_name: str
    command: tuple[str, ...]
    working_dir: str                       # host folder mounted read-write at WORKDIR
    mounts: tuple[Mount, ...] = ()
    env: dict = field(default_factory=dict)
    labels: dict = field(default_factory=dict)
    # None: an ordinary step. A dict (even empty) sandboxes the step: keys ``network`` (bool,
    # default False), ``memory`` (docker's size syntax, e.g. "512m") and ``cpus`` (float).
    sandbox: dict | None = None
    # What the step asks of a cluster (the ``ray`` backend; others ignore it): ``num_cpus``,
    # ``num_gpus``, ``memory`` (bytes), ``resources`` (custom resources, e.g. {"node_a": 1}).
    # None: 1 CPU (or a sandbox's cpus/memory).
    resources: dict | None = None
    # How many copies of the step to start, each on a node of its own where the backend has
    # nodes (the ``ray`` backend; ParallelRunStep's ``node_count``). Every copy gets
    # ``AMLOCAL_NODE_RANK`` (0..n-1) and ``AMLOCAL_NODE_COUNT`` in its environment; the step's
    # exit status is the first non-zero one. Backends without nodes start one copy (rank 0 of 1)
    # and leave the spreading to the step (ParallelRunStep then runs every node's workers in it).
    node_count: int = 1


class Capability(str, enum.Enum):
    """What a backend can do beyond running a step to its end. Callers ask for a capability
    (``Capability.SANDBOX in backend.capabilities``), never for a backend's kind."""

    CONTAINER = "container"   # the step runs in an image built for its environment
    SANDBOX = "sandbox"       # it can enforce StepSpec.sandbox (no network, read-only, non-root)
    SHELL = "shell"           # it can open an interactive shell where the step would run
    SERVE = "serve"           # it can keep a step running as a service (web services)


@dataclass(frozen=True)
class ServiceHandle:
    """A step kept running as a service (``ComputeBackend.serve``)."""

    id: str                       # the backend's id of it (a container id)
    host_port: int | None = None  # where its published port answers on this host


class StepHandle(Protocol):
    def lines(self) -> Iterator[str]:
        """The step's combined stdout/stderr, line by line, until it exits."""

    def wait(self, release: bool = True) -> int:
        """Block until the step exits and return its exit status. Its resources (a container, a
        temporary root) are released, unless ``release`` is False: the caller then calls
        :meth:`release` (after recording the step's end, so freeing them is not on the path)."""

    def release(self) -> None:
        """Free what the exited step still holds; idempotent."""

    def cancel(self) -> None:
        """Stop the step (and remove its container); ``wait`` then returns non-zero."""


class ComputeBackend(Protocol):
    """Where a step runs. Every method raises amlocal errors only (never the engine's own):
    DockerUnavailableError when the engine cannot be reached, EnvironmentBuildError when an
    environment cannot be built, ComputeError for anything else the backend refuses, and
    ComputeTargetException for a request the backend cannot serve (a capability it lacks, a
    sandboxed step without SANDBOX)."""

    kind: str
    capabilities: frozenset[Capability]

    def prepare(self, spec: EnvironmentSpec, log: Callable[[str], None]) -> ResolvedEnvironment:
        """Lock the environment and make sure its image (or virtualenv) exists, building it
        only when missing. Raises EnvironmentBuildError naming the package that failed."""

    def submit(self, step: StepSpec, env: ResolvedEnvironment) -> StepHandle:
        """Start the step and return at once. A sandboxed step (``step.sandbox`` set) is
        refused (ComputeTargetException) by a backend without SANDBOX."""

    def shell(self, step: StepSpec, env: ResolvedEnvironment) -> int:
        """(SHELL) An interactive shell with everything the step would get (its mounts,
        environment variables, labels, working directory, user and sandbox) instead of its
        command, attached to this process's stdin/stdout/stderr; returns the shell's exit
        status. ``$AMLOCAL_STEP_COMMAND`` holds the step's command quoted for a shell
        (``eval "$AMLOCAL_STEP_COMMAND"`` runs it). Without SHELL: ComputeTargetException."""

    def serve(self, step: StepSpec, env: ResolvedEnvironment, *,
              container_port: int | None = None, host_port: int | None = None) -> ServiceHandle:
        """(SERVE) Start the step as a long-lived service (its command is the server) and
        return at once; it runs until it is removed. With ``container_port`` that port is
        published on loopback (``host_port``, or a free one). Without SERVE:
        ComputeTargetException."""
