"""Run lists of the SQL store, paged in SQL so a list costs the same with 100 or 10,000 runs.

``list_runs`` filters (workspace, experiment, parent, kind, top-level only, statuses, creation
window) and pages newest first by ``(created_at, id)``: ``before`` is the key of the last run of
the previous page (a keyset, served by the indexes of migration 0007), ``offset`` skips, and
``limit`` bounds the page. ``count_runs`` counts the same filters with SQL ``COUNT``.
``with_definition=False`` leaves each record's ``definition`` (kilobytes of JSON per run) unread
and empty: for lists, which never show it. ``sorted_runs`` (host only, for the studio page)
pages by another column.
"""
from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from .._status import RunStatus
from ..errors import UserErrorException
from .entities import RunInfo
from . import schema as t

_STATUSES = frozenset(s.value for s in RunStatus)
#: the columns a list reads when it needs no definition
LIST_COLUMNS = tuple(c for c in t.runs.c if c.name != "definition")
#: what ``sorted_runs`` orders by (every key ends with the run id, so pages are stable)
SORTS = {
    "created": (t.runs.c.created_at, t.runs.c.id),
    "started": (sa.func.coalesce(t.runs.c.started_at, ""), t.runs.c.id),
    "status": (t.runs.c.status, t.runs.c.created_at, t.runs.c.id),
    "name": (sa.func.lower(sa.func.coalesce(t.runs.c.name, "")), t.runs.c.created_at,
             t.runs.c.id),
    "experiment": (sa.func.lower(t.runs.c.experiment), t.runs.c.created_at, t.runs.c.id),
}


def _text(value, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise UserErrorException(f"list_runs: {what} must be a string, not {type(value).__name__}")
    return value


def _count(value, what: str, *, minimum: int) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise UserErrorException(f"list_runs: {what} must be an integer >= {minimum}, "
                                 f"not {value!r}")
    return value


def _key(before) -> tuple[str, str] | None:
    if before is None:
        return None
    if (isinstance(before, (list, tuple)) and len(before) == 2
            and all(isinstance(x, str) for x in before)):
        return before[0], before[1]
    raise UserErrorException("list_runs: before must be the (created_at, id) of a run, "
                             f"not {before!r}")


def run_filters(workspace_id=None, experiment=None, parent_id=None, kind=None, *,
                top_level: bool = False, statuses: Iterable[str] | None = None,
                created_after=None, created_before=None) -> list:
    """The WHERE clauses of a run list (arguments checked, as a step may send them)."""
    c = t.runs.c
    where = []
    for column, value in (("workspace_id", workspace_id), ("experiment", experiment),
                          ("parent_id", parent_id), ("kind", kind)):
        if _text(value, column) is not None:
            where.append(c[column] == value)
    if top_level:
        where.append(c.parent_id.is_(None))
    if statuses is not None:
        if isinstance(statuses, str):
            statuses = [statuses]
        if not isinstance(statuses, (list, tuple, set, frozenset)):
            raise UserErrorException(f"list_runs: statuses must be a list of run statuses, "
                                     f"not {type(statuses).__name__}")
        # only Azure's status strings can match (the rest are dropped: the IN list stays short)
        wanted = sorted({_text(s, "a status") for s in statuses} & _STATUSES)
        where.append(c.status.in_(wanted) if wanted else sa.false())
    if _text(created_after, "created_after") is not None:
        where.append(c.created_at > created_after)
    if _text(created_before, "created_before") is not None:
        where.append(c.created_at < created_before)
    return where


class RunListStore:
    """``list_runs``, ``count_runs`` and ``sorted_runs`` over ``self._engine``."""

    _engine: sa.Engine

    def list_runs(self, workspace_id=None, experiment=None, parent_id=None, kind=None, *,
                  top_level=False, statuses=None, created_after=None, created_before=None,
                  before=None, offset=0, limit=None, with_definition=True):
        where = run_filters(workspace_id, experiment, parent_id, kind, top_level=top_level,
                            statuses=statuses, created_after=created_after,
                            created_before=created_before)
        key = _key(before)
        if key is not None:
            where.append(sa.tuple_(t.runs.c.created_at, t.runs.c.id) < sa.tuple_(*key))
        columns = t.runs.c if with_definition else LIST_COLUMNS
        q = sa.select(*columns).where(*where)
        paged = bool(_count(offset, "offset", minimum=0)) or key is not None \
            or _count(limit, "limit", minimum=0) is not None
        if statuses is not None and not paged:
            # every run of a few statuses (the unfinished ones, settled before a list): found
            # through the status index and sorted here; ordering in SQL would make SQLite walk
            # the creation-time index over every run instead
            with self._engine.connect() as conn:
                found = [_info(row) for row in conn.execute(q)]
            return sorted(found, key=lambda i: (i.created_at, i.id), reverse=True)
        q = q.order_by(t.runs.c.created_at.desc(), t.runs.c.id.desc())
        if offset:
            q = q.offset(offset)
        if limit is not None:
            q = q.limit(limit)
        with self._engine.connect() as conn:
            return [_info(row) for row in conn.execute(q)]

    def count_runs(self, workspace_id=None, experiment=None, parent_id=None, kind=None, *,
                   top_level=False, statuses=None, created_after=None, created_before=None):
        where = run_filters(workspace_id, experiment, parent_id, kind, top_level=top_level,
                            statuses=statuses, created_after=created_after,
                            created_before=created_before)
        with self._engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(t.runs)
                                    .where(*where)).scalar())

    def sorted_runs(self, workspace_id, experiment=None, *, top_level=True, statuses=None,
                    sort="created", descending=True, offset=0, limit=50):
        """A page of runs ordered by ``sort`` (a key of :data:`SORTS`), ties by creation then
        id, without their definitions. Host only (the studio page's list)."""
        if sort not in SORTS:
            raise UserErrorException(f"cannot sort runs by {sort!r}: use one of {', '.join(SORTS)}")
        where = run_filters(workspace_id, experiment, top_level=top_level, statuses=statuses)
        order = [k.desc() if descending else k.asc() for k in SORTS[sort]]
        q = (sa.select(*LIST_COLUMNS).where(*where).order_by(*order)
             .offset(_count(offset, "offset", minimum=0)).limit(_count(limit, "limit", minimum=0)))
        with self._engine.connect() as conn:
            return [_info(row) for row in conn.execute(q)]


def _info(row) -> RunInfo:
    return RunInfo(**{k: v for k, v in row._mapping.items() if k in RunInfo.__dataclass_fields__})
