"""``RayCompute``: a Ray cluster as a compute target (amlocal's own; Azure ML v1 has none).

``ComputeTarget.attach(ws, name, RayCompute.attach_configuration(address="HOST:PORT"))`` records
a target of kind ``ray`` with the cluster's address; a step given it as ``compute_target=`` runs
in its environment's Docker image through a Ray task on the node it lands on (see
:mod:`amlocal.compute.ray`). ``resources={"node_a": 1}`` makes every step of the target ask for
that custom resource (pinning them to the nodes started with it); ``num_cpus``, ``num_gpus`` and
``memory`` (bytes) set what each step asks for (default: 1 CPU).

Steps on the cluster's nodes reach the step API (``Run.get_context()``, metrics,
``Model.register``) over TCP with TLS: the pipeline runner also serves its run service at
``service_address`` ("IP[:PORT]" of this machine as the nodes reach it; default: the address
Ray reports for this machine, a free port), with a certificate signed by the home's own CA,
which each step is handed to verify it (see :mod:`amlocal.runservice.server` for what is and is
not encrypted). Nothing is provisioned: the cluster is whatever ``ray start`` (or
``ray.cluster_utils.Cluster``) started; attaching does not contact it, the first step does.
"""
from __future__ import annotations

import re

from ...errors import ComputeTargetException, UserErrorException
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
        if self.get("service_address") is not None:
            from ...runservice._tls import split_address
            try:
                split_address(self.get("service_address"))
            except UserErrorException as exc:
                raise ComputeTargetException(f"RayCompute {exc}") from None
        resources = self.get("resources") or {}
        if not isinstance(resources, dict) or not all(
                isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool)
                and v > 0 for k, v in resources.items()):
            raise ComputeTargetException(f"RayCompute resources must map resource names to "
                                         f"positive amounts, e.g. {{'node_a': 1}}; not "
                                         f"{resources!r}")


def _image_options(image_registry, image_store, max_retries) -> dict:
    """How nodes get images and how often a step lost with its node is retried (see
    :mod:`amlocal.compute.ray_images`: ``image_registry="HOST:PORT/REPO"`` (the host pushes,
    nodes pull), ``image_store=`` a folder or fsspec URL every node reaches (the host saves,
    nodes load); neither: a node lacking the image builds it from the lock). Raises
    ComputeTargetException."""
    for key, value in (("image_registry", image_registry), ("image_store", image_store)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ComputeTargetException(f"RayCompute {key} must be a non-empty string, not "
                                         f"{value!r}")
    if image_registry and image_store:
        raise ComputeTargetException("RayCompute takes image_registry or image_store, not "
                                     "both: nodes get images from one place")
    if image_registry and (image_registry.startswith(("http://", "https://"))
                           or ":" in image_registry.rsplit("/", 1)[-1]):
        raise ComputeTargetException(f"RayCompute image_registry {image_registry!r} must be a "
                                     "repository without scheme or tag, e.g. "
                                     "'10.0.0.5:5000/amlocal'")
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ComputeTargetException(f"RayCompute max_retries must be a whole number >= 0, "
                                     f"not {max_retries!r}")
    options = {k: v for k, v in (("image_registry", image_registry),
                                 ("image_store", image_store)) if v}
    if max_retries:
        options["max_retries"] = max_retries
    return options


class RayCompute(ComputeTarget):
    """A Ray cluster attached as a compute target (kind ``ray``)."""

    _TYPE = "RayCompute"     # the stored type ComputeTarget(ws, name) returns this class for

    @staticmethod
    def attach_configuration(address: str, resources: dict | None = None,
                             num_cpus: float | None = None, num_gpus: float | None = None,
                             memory: int | None = None,
                             service_address: str | None = None,
                             image_registry: str | None = None, image_store: str | None = None,
                             max_retries: int = 0) -> RayComputeAttachConfiguration:
        """The configuration ``ComputeTarget.attach(ws, name, config)`` takes: the cluster's
        ``address`` ("HOST:PORT", "ray://HOST:PORT" or "auto"), what each step asks for, and
        ``service_address``: where the cluster's nodes reach this machine's run service
        ("IP[:PORT]", an address of this machine; default: the address Ray reports for it, a
        free port). Raises ComputeTargetException for settings that cannot work."""
        config = RayComputeAttachConfiguration(
            type=RayCompute._TYPE, kind="ray", address=address,
            resources=dict(resources or {}), num_cpus=num_cpus, num_gpus=num_gpus, memory=memory,
            **({"service_address": service_address} if service_address is not None else {}),
            **_image_options(image_registry, image_store, max_retries))
        config.validate_configuration()
        return config

    @property
    def address(self) -> str:
        """The Ray cluster's address."""
        return self._info.config.get("address")

    @property
    def service_address(self) -> str | None:
        """Where the cluster's nodes reach this machine's run service ("IP[:PORT]"), if set."""
        return self._info.config.get("service_address")

    def backend_options(self) -> dict:
        """What :class:`amlocal.compute.ray.RayBackend` takes for this target."""
        from ...compute.backends import target_options
        return target_options(self.kind, self._info.config)

