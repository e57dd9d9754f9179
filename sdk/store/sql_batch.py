"""Several run changes in one transaction: what the engine records at once (a run all of whose
steps are reused, the end of a step and its run). Host only, like the other mixins: a step's
client has no such call."""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from .._status import RunStatus
from ..errors import UserErrorException
from . import schema as t

_FIELDS = frozenset({"status", "started_at", "ended_at", "error", "definition", "target", "name",
                     "reuse_key", "reused_from"})


@dataclass(frozen=True)
class RunChange:
    """Fields to set on one run and properties to add to it (add-only, as ``add_properties``)."""

    run_id: str
    fields: dict = field(default_factory=dict)
    properties: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.fields) - _FIELDS
        if unknown:
            raise ValueError(f"cannot update run fields {sorted(unknown)}")
        if "status" in self.fields:
            object.__setattr__(self, "fields", {
                **self.fields, "status": RunStatus.of(self.fields["status"]).value})


class RunBatchStore:
    """Mixin of SqlStore: :meth:`apply_run_changes`."""

    _engine: sa.Engine

    def apply_run_changes(self, changes: list[RunChange]) -> None:
        """Apply every change in one transaction: all of them land, or none (an added property
        that would change a value already set refuses the whole batch)."""
        if not changes:
            return
        with self._engine.begin() as conn:
            for change in changes:
                values = dict(change.fields)
                if change.properties:
                    row = conn.execute(sa.select(t.runs.c.properties)
                                       .where(t.runs.c.id == change.run_id)
                                       .with_for_update()).first()
                    if row is None:
                        raise UserErrorException(f"no run with id {change.run_id}")
                    current = dict(row[0] or {})
                    for key, value in change.properties.items():
                        if key in current and current[key] != value:
                            raise UserErrorException(
                                f"property {key!r} of run {change.run_id} is already "
                                f"{current[key]!r}; properties cannot be changed once added")
                    values["properties"] = {**current, **change.properties}
                if values:
                    conn.execute(t.runs.update().where(t.runs.c.id == change.run_id)
                                 .values(**values))
