"""The ``ray`` compute backend: every step runs in its environment's Docker image, started by a
Ray task on the node of a Ray cluster the task lands on.

Scope of this first step (issue 12): the cluster's nodes share this machine (a
``ray.cluster_utils.Cluster`` in tests, or ``ray start`` nodes on this host). The step's mounts are
host folders and the run service is a Unix socket, so a node on another machine could not reach
them yet: the step API over TCP/TLS, shared artifacts and images on every node are later steps.

* :meth:`RayBackend.prepare` is :class:`~amlocal.compute.docker.DockerBackend`'s: the image is
  built by the local Docker engine, which the nodes share here.
* :meth:`RayBackend.submit` connects to the cluster once per process (``ray.init(address=...)``;
  a process already connected keeps its connection), checks that some alive node has what the
  step asks for (else ComputeTargetException at once, naming the request and each node's
  resources: a request no node can satisfy would otherwise wait forever), and runs one Ray task
  per step. The task starts the container with docker-py exactly as the docker backend does (the
  same :func:`~amlocal.compute.container_options.container_options`: mounts, environment,
  labels, user, sandbox), streams its output back as batches of lines (a streaming generator
  task: one object per batch) and ends with the container's exit status; the container is
  removed on the node.
* The request: ``StepSpec.resources`` over the target's own (``RayBackend(resources=...)``, from
  ``RayCompute.attach_configuration(resources=...)``): ``num_cpus``, ``num_gpus``, ``memory`` in
  bytes, ``resources`` (custom resources, e.g. ``{"node_a": 1}`` to pin steps to a node labelled
  so); else a sandbox's ``cpus``/``memory``, else 1 CPU. Explicit ``num_cpus``/``memory`` also
  become the container's Docker limits (unless the sandbox sets its own); GPUs Ray assigns to the
  task are handed to the container (``device_requests``; untested here: no GPU).
* :meth:`RayStepHandle.cancel` cancels the task (its ``finally`` stops and removes the container)
  and, as a backstop, removes the container through a small task pinned to its node.

``ray`` is imported only inside these functions: importing amlocal never needs it; without it the
backend raises ComputeError naming ``pip install ray``.
"""
from __future__ import annotations

import queue
import threading
from typing import Callable, Iterator

from amlocal.errors import ComputeError, ComputeTargetException, DockerUnavailableError

from .base import Capability, EnvironmentSpec, ResolvedEnvironment, ServiceHandle, StepSpec
from .capabilities import KIND_CAPABILITIES, missing_capability

Log = Callable[[str], None]

CANCELLED_STATUS = 143
BATCH_LINES = 1000           # at most so many lines in one streamed object
_INTERNAL = ("node:", "object_store_memory", "accelerator_type:")   # not worth naming in errors
_connect_lock = threading.Lock()
_connected_to: str | None = None
_remote_cache: dict = {}


def import_ray():
    """The ``ray`` module; ComputeError naming ``pip install ray`` when it is not installed."""
    try:
        import ray
    except ImportError as exc:
        raise ComputeError("the 'ray' compute target needs the Ray package, which is not "
                           f"installed in this Python ({exc}): pip install ray") from None
    return ray


def connect(address: str | None):
    """Connect this process to the Ray cluster at ``address`` ("HOST:PORT", "ray://...", or None
    for ``$RAY_ADDRESS``), once per process; returns the ``ray`` module. A process already
    connected (e.g. by a test's ``Cluster.connect()``) keeps its connection; asking for a
    different address than this module connected to raises ComputeError."""
    global _connected_to
    ray = import_ray()
    with _connect_lock:
        if ray.is_initialized():
            if _connected_to is not None and address and address != _connected_to:
                raise ComputeError(f"this process is connected to the Ray cluster at "
                                   f"{_connected_to}; it cannot also use {address} (one Ray "
                                   "cluster per process)")
            return ray
        try:
            ray.init(address=address or None, namespace="amlocal", log_to_driver=False,
                     configure_logging=False)
        except Exception as exc:  # noqa: BLE001 - ray's many connection errors: one message
            raise ComputeError(f"cannot connect to the Ray cluster at {address or '$RAY_ADDRESS'}:"
                               f" {type(exc).__name__}: {exc}"[:600]) from None
        _connected_to = address or "$RAY_ADDRESS"
    return ray


