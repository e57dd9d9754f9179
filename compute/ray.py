"""The ``ray`` compute backend: every step runs in its environment's Docker image, started by a
Ray task on a node of a Ray cluster; the node may be another machine.

* :meth:`RayBackend.prepare` is :class:`~amlocal.compute.docker.DockerBackend`'s (the image is
  built by this host's engine), then, when the target names one, pushes the image to a registry
  or saves it to a shared image store (:mod:`amlocal.compute.ray_images`, once per digest).
* :meth:`RayBackend.submit` connects to the cluster once per process (``ray.init(address=...)``;
  a process already connected keeps its connection), checks that some alive node has what the
  step asks for (else ComputeTargetException at once, naming the request and each node's
  resources: a request no node can satisfy would otherwise wait forever), sweeps the nodes it
  has not swept yet (:func:`amlocal.compute.ray_tasks.sweep_task`: containers and folders left by
  dead nodes), ships the step's folders through Ray's object store
  (:mod:`amlocal.compute.ray_files`: always, also for a node on this machine, so the path that
  runs in the tests is the one a node elsewhere takes) and starts ``StepSpec.node_count`` Ray
  tasks (:mod:`amlocal.compute.ray_tasks`), one per copy, each with ``AMLOCAL_NODE_RANK`` and
  ``AMLOCAL_NODE_COUNT``. Several copies are spread over the nodes with Ray's ``SPREAD``
  strategy: best effort, so with fewer alive nodes (that have the request) than copies some
  nodes run more than one copy. On its node, a task makes sure the image is there (pulled,
  loaded or built), unpacks the step's folders, starts the container with docker-py exactly as
  the docker backend does (the same
  :func:`~amlocal.compute.container_options.container_options`: mounts, environment, labels,
  user, sandbox), streams its output back as batches of lines, then the files it wrote, then its
  exit status; the container and the step's folder on the node are removed.
* The request: ``StepSpec.resources`` over the target's own (``RayBackend(resources=...)``, from
  ``RayCompute.attach_configuration(resources=...)``): ``num_cpus``, ``num_gpus``, ``memory`` in
  bytes, ``resources`` (custom resources, e.g. ``{"node_a": 1}`` to pin steps to a node labelled
  so); else a sandbox's ``cpus``/``memory``, else 1 CPU. Explicit ``num_cpus``/``memory`` also
  become the container's Docker limits (unless the sandbox sets its own); GPUs Ray assigns to the
  task are handed to the container (``device_requests``; untested here: no GPU).
* :class:`~amlocal.compute.ray_handle.RayStepHandle` follows the copies, handles a node's loss
  (``max_retries``) and cancels: see :mod:`amlocal.compute.ray_handle`.

``ray`` is imported only inside these functions: importing amlocal never needs it; without it the
backend raises ComputeError naming ``pip install ray``.
"""
from __future__ import annotations

import threading
from typing import Callable

from amlocal.errors import ComputeError, ComputeTargetException

from .base import Capability, EnvironmentSpec, ResolvedEnvironment, ServiceHandle, StepSpec
from .capabilities import KIND_CAPABILITIES, missing_capability
from .ray_handle import CANCELLED_STATUS, NODE_LOST_STATUS, RayStepHandle  # noqa: F401
from .ray_tasks import BATCH_LINES, _docker_limits  # noqa: F401

Log = Callable[[str], None]

_INTERNAL = ("node:", "object_store_memory", "accelerator_type:")   # not worth naming in errors
_connect_lock = threading.Lock()
_connected_to: str | None = None
_remote_cache: dict = {}     # what this process made for its connection: remote functions,
#                              packed folders ("packs"), nodes swept ("swept")


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
        _remote_cache.clear()            # object refs and nodes of an earlier connection
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


def options_from_target(config: dict) -> dict:
    """``RayBackend`` keyword arguments from a stored ``ray`` target's config (what
    ``RayCompute.attach_configuration`` recorded; address "auto": ``$RAY_ADDRESS``)."""
    request = {k: config[k] for k in ("num_cpus", "num_gpus", "memory")
               if config.get(k) is not None}
    if config.get("resources"):
        request["resources"] = dict(config["resources"])
    address = config.get("address")
    options = {"address": None if address == "auto" else address, "resources": request}
    for key in ("image_registry", "image_store"):
        if config.get(key):
            options[key] = config[key]
    if config.get("max_retries"):
        options["max_retries"] = int(config["max_retries"])
    return options


def _remote(ray, fn):
    """``ray.remote(fn)``, made once per connection (ray is never imported at module level)."""
    if fn.__name__ not in _remote_cache:
        _remote_cache[fn.__name__] = ray.remote(fn)
    return _remote_cache[fn.__name__]


