"""Compute targets: ``ComputeTarget`` and ``AmlCompute`` as Azure scripts use them.

Locally a compute target names where steps run: ``docker`` (a container per step, the default)
or ``local`` (a process in a per-environment virtualenv). Deliberate difference from Azure:
``AmlCompute(ws, 'd1compute')`` for a name that was never created does not raise; the
tutorials' cluster name becomes a Docker target, with a notice, so scripts run unchanged.
"""
from __future__ import annotations

import re
import sys

from ...errors import ComputeTargetException

KINDS = ("docker", "local")
_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9\-]{1,23}$")


class ComputeTarget:
    """A registered compute target. ``ComputeTarget(ws, name)`` raises for an unknown name,
    as on Azure (``ComputeTargetException``); ``AmlCompute(ws, name)`` creates it instead."""

    _kind_default = "docker"

    def __init__(self, workspace, name: str, *, _info=None):
        self.workspace = workspace
        self._info = _info or self._lookup(workspace, name)

    @classmethod
    def _lookup(cls, workspace, name):
        info = workspace._store.get_compute_target(workspace._id, name)
        if info is None:
            known = sorted(c.name for c in workspace._store.list_compute_targets(workspace._id))
            raise ComputeTargetException(
                f"ComputeTargetNotFound: compute target '{name}' does not exist in workspace "
                f"'{workspace.name}'. Known targets: {', '.join(known) or '(none)'}. Create it with "
                f"ComputeTarget.create(ws, '{name}', AmlCompute.provisioning_configuration()) or "
                "use 'local'")
        return info

    @classmethod
    def _from_info(cls, workspace, info) -> "ComputeTarget":
        target = object.__new__(AmlCompute if info.config.get("type") == "AmlCompute" else ComputeTarget)
        target.workspace = workspace
        target._info = info
        return target

    @property
    def name(self) -> str:
        return self._info.name

    @property
    def type(self) -> str:
        return self._info.config.get("type", "AmlCompute")

    @property
    def kind(self) -> str:
        """Where steps run: ``docker`` or ``local``."""
        return self._info.kind

    @property
    def provisioning_state(self) -> str:
        return "Succeeded"

    @staticmethod
    def create(workspace, name: str, provisioning_configuration) -> "ComputeTarget":
        """Register a target. ``provisioning_configuration`` is what
        ``AmlCompute.provisioning_configuration()`` returns (a dict); ``kind='local'`` in it
        makes a local-process target."""
        from ...store.entities import ComputeTargetInfo
        if not _NAME.match(name or "") and name not in ("local",):
            raise ComputeTargetException(
                f"compute target name {name!r} is not valid: 2-24 letters, digits or '-', "
                "starting with a letter")
        config = dict(provisioning_configuration or {})
        kind = config.pop("kind", None) or ("local" if name == "local" else "docker")
        if kind not in KINDS:
            raise ComputeTargetException(f"unknown compute kind {kind!r}; use one of {KINDS}")
        config.setdefault("type", "AmlCompute")
        info = workspace._store.put_compute_target(
            ComputeTargetInfo(workspace_id=workspace._id, name=name, kind=kind, config=config))
        return ComputeTarget._from_info(workspace, info)

    @staticmethod
    def list(workspace) -> list:
        return list(workspace.compute_targets.values())

    def wait_for_completion(self, show_output: bool = False, min_node_count=None,
                            timeout_in_minutes: int = 25, is_delete_operation: bool = False) -> None:
        """Nothing to provision locally: returns at once."""

    def get_status(self) -> str:
        return "Succeeded"

    def delete(self) -> None:
        raise ComputeTargetException("deleting compute targets is not supported locally")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(workspace={self.workspace.name!r}, name={self.name!r}, kind={self.kind!r})"


class AmlCompute(ComputeTarget):
    """``AmlCompute(ws, name)``: an unknown name becomes a local Docker target, with a notice."""

    def __init__(self, workspace, name: str, **kwargs):
        info = workspace._store.get_compute_target(workspace._id, name)
        if info is None:
            print(f"amlocal: compute target '{name}' does not exist; it runs steps in local "
                  "Docker containers", file=sys.stderr)
            info = ComputeTarget.create(workspace, name, AmlCompute.provisioning_configuration())._info
        super().__init__(workspace, name, _info=info)

    @staticmethod
    def provisioning_configuration(vm_size: str = "", vm_priority: str = "dedicated",
                                   min_nodes: int = 0, max_nodes: int | None = None,
                                   idle_seconds_before_scaledown: int = 1800, **kwargs) -> dict:
        """Accepted as on Azure and recorded; locally only ``kind`` ('docker'/'local') matters."""
        return {"type": "AmlCompute", "vm_size": vm_size, "vm_priority": vm_priority,
                "min_nodes": min_nodes, "max_nodes": max_nodes,
                "idle_seconds_before_scaledown": idle_seconds_before_scaledown,
                **{k: v for k, v in kwargs.items() if k == "kind"}}

    @staticmethod
    def supported_vmsizes(workspace, location=None) -> list:
        return []


def resolve_target(workspace, target) -> tuple[str, str]:
    """(name, kind) for a step's compute target: an object, a name, a ``(name, type)`` tuple, or
    None/'local' (the local Docker default). Unknown names raise before anything runs."""
    if target is None:
        return "local", "docker"
    if isinstance(target, tuple):
        target = target[0]
    if isinstance(target, ComputeTarget):
        return target.name, target.kind
    if isinstance(target, str):
        if target == "local":
            return "local", "docker"
        info = workspace._store.get_compute_target(workspace._id, target)
        if info is None:
            ComputeTarget._lookup(workspace, target)  # raises with the known names
        return info.name, info.kind
    raise ComputeTargetException(f"compute_target must be a ComputeTarget, a name or None, not {target!r}")
