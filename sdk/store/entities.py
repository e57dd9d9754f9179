"""Frozen records the store hands out. ORM rows never leave the store; these do.

They are plain data (str, int, float, dict, list) so they cross the run service as JSON.
"""
from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .._status import RunStatus


def utcnow() -> str:
    """An ISO-8601 UTC timestamp that sorts as text."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_utc(text: str | None) -> datetime | None:
    """The datetime of a timestamp as :func:`utcnow` writes it (or any ISO-8601 text); None for
    empty or unreadable text."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass(frozen=True)
class WorkspaceInfo:
    id: str
    name: str
    subscription_id: str
    resource_group: str
    location: str = "local"
    default_datastore: str = "workspaceblobstore"
    created_at: str = field(default_factory=utcnow)


@dataclass(frozen=True)
class DatastoreInfo:
    workspace_id: str
    name: str
    url: str
    kind: str = "file"
    options: dict = field(default_factory=dict)
    created_at: str = field(default_factory=utcnow)


@dataclass(frozen=True)
class ExperimentInfo:
    workspace_id: str
    name: str
    created_at: str = field(default_factory=utcnow)
    tags: dict = field(default_factory=dict)
    archived_time: str | None = None  # set while the experiment is archived


@dataclass(frozen=True)
class RunInfo:
    id: str
    workspace_id: str
    experiment: str
    kind: str  # "pipeline", "step" or "script"
    status: str = RunStatus.NOT_STARTED.value  # Azure's string: see amlocal._status.RunStatus
    name: str | None = None
    parent_id: str | None = None
    target: str = "local"
    created_at: str = field(default_factory=utcnow)
    started_at: str | None = None
    ended_at: str | None = None
    tags: dict = field(default_factory=dict)
    properties: dict = field(default_factory=dict)
    definition: dict = field(default_factory=dict)
    error: dict | None = None
    reuse_key: str | None = None      # a step's reuse key (see amlocal._engine.reuse)
    reused_from: str | None = None    # the step run whose outputs this one reused

    def __post_init__(self) -> None:
        # a RunStatus or Azure's string in, always the plain string kept (what get_status()
        # returns and the store writes); anything else is a ValueError naming the statuses
        object.__setattr__(self, "status", RunStatus.of(self.status).value)


@dataclass(frozen=True)
class MetricRecord:
    """One logged value. ``kind`` is scalar, list, row, table or image."""

    name: str
    kind: str
    value: Any
    step: int | None = None
    created_at: str = field(default_factory=utcnow)


@dataclass(frozen=True)
class ModelInfo:
    workspace_id: str
    name: str
    version: int
    path: str  # relative path of the stored files under the model's folder
    run_id: str | None = None
    description: str | None = None
    tags: dict = field(default_factory=dict)
    properties: dict = field(default_factory=dict)
    framework: str | None = None
    framework_version: str | None = None
    created_at: str = field(default_factory=utcnow)
    # dataset references: [{"scenario": str, "id": str, "name": str | None, "version": int | None}]
    datasets: list = field(default_factory=list)


@dataclass(frozen=True)
class EnvironmentInfo:
    workspace_id: str
    name: str
    version: int
    definition: dict
    created_at: str = field(default_factory=utcnow)


@dataclass(frozen=True)
class PublishedPipelineInfo:
    id: str
    workspace_id: str
    name: str
    definition: dict
    description: str | None = None
    version: str | None = None
    status: str = "Active"
    continue_on_step_failure: bool = False
    created_at: str = field(default_factory=utcnow)


@dataclass(frozen=True)
class DatasetInfo:
    """A registered dataset version. ``id`` is the definition's content id."""

    workspace_id: str
    name: str
    version: int
    id: str
    definition: dict
    description: str | None = None
    tags: dict = field(default_factory=dict)
    created_at: str = field(default_factory=utcnow)


@dataclass(frozen=True)
class ComputeTargetInfo:
    workspace_id: str
    name: str
    kind: str  # "docker" or "local"
    config: dict = field(default_factory=dict)
    created_at: str = field(default_factory=utcnow)


ENTITY_TYPES = {
    cls.__name__: cls
    for cls in (WorkspaceInfo, DatastoreInfo, ExperimentInfo, RunInfo, MetricRecord, ModelInfo,
                EnvironmentInfo, PublishedPipelineInfo, ComputeTargetInfo, DatasetInfo)
}


def to_wire(value: Any) -> Any:
    """Encode entities (recursively) as JSON-ready data tagged with their type."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"__entity__": type(value).__name__, **{
            f.name: to_wire(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, (list, tuple)):
        return [to_wire(v) for v in value]
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items()}
    if isinstance(value, enum.Enum):
        return value.value
    return value


def from_wire(value: Any) -> Any:
    """The inverse of :func:`to_wire`."""
    if isinstance(value, dict):
        if "__entity__" in value:
            data = dict(value)
            cls = ENTITY_TYPES[data.pop("__entity__")]
            return cls(**{k: from_wire(v) for k, v in data.items()})
        return {k: from_wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_wire(v) for v in value]
    return value