def _pinned(ray, fn, node_id: str):
    """``fn`` as a task that takes no CPU, pinned to the node ``node_id``."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
    return _remote(ray, fn).options(num_cpus=0, scheduling_strategy=(
        NodeAffinitySchedulingStrategy(node_id, soft=False)))


def remove_container(ray, node_id: str, container_id: str) -> bool:
    """Remove a container through a task pinned to its node (False: it was gone)."""
    from .ray_tasks import remove_task
    return bool(ray.get(_pinned(ray, remove_task, node_id).remote(container_id), timeout=30))


def sweep(ray, nodes: list | None = None, timeout: float = 30) -> dict:
    """Run :func:`~amlocal.compute.ray_tasks.sweep_task` on every alive node this process has
    not swept yet (a node that comes back after dying is a new Ray node), handing it the nodes
    the cluster lists as dead; returns node id -> what it removed. A node that does not answer
    within ``timeout`` seconds (in all) is swept again next time."""
    from .ray_tasks import sweep_task
    nodes = ray.nodes() if nodes is None else nodes
    swept = _remote_cache.setdefault("swept", set())
    dead = sorted(n["NodeID"] for n in nodes if not n.get("Alive"))
    todo = [n["NodeID"] for n in nodes if n.get("Alive") and n["NodeID"] not in swept]
    refs = {_pinned(ray, sweep_task, node).remote(dead): node for node in todo}
    ready, _ = ray.wait(list(refs), num_returns=len(refs), timeout=timeout) if refs else ([], [])
    done = {}
    for ref in ready:
        try:
            done[refs[ref]] = ray.get(ref)
            swept.add(refs[ref])
        except Exception:  # noqa: BLE001 - its node died meanwhile: swept next time
            pass
    return done


class RayBackend:
    """Runs steps in their environment's image through Ray tasks (compute kind ``ray``).
    ``address`` is the cluster's ("HOST:PORT" or "ray://..."; None: ``$RAY_ADDRESS`` or a
    cluster this process is connected to already); ``resources`` what every step asks for unless
    it says otherwise (the keys of ``StepSpec.resources``: a target attached with
    ``resources={"node_a": 1}`` pins its steps to the nodes that have ``node_a``);
    ``image_registry`` ("HOST:PORT/REPO") or ``image_store`` (a folder or fsspec URL) where
    nodes get an image they lack (neither: they build it; see :mod:`.ray_images`);
    ``max_retries`` how many times a step whose node died is started again (default 0)."""

    kind = "ray"
    capabilities = KIND_CAPABILITIES["ray"]
    # its steps run on cluster nodes: the runner serves them the step API over TCP with TLS
    remote_nodes = True

    def __init__(self, address: str | None = None, resources: dict | None = None,
                 image_registry: str | None = None, image_store: str | None = None,
                 max_retries: int = 0):
        from .ray_images import ImageSource
        self.address = address
        self.resources = dict(resources or {})
        self.image_source = ImageSource(registry=image_registry or None,
                                        store=image_store or None)
        self.max_retries = int(max_retries or 0)

    def prepare(self, spec: EnvironmentSpec, log: Log = print) -> ResolvedEnvironment:
        """As the docker backend (lock ``spec``, build its image on this host's engine), then
        push it to the target's registry or save it to its image store (once per digest)."""
        from .docker import DockerBackend
        from .ray_images import publish
        resolved = DockerBackend().prepare(spec, log)
        publish(resolved, self.image_source, log)
        return resolved

    def resolve(self, spec: EnvironmentSpec, log: Log = print) -> ResolvedEnvironment:
        from .docker import DockerBackend
        return DockerBackend().resolve(spec, log)

    def submit(self, step: StepSpec, env: ResolvedEnvironment) -> RayStepHandle:
        """Start ``step`` (its ``node_count`` copies) as Ray tasks and return at once. Raises
        ComputeError (no ``ray`` package, no cluster answers, a mount source that does not
        exist), ComputeTargetException (a request no node can satisfy, a sandbox option docker
        cannot take, a node count below 1)."""
        from .docker import _options
        from .ray_files import PackCache, ship
        from .ray_tasks import step_task
        if not env.image:
            raise ComputeError(f"step '{step.step_name}': environment '{env.spec.name}' was "
                               f"prepared for the '{env.installer}' backend, which builds no "
                               "image; prepare it with the ray or docker backend")
        copies = step.node_count
        if not isinstance(copies, int) or isinstance(copies, bool) or copies < 1:
            raise ComputeTargetException(f"step '{step.step_name}': node_count {copies!r} is not "
                                         "a whole number >= 1")
        _options(step)                       # refuse bad sandbox options before Ray is asked
        ray = connect(self.address)
        request = ray_request(step, self.resources)
        nodes = ray.nodes()
        check_feasible(ray, step, request)
        sweep(ray, nodes)
        with _connect_lock:
            packs = _remote_cache.setdefault("packs", PackCache())
        shipped = ship(ray, step, packs)
        custom = {k: v for k, v in request.items() if k not in ("CPU", "GPU", "memory")}
        task = _remote(ray, step_task).options(
            num_cpus=request.get("CPU", 0), num_gpus=request.get("GPU", 0),
            memory=int(request["memory"]) if "memory" in request else None,
            resources=custom or None, max_retries=0, name=f"amlocal-step:{step.step_name}",
            **({"scheduling_strategy": "SPREAD"} if copies > 1 else {}))
        wanted = step_resources(step, self.resources)
        source = self.image_source

        def launch(rank: int):
            extra = {"AMLOCAL_NODE_RANK": str(rank), "AMLOCAL_NODE_COUNT": str(copies)}
            return task.remote(step, env, wanted, shipped, source, extra)

        folders = {item.index: (step.working_dir if item.index == 0 else
                                step.mounts[item.index - 1].source)
                   for item in shipped if item.kind == "step"}
        return RayStepHandle(ray, step.step_name, launch,
                             check=lambda: check_feasible(ray, step, request),
                             remove=lambda node, container: remove_container(ray, node, container),
                             folders=folders, copies=copies, max_retries=self.max_retries)

    def shell(self, step: StepSpec, env: ResolvedEnvironment) -> int:
        """Refused: the 'ray' backend has no shell capability (ComputeTargetException)."""
        raise missing_capability(self, Capability.SHELL, f"a shell in step '{step.step_name}'")

    def serve(self, step: StepSpec, env: ResolvedEnvironment, *,
              container_port: int | None = None, host_port: int | None = None) -> ServiceHandle:
        """Refused: the 'ray' backend has no serve capability (ComputeTargetException)."""
        raise missing_capability(self, Capability.SERVE, f"serving step '{step.step_name}'")