def step_resources(step: StepSpec, defaults: dict | None = None) -> dict:
    """``step.resources`` over the target's ``defaults`` (same keys; custom ``resources`` are
    merged, the step's winning)."""
    wanted = {**(defaults or {}), **(step.resources or {})}
    custom = {**((defaults or {}).get("resources") or {}),
              **((step.resources or {}).get("resources") or {})}
    if custom:
        wanted["resources"] = custom
    return wanted


def ray_request(step: StepSpec, defaults: dict | None = None) -> dict:
    """The Ray resources ``step`` asks for: {"CPU": n, "GPU": g, "memory": bytes, custom ...}
    (only the ones that are not zero). See the module docstring for where they come from."""
    wanted = step_resources(step, defaults)
    sandbox = step.sandbox or {}
    cpus = wanted.get("num_cpus", sandbox.get("cpus", 1))
    memory = wanted.get("memory")
    if memory is None and sandbox.get("memory"):
        memory = parse_size(str(sandbox["memory"]))
    request = {"CPU": float(cpus), "GPU": float(wanted.get("num_gpus") or 0),
               "memory": float(memory or 0)}
    for name, amount in (wanted.get("resources") or {}).items():
        request[str(name)] = float(amount)
    return {k: v for k, v in request.items() if v}


def parse_size(text: str) -> int:
    """Docker's size syntax ("512m", "2g", "1024") in bytes. Raises ComputeTargetException."""
    units = {"b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}
    value = text.strip().lower()
    factor = units.get(value[-1:], None)
    try:
        return int(float(value[:-1]) * factor) if factor else int(float(value))
    except ValueError:
        raise ComputeTargetException(f"memory {text!r} is not a size (e.g. 512m, 2g)") from None


def _describe(resources: dict) -> str:
    def amount(name, value):
        return f"{value / 1024 ** 3:.1f} GiB" if name == "memory" else f"{value:g}"
    return ", ".join(f"{name} {amount(name, value)}" for name, value in sorted(resources.items())
                     if not name.startswith(_INTERNAL)) or "nothing"


def check_feasible(ray, step: StepSpec, request: dict) -> None:
    """Raise ComputeTargetException unless some alive node of the cluster has every resource of
    ``request`` (in total: busy nodes are fine, the task then waits for them)."""
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    for node in nodes:
        have = node.get("Resources") or {}
        if all(have.get(name, 0) >= amount for name, amount in request.items()):
            return
    per_node = "; ".join(f"node {n.get('NodeManagerAddress', '?')} "
                         f"({str(n.get('NodeID', ''))[:8]}): {_describe(n.get('Resources') or {})}"
                         for n in nodes) or "no alive node"
    raise ComputeTargetException(
        f"step '{step.step_name}' asks the Ray cluster for {_describe(request)}, which no node "
        f"has, so it could never start. The cluster has {_describe(ray.cluster_resources())} in "
        f"all; per node: {per_node}. Ask for less, or add a node that has it.")


def _docker_limits(wanted: dict, kwargs: dict) -> None:
    """Explicit ``num_cpus``/``memory`` requests become Docker limits (a sandbox's own win)."""
    if wanted.get("num_cpus") and "nano_cpus" not in kwargs:
        kwargs["nano_cpus"] = int(float(wanted["num_cpus"]) * 1e9)
    if wanted.get("memory") and "mem_limit" not in kwargs:
        kwargs["mem_limit"] = int(wanted["memory"])


def options_from_target(config: dict) -> dict:
    """``RayBackend`` keyword arguments from a stored ``ray`` target's config (what
    ``RayCompute.attach_configuration`` recorded; address "auto": ``$RAY_ADDRESS``)."""
    request = {k: config[k] for k in ("num_cpus", "num_gpus", "memory")
               if config.get(k) is not None}
    if config.get("resources"):
        request["resources"] = dict(config["resources"])
    address = config.get("address")
    return {"address": None if address == "auto" else address, "resources": request}


# -- what runs on the node ----------------------------------------------------------------------
def _step_task(step: StepSpec, env: ResolvedEnvironment, wanted: dict):
    """(a Ray task, a streaming generator) Start ``step``'s container on this node as the
    docker backend does, yield ("started", node id, container id), then ("lines", [...]) batches,
    then ("exit", status). Docker's and amlocal's errors are yielded as ("error", class, message)
    so the driver raises the same amlocal errors. The container is removed in every case."""
    import ray
    from .docker import DockerStepHandle, _options, _require_image, _run_container
    from .container_options import docker_py_kwargs
    from .images import docker_client
    handle = None
    try:
        try:
            client = docker_client()
            _require_image(client, env, f"step '{step.step_name}' on Ray node "
                                        f"{ray.get_runtime_context().get_node_id()[:8]}")
            kwargs = docker_py_kwargs(_options(step))
            _docker_limits(wanted, kwargs)
            gpus = ray.get_gpu_ids()
            if gpus:
                from docker.types import DeviceRequest
                kwargs["device_requests"] = [DeviceRequest(device_ids=[str(g) for g in gpus],
                                                           capabilities=[["gpu"]])]
            container = _run_container(client, env.image, list(step.command), kwargs,
                                       f"starting the container of step '{step.step_name}'")
            handle = DockerStepHandle(container)
        except (ComputeError, ComputeTargetException, DockerUnavailableError) as exc:
            yield ("error", type(exc).__name__, str(exc))
            return
        yield ("started", ray.get_runtime_context().get_node_id(), handle.container_id)
        lines: queue.Queue = queue.Queue()
        done = object()

        def pump():
            try:
                for line in handle.lines():
                    lines.put(line)
            except Exception as exc:  # noqa: BLE001 - reported after the lines
                lines.put(exc)
            lines.put(done)
        threading.Thread(target=pump, daemon=True).start()
        ended = False
        while not ended:
            batch = [lines.get()]
            while len(batch) < BATCH_LINES:
                try:
                    batch.append(lines.get_nowait())
                except queue.Empty:
                    break
            if batch[-1] is done:
                ended = True
                batch.pop()
            failure = next((item for item in batch if isinstance(item, Exception)), None)
            text = [item for item in batch if isinstance(item, str)]
            if text:
                yield ("lines", text)
            if failure is not None:
                yield ("error", type(failure).__name__, str(failure))
                return
        try:
            code = handle.wait(release=True)      # removes the container
        except (ComputeError, DockerUnavailableError) as exc:
            yield ("error", type(exc).__name__, str(exc))
            return
        handle = None
        yield ("exit", code)
    finally:
        if handle is not None:      # cancelled (KeyboardInterrupt) or failed: never left behind
            try:
                handle.cancel()
            except Exception:  # noqa: BLE001 - the engine is gone: nothing more to do here
                pass


def _remove_task(container_id: str) -> bool:
    """(a Ray task pinned to a node) Stop and remove a container; False when it is gone."""
    import docker
    from .images import docker_client
    try:
        docker_client().containers.get(container_id).remove(force=True)
        return True
    except docker.errors.NotFound:
        return False


def _remote(ray, fn):
    """``ray.remote(fn)``, made once per process (ray is never imported at module level)."""
    if fn.__name__ not in _remote_cache:
        _remote_cache[fn.__name__] = ray.remote(fn)
    return _remote_cache[fn.__name__]


# -- the driver's side --------------------------------------------------------------------------
_ERRORS = {cls.__name__: cls for cls in (ComputeError, ComputeTargetException,
                                         DockerUnavailableError)}


class RayStepHandle:
    """A step running as a Ray task: stream its lines, wait for its exit status, cancel it."""

    def __init__(self, ray, generator, step_name: str):
        self._ray = ray
        self._generator = generator
        self._step_name = step_name
        self._exit: int | None = None
        self._cancelled = False
        self.node_id: str | None = None
        self.container_id: str | None = None

    def _events(self) -> Iterator[tuple]:
        ray = self._ray
        try:
            for ref in self._generator:
                yield ray.get(ref)
        except (ray.exceptions.TaskCancelledError, ray.exceptions.WorkerCrashedError):
            if not self._cancelled:
                raise ComputeError(f"the Ray task of step '{self._step_name}' ended before its "
                                   "container did (its worker died)") from None
            yield ("exit", CANCELLED_STATUS)
        except ray.exceptions.RayError as exc:
            if self._cancelled:
                yield ("exit", CANCELLED_STATUS)
                return
            raise ComputeError(f"the Ray task of step '{self._step_name}' failed: "
                               f"{type(exc).__name__}: {exc}"[:2000]) from None

    def lines(self) -> Iterator[str]:
        """The step's combined output, line by line, until its container exits."""
        if self._exit is not None:
            return
        for event in self._events():
            kind = event[0]
            if kind == "started":
                self.node_id, self.container_id = event[1], event[2]
            elif kind == "lines":
                yield from event[1]
            elif kind == "exit":
                self._exit = int(event[1])
            elif kind == "error":
                self._exit = -1
                raise _ERRORS.get(event[1], ComputeError)(event[2])
        if self._exit is None:
            self._exit = CANCELLED_STATUS if self._cancelled else -1

    def wait(self, release: bool = True) -> int:
        """Block until the step's container exits (the rest of its output is dropped) and return
        its exit status; the node removes the container itself, so ``release`` changes
        nothing."""
        for _ in self.lines():
            pass
        code = self._exit if self._exit is not None else -1
        if self._cancelled and code == 0:
            return CANCELLED_STATUS
        return code

    def release(self) -> None:
        """Nothing to free: the task removed the container on its node."""

    def cancel(self) -> None:
        """Cancel the Ray task (a queued one never starts; a running one stops and removes its
        container), then remove the container through a task pinned to its node."""
        ray = self._ray
        self._cancelled = True
        try:
            ray.cancel(self._generator, force=False)
        except Exception:  # noqa: BLE001 - finished already
            pass
        if self.node_id and self.container_id:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
            remove = _remote(ray, _remove_task).options(
                num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(
                    self.node_id, soft=False))
            try:
                ray.get(remove.remote(self.container_id), timeout=30)
            except Exception:  # noqa: BLE001 - the node is gone: its containers went with it
                pass


class RayBackend:
    """Runs steps in their environment's image through Ray tasks (compute kind ``ray``).
    ``address`` is the cluster's ("HOST:PORT" or "ray://..."; None: ``$RAY_ADDRESS`` or a
    cluster this process is connected to already); ``resources`` what every step asks for unless
    it says otherwise (the keys of ``StepSpec.resources``: a target attached with
    ``resources={"node_a": 1}`` pins its steps to the nodes that have ``node_a``)."""

    kind = "ray"
    capabilities = KIND_CAPABILITIES["ray"]

    def __init__(self, address: str | None = None, resources: dict | None = None):
        self.address = address
        self.resources = dict(resources or {})

    def prepare(self, spec: EnvironmentSpec, log: Log = print) -> ResolvedEnvironment:
        """As the docker backend: lock ``spec`` and build its image on the local engine."""
        from .docker import DockerBackend
        return DockerBackend().prepare(spec, log)

    def resolve(self, spec: EnvironmentSpec, log: Log = print) -> ResolvedEnvironment:
        from .docker import DockerBackend
        return DockerBackend().resolve(spec, log)

    def submit(self, step: StepSpec, env: ResolvedEnvironment) -> RayStepHandle:
        """Start ``step`` as a Ray task and return at once. Raises ComputeError (no ``ray``
        package, no cluster answers), ComputeTargetException (a request no node can satisfy, a
        sandbox option docker cannot take)."""
        from .docker import _options
        if not env.image:
            raise ComputeError(f"step '{step.step_name}': environment '{env.spec.name}' was "
                               f"prepared for the '{env.installer}' backend, which builds no "
                               "image; prepare it with the ray or docker backend")
        _options(step)                       # refuse bad sandbox options before Ray is asked
        ray = connect(self.address)
        request = ray_request(step, self.resources)
        check_feasible(ray, step, request)
        custom = {k: v for k, v in request.items() if k not in ("CPU", "GPU", "memory")}
        task = _remote(ray, _step_task).options(
            num_cpus=request.get("CPU", 0), num_gpus=request.get("GPU", 0),
            memory=int(request["memory"]) if "memory" in request else None,
            resources=custom or None, max_retries=0, name=f"amlocal-step:{step.step_name}")
        wanted = step_resources(step, self.resources)
        return RayStepHandle(ray, task.remote(step, env, wanted), step.step_name)

    def shell(self, step: StepSpec, env: ResolvedEnvironment) -> int:
        """Refused: the 'ray' backend has no shell capability (ComputeTargetException)."""
        raise missing_capability(self, Capability.SHELL, f"a shell in step '{step.step_name}'")

    def serve(self, step: StepSpec, env: ResolvedEnvironment, *,
              container_port: int | None = None, host_port: int | None = None) -> ServiceHandle:
        """Refused: the 'ray' backend has no serve capability (ComputeTargetException)."""
        raise missing_capability(self, Capability.SERVE, f"serving step '{step.step_name}'")
