"""The one store interface: workspaces, runs, metrics, artifacts, models, environments,
published pipelines and compute targets.

Implementations: :class:`amlocal.store.sql.SqlStore` (SQLite by default, any SQLAlchemy URL) and
:class:`amlocal.runservice.client.RemoteStore` (the same calls over the run service, used inside
step containers). Conveniences in the SDK are routed through these few primitives.
"""
from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .entities import (ComputeTargetInfo, DatasetInfo, DatastoreInfo, EnvironmentInfo,
                       ExperimentInfo,
                       MetricRecord, ModelInfo, PublishedPipelineInfo, RunInfo, WorkspaceInfo)


@dataclass(frozen=True)
class MetricColumns:
    """A run's metric records as five columns of one length, in logging order: what
    ``get_metric_records`` gives, without a record object per value."""

    names: Sequence[str]
    kinds: Sequence[str]
    values: Sequence
    steps: Sequence
    created_at: Sequence[str]


class Store(abc.ABC):
    """Metadata and files of every workspace under one ``AMLOCAL_HOME``.

    Lookups return ``None`` when nothing matches; the SDK turns that into a user-facing error.
    """

    # -- workspaces -------------------------------------------------------------------------
    @abc.abstractmethod
    def create_workspace(self, info: WorkspaceInfo) -> WorkspaceInfo:
        """Insert a workspace, or return the existing one with the same (sub, rg, name)."""

    @abc.abstractmethod
    def find_workspaces(self, name: str | None = None, resource_group: str | None = None,
                        subscription_id: str | None = None) -> list[WorkspaceInfo]:
        """Workspaces matching every given field."""

    @abc.abstractmethod
    def set_default_datastore(self, workspace_id: str, name: str) -> None: ...

    @abc.abstractmethod
    def delete_workspace(self, workspace_id: str) -> None:
        """Delete a workspace and everything recorded in it (runs with their metrics and files,
        experiments, models with their files, environments, datasets, datastore registrations,
        published pipelines, compute targets); the data behind its datastores is not touched.
        Refused (UserErrorException) while one of its runs has not finished."""

    # -- datastores -------------------------------------------------------------------------
    @abc.abstractmethod
    def put_datastore(self, info: DatastoreInfo, overwrite: bool = False) -> DatastoreInfo:
        """Register a datastore; an existing name is kept unless ``overwrite``."""

    @abc.abstractmethod
    def get_datastore(self, workspace_id: str, name: str) -> DatastoreInfo | None: ...

    @abc.abstractmethod
    def list_datastores(self, workspace_id: str) -> list[DatastoreInfo]: ...

    @abc.abstractmethod
    def delete_datastore(self, workspace_id: str, name: str) -> None: ...

    # -- experiments and runs ---------------------------------------------------------------
    @abc.abstractmethod
    def ensure_experiment(self, workspace_id: str, name: str) -> ExperimentInfo: ...

    @abc.abstractmethod
    def list_experiments(self, workspace_id: str) -> list[ExperimentInfo]: ...

    @abc.abstractmethod
    def get_experiment(self, workspace_id: str, name: str) -> ExperimentInfo | None: ...

    @abc.abstractmethod
    def update_experiment(self, workspace_id: str, name: str, set_tags: dict | None = None,
                          remove_tags: list[str] | None = None,
                          archived: bool | None = None) -> ExperimentInfo:
        """Merge ``set_tags`` into the experiment's tags, drop ``remove_tags``; ``archived``
        True records the archive time (kept if already archived), False clears it."""

    @abc.abstractmethod
    def delete_experiment(self, workspace_id: str, name: str) -> list[str]:
        """Delete the experiment with its runs, their metrics and artifacts; return the ids of
        the deleted runs. Refused (UserErrorException) while any of its runs is not finished."""

    @abc.abstractmethod
    def create_run(self, info: RunInfo) -> RunInfo: ...

    @abc.abstractmethod
    def get_run(self, run_id: str) -> RunInfo | None: ...

    @abc.abstractmethod
    def update_run(self, run_id: str, **fields) -> RunInfo:
        """Set any of status, started_at, ended_at, error, definition, target."""

    @abc.abstractmethod
    def list_runs(self, workspace_id: str | None = None, experiment: str | None = None,
                  parent_id: str | None = None, kind: str | None = None, *,
                  top_level: bool = False, statuses: list[str] | None = None,
                  created_after: str | None = None, created_before: str | None = None,
                  before: tuple[str, str] | None = None, offset: int = 0,
                  limit: int | None = None, with_definition: bool = True) -> list[RunInfo]:
        """Runs matching every given filter, newest first (``created_at``, then ``id``).

        ``top_level``: only runs without a parent; ``statuses``: only these statuses;
        ``created_after``/``created_before``: store timestamps, exclusive. Paging: ``before``
        is the ``(created_at, id)`` of the last run of the previous page (only older runs
        follow), ``offset`` runs are skipped, at most ``limit`` returned. ``with_definition``
        False leaves each ``definition`` empty (``{}``) for lists that do not show it."""

    def iter_runs(self, workspace_id: str | None = None, experiment: str | None = None, *,
                  page: int = 100, **filters):
        """Every run ``list_runs`` gives for these filters, newest first, read ``page`` runs at
        a time as the generator is iterated (a search that stops early reads little); each page
        starts after the last run of the one before, so runs created meanwhile neither repeat
        nor shift a run out."""
        before = None
        while True:
            runs = self.list_runs(workspace_id, experiment, before=before, limit=page, **filters)
            yield from runs
            if len(runs) < page:
                return
            before = (runs[-1].created_at, runs[-1].id)

    def count_runs(self, workspace_id: str | None = None, experiment: str | None = None,
                   parent_id: str | None = None, kind: str | None = None, *,
                   top_level: bool = False, statuses: list[str] | None = None,
                   created_after: str | None = None, created_before: str | None = None) -> int:
        """How many runs ``list_runs`` gives for these filters without paging. This default
        counts its answer; the SQL store counts in SQL."""
        return len(self.list_runs(workspace_id, experiment, parent_id, kind,
                                  top_level=top_level, statuses=statuses,
                                  created_after=created_after, created_before=created_before,
                                  with_definition=False))

    @abc.abstractmethod
    def find_reusable_run(self, workspace_id: str, reuse_key: str) -> RunInfo | None:
        """The newest Finished step run with this reuse key that ran itself (was not reused)."""

    @abc.abstractmethod
    def set_tags(self, run_id: str, tags: dict) -> None:
        """Merge tags into the run's tags."""

    @abc.abstractmethod
    def remove_tags(self, run_id: str, keys: list[str]) -> None: ...

    @abc.abstractmethod
    def add_properties(self, run_id: str, properties: dict) -> None:
        """Add properties; an existing key with a different value raises (add-only, as Azure)."""

    @abc.abstractmethod
    def log_metrics(self, run_id: str, records: list[MetricRecord]) -> None:
        """Append a batch of metric records in one transaction."""

    @abc.abstractmethod
    def get_metric_records(self, run_id: str, name: str | None = None) -> list[MetricRecord]:
        """Every record of the run, in logging order; with ``name``, that metric's only."""

    def get_metric_columns(self, run_id: str, name: str | None = None) -> MetricColumns:
        """``get_metric_records`` as columns (what ``Run.get_metrics`` shapes and the run
        service sends). This default reads the records; the SQL store reads columns."""
        records = self.get_metric_records(run_id, name=name)
        return MetricColumns(*(tuple(getattr(r, f) for r in records)
                               for f in ("name", "kind", "value", "step", "created_at")))

    # -- artifacts --------------------------------------------------------------------------
    @abc.abstractmethod
    def put_artifact(self, run_id: str, name: str, source: Path) -> None:
        """Store the file ``source`` as the run's artifact ``name`` (e.g. ``outputs/m.pkl``)."""

    @abc.abstractmethod
    def list_artifacts(self, run_id: str) -> list[str]: ...

    @abc.abstractmethod
    def fetch_artifact(self, run_id: str, name: str, destination: Path) -> Path:
        """Copy one artifact to ``destination`` (a file path) and return it."""

    @abc.abstractmethod
    def append_artifact(self, run_id: str, name: str, data: bytes) -> None:
        """Append to a growing artifact (a live log)."""

    @abc.abstractmethod
    def read_artifact(self, run_id: str, name: str, offset: int = 0) -> bytes:
        """The artifact's bytes from ``offset`` on (empty when it does not exist yet): lets a
        watcher follow a live log."""

    # -- models -----------------------------------------------------------------------------
    @abc.abstractmethod
    def register_model(self, info: ModelInfo, source: Path) -> ModelInfo:
        """Store the file or folder ``source`` as the next version of ``info.name``.

        ``info.version`` is ignored: versions are 1, 2, 3 ... per name, assigned atomically.
        """

    @abc.abstractmethod
    def get_model(self, workspace_id: str, name: str, version: int | None = None) -> ModelInfo | None:
        """The given version, or the latest when ``version`` is None."""

    @abc.abstractmethod
    def list_models(self, workspace_id: str, name: str | None = None) -> list[ModelInfo]: ...

    @abc.abstractmethod
    def update_model(self, workspace_id: str, name: str, version: int,
                     add_tags: dict | None = None, remove_tags: list[str] | None = None,
                     add_properties: dict | None = None, description: str | None = None,
                     add_datasets: list[dict] | None = None) -> ModelInfo:
        """Change a registered model version's metadata (its files never change). Properties
        are add-only: changing an existing one raises UserErrorException."""

    @abc.abstractmethod
    def fetch_model(self, info: ModelInfo, target_dir: Path) -> Path:
        """Copy the model's files into ``target_dir``; return the path of the copied entry."""

    # -- environments -----------------------------------------------------------------------
    @abc.abstractmethod
    def register_environment(self, workspace_id: str, name: str, definition: dict) -> EnvironmentInfo:
        """A new version when the definition changed, else the latest version unchanged."""

    @abc.abstractmethod
    def get_environment(self, workspace_id: str, name: str,
                        version: int | None = None) -> EnvironmentInfo | None: ...

    @abc.abstractmethod
    def list_environments(self, workspace_id: str) -> list[EnvironmentInfo]: ...

    # -- published pipelines ----------------------------------------------------------------
    @abc.abstractmethod
    def put_pipeline(self, info: PublishedPipelineInfo) -> PublishedPipelineInfo: ...

    @abc.abstractmethod
    def get_pipeline(self, pipeline_id: str) -> PublishedPipelineInfo | None: ...

    @abc.abstractmethod
    def list_pipelines(self, workspace_id: str) -> list[PublishedPipelineInfo]: ...

    @abc.abstractmethod
    def set_pipeline_status(self, pipeline_id: str, status: str) -> None: ...

    # -- datasets ---------------------------------------------------------------------------
    @abc.abstractmethod
    def register_dataset(self, info: DatasetInfo, create_new_version: bool = False) -> DatasetInfo:
        """Register a dataset definition under a name. An identical definition returns the
        existing version; a different one needs ``create_new_version`` (UserErrorException
        otherwise); versions are 1, 2, 3 ... per name, ``info.version`` is ignored."""

    @abc.abstractmethod
    def get_dataset(self, workspace_id: str, name: str, version: int | None = None) -> DatasetInfo | None:
        """The given version, or the latest when ``version`` is None."""

    @abc.abstractmethod
    def get_dataset_by_id(self, workspace_id: str, dataset_id: str) -> DatasetInfo | None: ...

    @abc.abstractmethod
    def list_datasets(self, workspace_id: str) -> list[DatasetInfo]: ...

    @abc.abstractmethod
    def update_dataset(self, workspace_id: str, name: str, version: int,
                       description: str | None, tags: dict) -> DatasetInfo:
        """Replace the description and tags of one registered dataset version (its definition
        never changes); return it. Raises NotFoundError for an unknown name or version."""

    @abc.abstractmethod
    def unregister_datasets(self, workspace_id: str, name: str) -> int:
        """Remove every version registered under ``name`` (the data stays); return how many."""

    # -- compute targets --------------------------------------------------------------------
    @abc.abstractmethod
    def put_compute_target(self, info: ComputeTargetInfo) -> ComputeTargetInfo: ...

    @abc.abstractmethod
    def get_compute_target(self, workspace_id: str, name: str) -> ComputeTargetInfo | None: ...

    @abc.abstractmethod
    def list_compute_targets(self, workspace_id: str) -> list[ComputeTargetInfo]: ...
