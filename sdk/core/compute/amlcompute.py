"""AmlCompute (``azureml.core.compute.amlcompute``): a managed cluster on Azure; here a local
target, or the Ray cluster amlocal is configured with.

Where its steps run:

* **A Ray cluster, when one is configured**: ``AMLOCAL_RAY_ADDRESS`` (the head's ``HOST:PORT``,
  ``ray://HOST:PORT`` or ``auto``) set in the process that calls
  ``AmlCompute.provisioning_configuration`` (or ``AmlCompute(ws, name)`` for a new name). The
  target is then recorded with kind ``ray`` and that address, so every later process (the
  runner, a schedule, ``amlocal run``) uses the cluster without the variable, and
  ``ComputeTarget.create`` / ``AmlCompute(ws, name)`` / ``compute_target='cpu-cluster'`` in an
  unchanged Azure script run steps on the cluster. ``vm_size`` becomes what each step asks for:
  a node of that size's vCPUs, memory and GPUs (:mod:`._vm_sizes`; an unknown size raises
  ComputeTargetException naming the known ones; an empty one asks for 1 CPU). A step's own
  run-configuration requests win over it. What a cluster has no use for is recorded and
  ignored, said once per process on stderr: ``vm_priority``, ``idle_seconds_before_scaledown``,
  ``min_nodes``/``max_nodes`` (the nodes are whatever the cluster has: ``get_status()`` reports
  its alive nodes, ``wait_for_completion`` checks them against ``min_nodes`` and says when there
  are fewer), admin credentials, ssh, vnet/subnet, public IPs, identity and location.
* **Otherwise a local Docker target** (or a local-process one with
  ``provisioning_configuration(kind='local')``), as before: nothing is provisioned, so the
  cluster is always in its steady state: provisioning state ``Succeeded``, allocation state
  ``Steady``, and as many idle nodes as its ``min_nodes`` (0 by default), which is where an
  Azure cluster settles when no job runs. ``get_status()`` reports that;
  ``wait_for_completion()`` returns at once with the lines Azure prints.

Targets created before a cluster was configured stay where they were created (their kind is
stored); create them again (another name) to move them.
"""
from __future__ import annotations

import functools
import os
import sys

from ...errors import ComputeError, ComputeTargetException
from ...store.entities import parse_utc
from .compute import ComputeConfiguration, ComputeTarget

RAY_ADDRESS_VARIABLE = "AMLOCAL_RAY_ADDRESS"
_IGNORED_ON_RAY = ("vm_priority, idle_seconds_before_scaledown, min_nodes/max_nodes (the nodes "
                   "are the cluster's own; wait_for_completion checks min_nodes against them), "
                   "admin credentials, ssh, vnet/subnet, public IPs, identity and location")


@functools.lru_cache(maxsize=None)
def _say_ignored_once(address: str) -> None:
    """The one line per process (and cluster) saying what a Ray cluster ignores."""
    print(f"amlocal: AmlCompute targets run their steps on the Ray cluster at {address} "
          f"(${RAY_ADDRESS_VARIABLE}); vm_size is what each step asks for; ignored: "
          f"{_IGNORED_ON_RAY}", file=sys.stderr)


def _ray_settings(vm_size: str) -> dict:
    """The settings of a target mapped onto the configured Ray cluster (empty when none is):
    ``kind``, ``address`` and the request of a ``vm_size`` node. Raises ComputeTargetException
    for an address that is not one or an unknown vm_size."""
    address = os.environ.get(RAY_ADDRESS_VARIABLE, "").strip()
    if not address:
        return {}
    from ._vm_sizes import vm_size_request
    from .raycompute import RayCompute
    try:
        RayCompute.attach_configuration(address=address)          # the address is checked
    except ComputeTargetException as exc:
        raise ComputeTargetException(f"${RAY_ADDRESS_VARIABLE}: {exc}") from None
    request = vm_size_request(vm_size, "AmlCompute.provisioning_configuration") if vm_size else {}
    _say_ignored_once(address)
    return {"kind": "ray", "address": address, "resources": {},
            "num_cpus": request.get("num_cpus"), "num_gpus": request.get("num_gpus"),
            "memory": request.get("memory")}

