"""What runs on a Ray node for the ``ray`` backend: the step task, the container removal task and
the sweep task. (Plain functions, made Ray tasks by :mod:`amlocal.compute.ray`.)

The step task (a streaming generator) yields, in order: ``("node", node id, address)``;
``("lines", [...])`` notes (an image fetched or built on the node); ``("started", container
id)``; ``("lines", [...])`` batches of the container's output; after it exited, the files it
changed (:func:`amlocal.compute.ray_files.returned_files`); last ``("exit", status)``. Docker's
and amlocal's errors are yielded as ``("error", class name, message)``. In every case the
container and the step's folder on the node are removed.

Every container a step task starts carries the labels :data:`NODE_LABEL` (the Ray node id it
was started on) and :data:`WORKER_LABEL` (the pid of the Ray worker that started it); the step's
folder on the node is named after that pid too. A node that dies leaves its containers running
(the Docker engine owns them, not Ray) and its step folders behind; so does a worker killed
with its driver. :func:`sweep_task`, run by a driver on every node it has not swept yet (every
node when a process first connects; a node that comes back is a new Ray node), removes the
containers and folders of every node the cluster lists as dead, and those of its own node whose
worker is gone.
"""
from __future__ import annotations

import dataclasses
import os
import queue
import shutil
import threading
import time
import uuid

from amlocal.errors import ComputeError, ComputeTargetException, DockerUnavailableError, \
    EnvironmentBuildError

from .base import ResolvedEnvironment, StepSpec

BATCH_LINES = 1000           # at most so many lines in one streamed object
NODE_LABEL = "amlocal.ray.node"
WORKER_LABEL = "amlocal.ray.worker"   # the pid of the Ray worker that started the container
CACHE_DAYS = 2               # a node's cached inputs unused for so long are pruned by a sweep
_ERRORS = (ComputeError, ComputeTargetException, DockerUnavailableError, EnvironmentBuildError)


def _docker_limits(wanted: dict, kwargs: dict) -> None:
    """Explicit ``num_cpus``/``memory`` requests become Docker limits (a sandbox's own win)."""
    if wanted.get("num_cpus") and "nano_cpus" not in kwargs:
        kwargs["nano_cpus"] = int(float(wanted["num_cpus"]) * 1e9)
    if wanted.get("memory") and "mem_limit" not in kwargs:
        kwargs["mem_limit"] = int(wanted["memory"])


def _lines_of(handle):
    """The container's lines in batches: ("lines", [...]) events, then an ("error", ...) when
    reading failed."""
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
    while True:
        batch = [lines.get()]
        while len(batch) < BATCH_LINES:
            try:
                batch.append(lines.get_nowait())
            except queue.Empty:
                break
        ended = batch[-1] is done
        if ended:
            batch.pop()
        failure = next((item for item in batch if isinstance(item, Exception)), None)
        text = [item for item in batch if isinstance(item, str)]
        if text:
            yield ("lines", text)
        if failure is not None:
            yield ("error", type(failure).__name__, str(failure))
            return
        if ended:
            return


