"""Schedules in the store (a SqlStore mixin): the schedules of published pipelines and pipeline
endpoints, every firing decision the scheduler made (fired, skipped, missed, deferred, failed:
what the page and ``GET /api/v1/schedules/{id}/firings`` show), and, for datastore schedules,
the files last seen under the watched path."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import sqlalchemy as sa

from ..errors import NotFoundError
from .entities import utcnow
from .schema import metadata
from .sql_pg import lock

schedules = sa.Table(
    "schedules", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("workspace_id", sa.String(64), nullable=False, index=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("pipeline_id", sa.String(64), index=True),
    sa.Column("pipeline_endpoint_id", sa.String(64), index=True),
    sa.Column("experiment_name", sa.String(255), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("recurrence", sa.JSON),
    sa.Column("datastore_name", sa.String(255)),
    sa.Column("path_on_datastore", sa.Text),
    sa.Column("polling_interval", sa.Integer),
    sa.Column("data_path_parameter_name", sa.String(255)),
    sa.Column("continue_on_step_failure", sa.Boolean),
    sa.Column("pipeline_parameters", sa.JSON, nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("updated_at", sa.String(32), nullable=False),
    sa.Column("evaluated_until", sa.String(32)),
)

schedule_firings = sa.Table(
    "schedule_firings", metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("schedule_id", sa.String(64), nullable=False, index=True),
    sa.Column("decided_at", sa.String(32), nullable=False),
    sa.Column("due_at", sa.String(32)),
    sa.Column("decision", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("run_id", sa.String(128), index=True),
    sa.Column("data_path", sa.Text),
    sa.Column("count", sa.Integer, nullable=False),
)

schedule_files = sa.Table(
    "schedule_files", metadata,
    sa.Column("schedule_id", sa.String(64), primary_key=True),
    sa.Column("path", sa.String(1024), primary_key=True),
    sa.Column("signature", sa.Text, nullable=False),
)

FIRING_DECISIONS = ("fired", "skipped", "missed", "deferred", "failed")


@dataclass(frozen=True)
class ScheduleInfo:
    id: str
    workspace_id: str
    name: str
    experiment_name: str
    status: str = "Active"                      # Active | Disabled
    description: str | None = None
    pipeline_id: str | None = None
    pipeline_endpoint_id: str | None = None
    recurrence: dict | None = None              # RecurrenceSpec.to_dict()
    datastore_name: str | None = None
    path_on_datastore: str | None = None
    polling_interval: int | None = None         # minutes
    data_path_parameter_name: str | None = None
    continue_on_step_failure: bool | None = None
    pipeline_parameters: dict = field(default_factory=dict)
    created_at: str = field(default_factory=utcnow)
    updated_at: str = field(default_factory=utcnow)
    evaluated_until: str | None = None          # occurrences up to here are decided

    @property
    def schedule_type(self) -> str:
        return "Recurrence" if self.recurrence else "DataStore"


@dataclass(frozen=True)
class ScheduleFiring:
    schedule_id: str
    decision: str                               # one of FIRING_DECISIONS
    reason: str
    due_at: str | None = None
    run_id: str | None = None
    data_path: str | None = None
    count: int = 1
    decided_at: str = field(default_factory=utcnow)
    seq: int | None = None


def _schedule(row) -> ScheduleInfo:
    data = {k: v for k, v in row._mapping.items() if k in ScheduleInfo.__dataclass_fields__}
    data["pipeline_parameters"] = dict(data.get("pipeline_parameters") or {})
    return ScheduleInfo(**data)


def _firing(row) -> ScheduleFiring:
    return ScheduleFiring(**{k: v for k, v in row._mapping.items()
                             if k in ScheduleFiring.__dataclass_fields__})


class ScheduleStore:
    """Mixin of SqlStore (uses its ``_engine``)."""

    def put_schedule(self, info: ScheduleInfo) -> ScheduleInfo:
        with self._engine.begin() as conn:
            conn.execute(schedules.insert().values(**info.__dict__))
        return info

    def get_schedule(self, schedule_id: str) -> ScheduleInfo | None:
        with self._engine.connect() as conn:
            row = conn.execute(schedules.select().where(schedules.c.id == schedule_id)).first()
        return _schedule(row) if row is not None else None

    def list_schedules(self, workspace_id: str | None = None, *, active_only: bool = False,
                       pipeline_id: str | None = None,
                       pipeline_endpoint_id: str | None = None) -> list[ScheduleInfo]:
        query = schedules.select().order_by(schedules.c.created_at)
        if workspace_id is not None:
            query = query.where(schedules.c.workspace_id == workspace_id)
        if active_only:
            query = query.where(schedules.c.status == "Active")
        if pipeline_id is not None:
            query = query.where(schedules.c.pipeline_id == pipeline_id)
        if pipeline_endpoint_id is not None:
            query = query.where(schedules.c.pipeline_endpoint_id == pipeline_endpoint_id)
        with self._engine.connect() as conn:
            return [_schedule(r) for r in conn.execute(query)]

    def update_schedule(self, schedule_id: str, **fields) -> ScheduleInfo:
        """Change fields of a schedule (``updated_at`` is set); returns the new record."""
        current = self.get_schedule(schedule_id)
        if current is None:
            raise NotFoundError(f"no schedule with id {schedule_id}; list them with "
                                "Schedule.list(workspace)")
        unknown = set(fields) - set(ScheduleInfo.__dataclass_fields__)
        if unknown or {"id", "workspace_id", "created_at"} & set(fields):
            raise ValueError(f"cannot update schedule fields {sorted(fields)}")
        updated = replace(current, **fields, updated_at=utcnow())
        with self._engine.begin() as conn:
            conn.execute(schedules.update().where(schedules.c.id == schedule_id)
                         .values(**{k: getattr(updated, k) for k in (*fields, "updated_at")}))
        return updated

    def add_schedule_firing(self, firing: ScheduleFiring) -> ScheduleFiring:
        if firing.decision not in FIRING_DECISIONS:
            raise ValueError(f"a firing decision is one of {FIRING_DECISIONS}, "
                             f"not {firing.decision!r}")
        values = {k: v for k, v in firing.__dict__.items() if k != "seq"}
        with self._engine.begin() as conn:
            seq = conn.execute(schedule_firings.insert().values(**values)).inserted_primary_key[0]
        return replace(firing, seq=seq)

    def list_schedule_firings(self, schedule_id: str, *, decision: str | None = None,
                              limit: int | None = None, newest_first: bool = True
                              ) -> list[ScheduleFiring]:
        order = schedule_firings.c.seq.desc() if newest_first else schedule_firings.c.seq
        query = schedule_firings.select().where(
            schedule_firings.c.schedule_id == schedule_id).order_by(order)
        if decision is not None:
            query = query.where(schedule_firings.c.decision == decision)
        if limit is not None:
            query = query.limit(limit)
        with self._engine.connect() as conn:
            return [_firing(r) for r in conn.execute(query)]

    def get_watched_files(self, schedule_id: str) -> dict[str, str]:
        """``{path: signature}`` of the files a datastore schedule has seen (and acted on)."""
        with self._engine.connect() as conn:
            rows = conn.execute(schedule_files.select().where(
                schedule_files.c.schedule_id == schedule_id)).all()
        return {r.path: r.signature for r in rows}

    def set_watched_files(self, schedule_id: str, seen: dict[str, str],
                          gone: list[str] = ()) -> None:
        """Record ``seen`` files (path -> signature) and forget the ``gone`` ones."""
        with self._engine.begin() as conn:
            lock(conn, "schedule_files", schedule_id)
            paths = list(seen) + list(gone)
            if paths:
                conn.execute(schedule_files.delete().where(
                    (schedule_files.c.schedule_id == schedule_id)
                    & schedule_files.c.path.in_(paths)))
            if seen:
                conn.execute(schedule_files.insert(), [
                    {"schedule_id": schedule_id, "path": p, "signature": s}
                    for p, s in seen.items()])

    def delete_schedules(self, workspace_id: str) -> None:
        """Forget the workspace's schedules, their firings and the files they saw."""
        with self._engine.begin() as conn:
            ids = [r.id for r in conn.execute(sa.select(schedules.c.id).where(
                schedules.c.workspace_id == workspace_id))]
            if ids:
                conn.execute(schedule_firings.delete().where(
                    schedule_firings.c.schedule_id.in_(ids)))
                conn.execute(schedule_files.delete().where(schedule_files.c.schedule_id.in_(ids)))
                conn.execute(schedules.delete().where(schedules.c.id.in_(ids)))