__all__ = ["AmlCompute", "AmlComputeProvisioningConfiguration", "AmlComputeStatus",
           "AmlComputeNodeStateCounts", "ScaleSettings"]


def _duration(seconds) -> str:
    """ISO-8601 duration of a number of seconds: 1800 -> 'PT30M', 90 -> 'PT1M30S'."""
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "") \
        + (f"{secs}S" if secs else "")
    return text if text != "PT" else "PT0S"


class ScaleSettings:
    """Node limits of a cluster: ``minimum_node_count``, ``maximum_node_count``,
    ``idle_seconds_before_scaledown``."""

    def __init__(self, minimum_node_count, maximum_node_count, idle_seconds_before_scaledown):
        self.minimum_node_count = minimum_node_count
        self.maximum_node_count = maximum_node_count
        self.idle_seconds_before_scaledown = idle_seconds_before_scaledown

    def serialize(self) -> dict:
        duration = _duration(self.idle_seconds_before_scaledown) \
            if self.idle_seconds_before_scaledown else ""
        return {"minNodeCount": self.minimum_node_count, "maxNodeCount": self.maximum_node_count,
                "nodeIdleTimeBeforeScaleDown": duration}


class AmlComputeNodeStateCounts:
    """How many nodes are in each state."""

    def __init__(self, idle_node_count=0, leaving_node_count=0, preempted_node_count=0,
                 preparing_node_count=0, running_node_count=0, unusable_node_count=0):
        self.idle_node_count = idle_node_count
        self.leaving_node_count = leaving_node_count
        self.preempted_node_count = preempted_node_count
        self.preparing_node_count = preparing_node_count
        self.running_node_count = running_node_count
        self.unusable_node_count = unusable_node_count

    def serialize(self) -> dict:
        return {"preparingNodeCount": self.preparing_node_count,
                "runningNodeCount": self.running_node_count,
                "idleNodeCount": self.idle_node_count,
                "unusableNodeCount": self.unusable_node_count,
                "leavingNodeCount": self.leaving_node_count,
                "preemptedNodeCount": self.preempted_node_count}


class AmlComputeStatus:
    """What ``AmlCompute.get_status()`` returns; ``serialize()`` gives Azure's camelCase dict
    (datetimes as isoformat strings)."""

    def __init__(self, allocation_state, allocation_state_transition_time, creation_time,
                 current_node_count, errors, modified_time, node_state_counts, provisioning_state,
                 provisioning_state_transition_time, scale_settings, target_node_count,
                 vm_priority, vm_size):
        self.allocation_state = allocation_state
        self.allocation_state_transition_time = allocation_state_transition_time
        self.creation_time = creation_time
        self.current_node_count = current_node_count
        self.errors = errors
        self.modified_time = modified_time
        self.node_state_counts = node_state_counts
        self.provisioning_state = provisioning_state
        self.provisioning_state_transition_time = provisioning_state_transition_time
        self.scale_settings = scale_settings
        self.target_node_count = target_node_count
        self.vm_priority = vm_priority
        self.vm_size = vm_size

    def serialize(self) -> dict:
        def iso(value):
            return value.isoformat() if value else None
        return {"currentNodeCount": self.current_node_count,
                "targetNodeCount": self.target_node_count,
                "nodeStateCounts": self.node_state_counts.serialize() if self.node_state_counts else None,
                "allocationState": self.allocation_state,
                "allocationStateTransitionTime": iso(self.allocation_state_transition_time),
                "errors": self.errors, "creationTime": iso(self.creation_time),
                "modifiedTime": iso(self.modified_time),
                "provisioningState": self.provisioning_state,
                "provisioningStateTransitionTime": iso(self.provisioning_state_transition_time),
                "scaleSettings": self.scale_settings.serialize() if self.scale_settings else None,
                "vmPriority": self.vm_priority, "vmSize": self.vm_size}


