"""Compute targets: ``ComputeTarget`` and ``AmlCompute`` as Azure scripts use them.

Locally a compute target names where steps run: ``docker`` (a container per step, the default),
``local`` (a process in a per-environment virtualenv) or ``ray`` (a container per step through a
Ray task on an attached Ray cluster: ``ComputeTarget.attach`` with
``RayCompute.attach_configuration``). Deliberate difference from Azure:
``AmlCompute(ws, 'd1compute')`` for a name that was never created does not raise; the
tutorials' cluster name becomes a Docker target, with a notice, so scripts run unchanged.
"""
from __future__ import annotations

import re

from ...errors import ComputeTargetException

KINDS = ("docker", "local", "ray")
_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9\-]{1,23}$")


class ComputeConfiguration(dict):
    """A compute configuration (what ``provisioning_configuration()`` or
    ``attach_configuration()`` return): the dict ``ComputeTarget.create``/``attach`` stores,
    its settings also readable as attributes."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class ComputeTarget:
    """A registered compute target. ``ComputeTarget(ws, name)`` raises for an unknown name,
    as on Azure (``ComputeTargetException``); ``AmlCompute(ws, name)`` creates it instead."""

    _kind_default = "docker"
    _operation_pending = False  # True on the object ``create`` returned, until waited for

    def __new__(cls, workspace=None, name=None, *args, _info=None, **kwargs):
        """``ComputeTarget(ws, name)`` returns the subclass of the target's type (AmlCompute,
        ComputeInstance), as on Azure."""
        if cls is ComputeTarget and workspace is not None and name is not None:
            info = _info or cls._lookup(workspace, name)
            return object.__new__(_class_of(info))
        return object.__new__(cls)

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
        target = object.__new__(_class_of(info))
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
        """Where steps run: ``docker``, ``local`` or ``ray``."""
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
        target = ComputeTarget._from_info(workspace, info)
        target._operation_pending = True
        return target

    @staticmethod
    def attach(workspace, name: str, attach_configuration) -> "ComputeTarget":
        """Attach an existing cluster as a target: ``attach_configuration`` is what
        ``RayCompute.attach_configuration(address=...)`` returns. Nothing is contacted until a
        step runs on it; ``wait_for_completion`` then returns at once. Raises
        ComputeTargetException for a configuration that attaches nothing."""
        config = dict(attach_configuration or {})
        if config.get("kind") != "ray":
            raise ComputeTargetException(
                "ComputeTarget.attach takes RayCompute.attach_configuration(address=...); other "
                "targets are created, not attached: ComputeTarget.create(ws, name, "
                "AmlCompute.provisioning_configuration())")
        validate = getattr(attach_configuration, "validate_configuration", None)
        if validate is not None:
            validate()
        return ComputeTarget.create(workspace, name, config)

    @staticmethod
    def list(workspace) -> list:
        return list(workspace.compute_targets.values())

    def wait_for_completion(self, show_output: bool = False, is_delete_operation: bool = False) -> None:
        """Wait for the provisioning operation ``create`` started: locally it has already
        Succeeded, so this prints Azure's closing line and returns. Like Azure, a target that
        was looked up rather than created has no operation to wait for: ComputeTargetException."""
        if not self._operation_pending:
            raise ComputeTargetException("Long running operation information not known, unable "
                                         f"to poll. Current state is {self.provisioning_state}")
        self._finish_operation(show_output)

    def _finish_operation(self, show_output: bool) -> None:
        if show_output:
            print(self.provisioning_state)
        print(f'Provisioning operation finished, operation "{self.provisioning_state}"')
        self._operation_pending = False

    def get_status(self):
        """The provisioning state, a str (``Succeeded``: nothing is provisioned locally)."""
        return self.provisioning_state

    def serialize(self) -> dict:
        """Azure's base shape: id, name, location, type, tags, description, created_on,
        modified_on, provisioning_state, provisioning_errors."""
        ws = self.workspace
        config = self._info.config
        return {"id": f"/subscriptions/{ws.subscription_id}/resourceGroups/{ws.resource_group}"
                      f"/providers/Microsoft.MachineLearningServices/workspaces/{ws.name}"
                      f"/computes/{self.name}",
                "name": self.name, "location": ws.location, "type": self.type,
                "tags": dict(config.get("tags") or {}), "description": config.get("description"),
                "created_on": self._info.created_at, "modified_on": self._info.created_at,
                "provisioning_state": self.provisioning_state, "provisioning_errors": None}

    def delete(self) -> None:
        raise ComputeTargetException("deleting compute targets is not supported locally")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(workspace={self.workspace.name!r}, name={self.name!r}, kind={self.kind!r})"


def _class_of(info) -> type:
    """The class for a stored target's type: the subclass declaring it as its ``_TYPE``
    (AmlCompute, ComputeInstance: the package imports both with this module), else
    ComputeTarget. The subclasses build on this module, so it names none of them."""
    kind = info.config.get("type")
    return next((c for c in ComputeTarget.__subclasses__() if c.__dict__.get("_TYPE") == kind),
                ComputeTarget)
