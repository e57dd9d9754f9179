"""Metric records on the run service's wire: columns, not one tagged object per record.

A batch of 10,000 values crosses as five JSON lists (``{"__metric_columns__": {"name": [...],
"kind": [...], "value": [...], "step": [...], "created_at": [...]}}``), encoded and decoded
without a call per record and field; values travel as the plain JSON they are stored as.
Standard library only: the client runs inside user images.
"""
from __future__ import annotations

from ..store.base import MetricColumns
from ..store.entities import MetricRecord

METRIC_COLUMNS = "__metric_columns__"
FIELDS = ("name", "kind", "value", "step", "created_at")


def metric_columns(records) -> dict:
    """``records`` (MetricRecord) as columns."""
    return columns_to_wire(MetricColumns(
        [r.name for r in records], [r.kind for r in records], [r.value for r in records],
        [r.step for r in records], [r.created_at for r in records]))


def columns_to_wire(columns: MetricColumns) -> dict:
    return {METRIC_COLUMNS: {"name": columns.names, "kind": columns.kinds,
                             "value": columns.values, "step": columns.steps,
                             "created_at": columns.created_at}}


def columns_from_wire(data) -> MetricColumns:
    """The inverse of :func:`columns_to_wire`. Trusts its input (the host's answers); what a
    step sends is checked by ``_validate.metric_columns`` instead."""
    columns = data[METRIC_COLUMNS]
    return MetricColumns(*(columns[f] for f in FIELDS))


def records_from_columns(data) -> list[MetricRecord]:
    """Records from :func:`columns_to_wire`'s output (trusted, as above)."""
    columns = data[METRIC_COLUMNS]
    return list(map(MetricRecord, *(columns[f] for f in FIELDS)))