class AmlComputeProvisioningConfiguration(ComputeConfiguration):
    """What ``AmlCompute.provisioning_configuration()`` returns: the recorded settings, readable
    as attributes (``vm_size``, ``min_nodes`` ...) and as the dict ``ComputeTarget.create``
    stores. ``kind`` ('docker', 'local' or, with a configured Ray cluster, 'ray' with its
    ``address`` and the ``vm_size`` request) says where steps run."""

    def validate_configuration(self) -> None:
        """Raises ComputeTargetException for node limits that cannot work."""
        low, high = self.get("min_nodes", 0), self.get("max_nodes")
        if not isinstance(low, int) or low < 0:
            raise ComputeTargetException(f"min_nodes must be a whole number >= 0, not {low!r}")
        if high is not None and (not isinstance(high, int) or high < low):
            raise ComputeTargetException(f"max_nodes ({high!r}) must be a whole number >= "
                                         f"min_nodes ({low})")


class AmlCompute(ComputeTarget):
    """``AmlCompute(ws, name)``: an unknown name becomes a target (on the configured Ray
    cluster, else local Docker), with a notice."""

    _TYPE = "AmlCompute"     # the stored type ComputeTarget(ws, name) returns this class for

    def __init__(self, workspace, name: str, **kwargs):
        info = workspace._store.get_compute_target(workspace._id, name)
        if info is None:
            config = AmlCompute.provisioning_configuration()
            where = (f"on the Ray cluster at {config['address']}" if config.get("kind") == "ray"
                     else "in local Docker containers")
            print(f"amlocal: compute target '{name}' does not exist; it runs steps {where}",
                  file=sys.stderr)
            info = ComputeTarget.create(workspace, name, config)._info
        super().__init__(workspace, name, _info=info)

    @staticmethod
    def provisioning_configuration(vm_size: str = "", vm_priority: str = "dedicated",
                                   min_nodes: int = 0, max_nodes: int | None = None,
                                   idle_seconds_before_scaledown: int = 1800,
                                   **kwargs) -> AmlComputeProvisioningConfiguration:
        """Accepted as on Azure and recorded. With ``$AMLOCAL_RAY_ADDRESS`` set (and no
        ``kind``) the target maps onto that Ray cluster and ``vm_size`` is what each step asks
        for (see the module docstring: what is ignored is said once per process); otherwise
        only ``kind`` ('docker'/'local') matters. Raises ComputeTargetException for node
        limits that cannot work, and on a Ray cluster for an unknown ``vm_size``."""
        config = AmlComputeProvisioningConfiguration(
            type="AmlCompute", vm_size=vm_size, vm_priority=vm_priority, min_nodes=min_nodes,
            max_nodes=max_nodes, idle_seconds_before_scaledown=idle_seconds_before_scaledown,
            **{k: v for k, v in kwargs.items() if k == "kind"})
        config.validate_configuration()
        if "kind" not in config:
            config.update(_ray_settings(vm_size))
        return config

    @staticmethod
    def supported_vmsizes(workspace, location=None) -> list:
        """The VM sizes amlocal knows (what a step on a Ray cluster asks for), in Azure's shape:
        dicts of ``name``, ``vCPUs``, ``gpus``, ``memoryGB``, ``maxResourceVolumeMB`` (None)."""
        from ._vm_sizes import supported_sizes
        return supported_sizes()

    def _alive_nodes(self) -> tuple[int | None, str | None]:
        """(alive nodes of the Ray cluster, None) for a target on one, (None, why) when the
        cluster does not answer; (None, None) for a local target."""
        if self.kind != "ray":
            return None, None
        from ...compute.ray import connect, options_from_target
        try:
            ray = connect(options_from_target(self._info.config)["address"])
            return sum(1 for n in ray.nodes() if n.get("Alive")), None
        except ComputeError as exc:
            return None, str(exc)

    @property
    def status(self) -> AmlComputeStatus:
        return self.get_status()

    def get_status(self) -> AmlComputeStatus:
        """The cluster's steady local state, or on a Ray cluster its alive nodes (see the module
        docstring); a Ray cluster that does not answer is reported in ``errors``."""
        config = self._info.config
        nodes = int(config.get("min_nodes") or 0)
        alive, problem = self._alive_nodes()
        if self.kind == "ray":
            nodes = alive or 0
        created = parse_utc(self._info.created_at)
        return AmlComputeStatus(
            allocation_state="Steady", allocation_state_transition_time=created,
            creation_time=created, current_node_count=nodes,
            errors=[{"code": "ClusterUnreachable", "message": problem}] if problem else None,
            modified_time=created,
            node_state_counts=AmlComputeNodeStateCounts(idle_node_count=nodes),
            provisioning_state="Succeeded", provisioning_state_transition_time=created,
            scale_settings=ScaleSettings(nodes, config.get("max_nodes"),
                                         config.get("idle_seconds_before_scaledown")),
            target_node_count=nodes, vm_priority=config.get("vm_priority", "dedicated"),
            vm_size=config.get("vm_size", ""))

    def wait_for_completion(self, show_output: bool = False, min_node_count: int | None = None,
                            timeout_in_minutes: int = 25, is_delete_operation: bool = False) -> None:
        """Returns at once: nothing is provisioned and the cluster's ``min_nodes`` idle nodes
        are always there. Prints what Azure prints (the provisioning operation line after
        ``create``, then the node wait). A ``min_node_count`` above ``max_nodes`` raises
        ComputeTargetException (Azure would wait until the timeout). On a Ray cluster the
        wanted count is checked against its alive nodes: fewer are said on stderr (amlocal adds
        no nodes, so waiting could only time out) and Azure's timeout line is printed."""
        if self._operation_pending:
            self._finish_operation(show_output)
        if is_delete_operation:
            return None
        status = self.get_status()
        wanted = status.scale_settings.minimum_node_count if min_node_count is None else min_node_count
        limit = status.scale_settings.maximum_node_count
        if limit is not None and wanted > limit:
            raise ComputeTargetException(f"min_node_count {wanted} is more than the max_nodes "
                                         f"({limit}) of compute target '{self.name}'")
        short = self.kind == "ray" and status.current_node_count < wanted
        if short:   # amlocal adds no nodes: waiting would only reach the timeout
            print(f"amlocal: compute target '{self.name}' wants {wanted} node(s) but its Ray "
                  f"cluster has {status.current_node_count} alive"
                  + (f" ({status.errors[0]['message']})" if status.errors else "")
                  + "; amlocal does not add nodes: start more with 'ray start --address=...'",
                  file=sys.stderr)
        if show_output:
            print(status.provisioning_state)
            print("AmlCompute wait for completion finished\n")
            print("Wait timeout has been reached" if short else
                  "Minimum number of nodes requested have been provisioned")
        return None

    def serialize(self) -> dict:
        """Azure's AmlCompute shape, with ``properties.status`` the status's ``serialize()``."""
        base = super().serialize()
        config = self._info.config
        status = self.get_status()
        return {"id": base["id"], "name": self.name, "location": base["location"],
                "tags": base["tags"], "identity": None,
                "properties": {
                    "description": base["description"], "resourceId": None,
                    "computeType": "AmlCompute", "computeLocation": base["location"],
                    "provisioningState": "Succeeded", "provisioningErrors": None,
                    "properties": {
                        "vmSize": config.get("vm_size", ""),
                        "vmPriority": config.get("vm_priority", "dedicated"),
                        "scaleSettings": status.scale_settings.serialize(),
                        "userAccountCredentials": {"adminUserName": None,
                                                   "adminUserPassword": None,
                                                   "adminUserSshPublicKey": None},
                        "subnet": None, "remoteLoginPortPublicAccess": "NotSpecified"},
                    "status": status.serialize()}}
