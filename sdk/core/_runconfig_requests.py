"""What a step's run configuration asks of the machine it runs on: CPUs, memory, GPUs and nodes.

A v1 run configuration can say this in these places (all else in it is not a request):

* ``run_config.docker.arguments`` (``docker run`` flags): ``--cpus=1.5`` / ``--cpus 1.5`` ->
  ``num_cpus``; ``--memory=4g`` / ``--memory 4g`` / ``-m 4g`` -> ``memory`` (bytes);
  ``--gpus 2`` / ``--gpus count=2`` / ``--gpus device=0,1`` (two) / ``--gpus all`` (taken as
  one: "all of a node's GPUs" has no count before the step lands) -> ``num_gpus``.
* ``run_config.amlcompute.vm_size``: a node of that Azure size (:mod:`.compute._vm_sizes`):
  its vCPUs, memory and GPUs. ``docker.arguments`` win over it, key by key.
* ``run_config.node_count``: how many copies of the step a cluster starts
  (``StepSpec.node_count``) -- for a ``ParallelRunStep`` only, whose ``node_count`` it is
  (other steps run as one process, as :mod:`._runconfig_sections` says).

The step's compute target may add defaults below these: an ``AmlCompute`` mapped onto a Ray
cluster asks for its ``vm_size``, a ``RayCompute`` for what it was attached with. The result is
``StepSpec.resources`` (``num_cpus``, ``num_gpus``, ``memory``); the ``ray`` backend makes it
Ray resource requests and, for CPUs and memory, the container's Docker limits. The ``docker``
backend applies ``--cpus``/``--memory`` to sandboxed steps only (as before: the step's
sandbox); the ``docker`` backend's other steps, and the ``local`` and ``host`` backends, ignore
the requests. ``docker.shm_size`` and ``docker.shared_volumes`` are not requests (kept, not
applied). An unknown ``vm_size`` is an error only where it is used (a step on a ``ray``
target): elsewhere it is recorded and ignored, so scripts written for Azure run unchanged.
"""
from __future__ import annotations

from ..errors import ComputeTargetException, UserErrorException

_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}


def memory_bytes(text: str) -> int:
    """Docker's size syntax ("512m", "4g", "1024", "4gb") in bytes."""
    value = str(text).strip().lower()
    if value.endswith("b") and len(value) > 1 and value[-2] in "kmg":
        value = value[:-1]
    unit = value[-1:] if value[-1:] in "bkmg" else ""
    return int(float(value[:len(value) - len(unit)]) * _UNITS[unit])


def _gpus(value: str) -> int:
    """The number of GPUs a ``--gpus`` value names. Raises UserErrorException."""
    text = value.strip().strip('"\'')
    if text == "all":
        return 1
    if text.isdigit() and int(text) > 0:
        return int(text)
    fields = dict(part.split("=", 1) for part in text.split(",") if "=" in part)
    if "count" in fields and (fields["count"] == "all" or fields["count"].isdigit()):
        return 1 if fields["count"] == "all" else max(1, int(fields["count"]))
    if "device" in fields:
        devices = [d for d in text.split("device=", 1)[1].split(",") if d and "=" not in d]
        return max(1, len(devices))
    raise UserErrorException(f"run_config.docker.arguments: --gpus {value!r} names no GPUs; use "
                             "e.g. --gpus 1, --gpus count=2 or --gpus device=0,1")


def docker_requests(arguments) -> dict:
    """``num_cpus``, ``memory`` (bytes) and ``num_gpus`` from ``docker run`` flags (only those
    given). Raises UserErrorException for a flag without a value or a value docker refuses."""
    from .runconfig import DockerConfiguration
    limits = DockerConfiguration(arguments=list(arguments or []))._limits()
    request: dict = {}
    if "cpus" in limits:
        request["num_cpus"] = float(limits["cpus"])
    if "memory" in limits:
        request["memory"] = memory_bytes(limits["memory"])
    tokens = [t for a in arguments or () for t in str(a).split()]
    for i, token in enumerate(tokens):
        flag, sep, value = token.partition("=")
        if flag != "--gpus":
            continue
        if not sep:
            if i + 1 >= len(tokens):
                raise UserErrorException("run_config.docker.arguments: --gpus needs a value, "
                                         "e.g. --gpus 1")
            value = tokens[i + 1]
        request["num_gpus"] = _gpus(value)
    return request


def run_requests(runconfig, where: str, *, on_cluster: bool) -> dict | None:
    """``StepSpec.resources`` of a step whose run configuration is ``runconfig`` (see the module
    docstring), or None when it asks for nothing. ``on_cluster``: the step runs on a ``ray``
    target, where an unknown ``vm_size`` is an error (elsewhere it is ignored). Raises
    UserErrorException (bad docker flags) and ComputeTargetException (unknown vm_size)."""
    from .compute._vm_sizes import vm_size_request
    request: dict = {}
    vm_size = getattr(getattr(runconfig, "amlcompute", None), "vm_size", None)
    if vm_size:
        try:
            request.update(vm_size_request(vm_size, f"{where}: run_config.amlcompute"))
        except ComputeTargetException:
            if on_cluster:
                raise
    docker = getattr(runconfig, "docker", None)
    request.update(docker_requests(getattr(docker, "arguments", None) or ()))
    return request or None
