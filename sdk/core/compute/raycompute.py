"""``RayCompute``: a Ray cluster as a compute target (amlocal's own; Azure ML v1 has none).

``ComputeTarget.attach(ws, name, RayCompute.attach_configuration(address="HOST:PORT"))`` records
a target of kind ``ray`` with the cluster's address; a step given it as ``compute_target=`` runs
in its environment's Docker image through a Ray task on the node it lands on (see
:mod:`amlocal.compute.ray`). ``resources={"node_a": 1}`` makes every step of the target ask for
that custom resource (pinning them to the nodes started with it); ``num_cpus``, ``num_gpus`` and
``memory`` (bytes) set what each step asks for (default: 1 CPU).

This first step runs on ONE machine: the nodes must share this machine's Docker engine and
folders (the step API over TCP/TLS for nodes on other machines comes later). Nothing is
provisioned: the cluster is whatever ``ray start`` (or ``ray.cluster_utils.Cluster``) started;
attaching does not contact it, the first step does.
"""
from __future__ import annotations

import re

from ...errors import ComputeTargetException
from .compute import ComputeConfiguration, ComputeTarget

__all__ = ["RayCompute", "RayComputeAttachConfiguration"]

_ADDRESS = re.compile(r"^(ray://)?\[?[A-Za-z0-9.\-_:]+?\]?:\d{1,5}$")


class RayComputeAttachConfiguration(ComputeConfiguration):
    """What ``RayCompute.attach_configuration()`` returns: the settings ``ComputeTarget.attach``
    stores, readable as attributes (``address``, ``resources`` ...)."""

    def validate_configuration(self) -> None:
        """Raises ComputeTargetException for an address or request that cannot work."""
        address = self.get("address")
        if not isinstance(address, str) or not (address == "auto" or _ADDRESS.match(address)):
            raise ComputeTargetException(
                f"RayCompute address {address!r} is not a Ray cluster address: give the head "
                "node's 'HOST:PORT' (e.g. '10.0.0.5:6379'), 'ray://HOST:PORT' or 'auto'")
        for key in ("num_cpus", "num_gpus", "memory"):
            value = self.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or value < 0):
                raise ComputeTargetException(f"RayCompute {key} must be a number >= 0, not "
                                             f"{value!r}")
        resources = self.get("resources") or {}
        if not isinstance(resources, dict) or not all(
                isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool)
                and v > 0 for k, v in resources.items()):
            raise ComputeTargetException(f"RayCompute resources must map resource names to "
                                         f"positive amounts, e.g. {{'node_a': 1}}; not "
                                         f"{resources!r}")


class RayCompute(ComputeTarget):
    """A Ray cluster attached as a compute target (kind ``ray``)."""

    _TYPE = "RayCompute"     # the stored type ComputeTarget(ws, name) returns this class for

    @staticmethod
    def attach_configuration(address: str, resources: dict | None = None,
                             num_cpus: float | None = None, num_gpus: float | None = None,
                             memory: int | None = None) -> RayComputeAttachConfiguration:
        """The configuration ``ComputeTarget.attach(ws, name, config)`` takes: the cluster's
        ``address`` ("HOST:PORT", "ray://HOST:PORT" or "auto") and what each step asks for.
        Raises ComputeTargetException for settings that cannot work."""
        config = RayComputeAttachConfiguration(
            type=RayCompute._TYPE, kind="ray", address=address,
            resources=dict(resources or {}), num_cpus=num_cpus, num_gpus=num_gpus, memory=memory)
        config.validate_configuration()
        return config

    @property
    def address(self) -> str:
        """The Ray cluster's address."""
        return self._info.config.get("address")

    def backend_options(self) -> dict:
        """What :class:`amlocal.compute.ray.RayBackend` takes for this target."""
        from ...compute.backends import target_options
        return target_options(self.kind, self._info.config)