def step_task(step: StepSpec, env: ResolvedEnvironment, wanted: dict, shipped: tuple,
              source, extra_env: dict):
    """(a Ray task, a streaming generator) Run ``step`` on this node: see the module
    docstring. ``shipped``: its mounts (:func:`amlocal.compute.ray_files.ship`); ``source``: the
    :class:`~amlocal.compute.ray_images.ImageSource`; ``extra_env``: variables of this copy
    (its rank)."""
    import ray
    from .docker import DockerStepHandle, _options, _run_container
    from .container_options import docker_py_kwargs
    from .images import docker_client
    from .ray_files import node_mounts, node_root, returned_files
    from .ray_images import ensure_on_node
    context = ray.get_runtime_context()
    node_id = context.get_node_id()
    address = ray.util.get_node_ip_address()
    node = f"{address} ({node_id[:8]})"
    yield ("node", node_id, address)
    folder = node_root() / "steps" / node_id / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    handle = None
    try:
        try:
            client = docker_client()
            note = ensure_on_node(client, env, source, node)
            if note:
                yield ("lines", [note])
            folder.mkdir(parents=True)
            working_dir, mounts, returned = node_mounts(ray, shipped, folder)
            here = dataclasses.replace(
                step, working_dir=working_dir, mounts=mounts,
                env={**step.env, **extra_env},
                labels={**step.labels, NODE_LABEL: node_id, WORKER_LABEL: str(os.getpid())})
            kwargs = docker_py_kwargs(_options(here))
            _docker_limits(wanted, kwargs)
            gpus = ray.get_gpu_ids()
            if gpus:
                from docker.types import DeviceRequest
                kwargs["device_requests"] = [DeviceRequest(device_ids=[str(g) for g in gpus],
                                                           capabilities=[["gpu"]])]
            container = _run_container(client, env.image, list(step.command), kwargs,
                                       f"starting the container of step '{step.step_name}' on "
                                       f"Ray node {node}")
            handle = DockerStepHandle(container)
        except _ERRORS as exc:
            yield ("error", type(exc).__name__, str(exc))
            return
        except OSError as exc:
            yield ("error", "ComputeError", f"step '{step.step_name}' on Ray node {node}: "
                                            f"preparing its files: {exc}")
            return
        yield ("started", handle.container_id)
        for event in _lines_of(handle):
            yield event
            if event[0] == "error":
                return
        try:
            code = handle.wait(release=True)      # removes the container
        except (ComputeError, DockerUnavailableError) as exc:
            yield ("error", type(exc).__name__, str(exc))
            return
        handle = None
        try:
            yield from returned_files(returned)
        except OSError as exc:
            yield ("error", "ComputeError", f"step '{step.step_name}' on Ray node {node}: "
                                            f"sending back its files: {exc}")
            return
        shutil.rmtree(folder, ignore_errors=True)     # gone before the driver hears the end
        yield ("exit", code)
    finally:
        if handle is not None:      # cancelled (KeyboardInterrupt) or failed: never left behind
            try:
                handle.cancel()
            except Exception:  # noqa: BLE001 - the engine is gone: nothing more to do here
                pass
        shutil.rmtree(folder, ignore_errors=True)


def remove_task(container_id: str) -> bool:
    """(a Ray task pinned to a node) Stop and remove a container; False when it is gone."""
    import docker
    from .images import docker_client
    try:
        docker_client().containers.get(container_id).remove(force=True)
        return True
    except docker.errors.NotFound:
        return False


def _pid_alive(text: str) -> bool:
    try:
        os.kill(int(text), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def sweep_task(dead_nodes: list) -> dict:
    """(a Ray task pinned to a node) Remove what step tasks left behind: containers (label
    :data:`NODE_LABEL`) started by a node the cluster lists as dead, or by a worker of this node
    that is no longer alive (its driver or the worker died before it could remove them), and
    the step folders of both; prune cached inputs unused for :data:`CACHE_DAYS`. Returns what
    was removed."""
    import docker
    import ray
    from .images import docker_client
    from .ray_files import node_root
    dead = set(dead_nodes)
    here = ray.get_runtime_context().get_node_id()
    removed = {"containers": [], "folders": 0, "cached": 0}

    def orphan(node: str | None, worker: str | None) -> bool:
        return node in dead or (node == here and worker is not None and not _pid_alive(worker))
    try:
        client = docker_client()
    except DockerUnavailableError:
        return removed
    for container in client.containers.list(all=True, filters={"label": NODE_LABEL}):
        labels = container.labels or {}
        if orphan(labels.get(NODE_LABEL), labels.get(WORKER_LABEL)):
            try:
                container.remove(force=True)
                removed["containers"].append(container.id)
            except docker.errors.APIError:
                pass                         # being removed already
    root = node_root()
    steps = root / "steps"
    if steps.is_dir():
        for node_folder in steps.iterdir():
            if node_folder.name in dead:
                shutil.rmtree(node_folder, ignore_errors=True)
                removed["folders"] += 1
            elif node_folder.name == here:
                for folder in node_folder.iterdir():
                    if orphan(here, folder.name.split("-")[0]):
                        shutil.rmtree(folder, ignore_errors=True)
                        removed["folders"] += 1
    cache = root / "cache"
    if cache.is_dir():
        limit = time.time() - CACHE_DAYS * 86400
        for entry in cache.iterdir():
            try:
                if entry.stat().st_mtime < limit:
                    shutil.rmtree(entry, ignore_errors=True)
                    removed["cached"] += 1
            except OSError:
                pass
    return removed
