"""Metric records in the SQL store: a batch appended in one transaction, a run's records read
back in logging order, optionally one metric only.

Both paths are written for volume (a step may log a million values). On SQLite (the default
store) rows go through the driver's cursor as plain tuples (``executemany``, ``fetchmany`` in
chunks), values stored exactly as SQLAlchemy's JSON column stored them (its JSON text; SQLite
keeps a number as a number, which reads back as itself) and read back as that column reads
them. On PostgreSQL the value column is text holding each value's JSON text (its json type
refuses NaN and Infinity): a batch is written with ``COPY ... FROM STDIN`` and read through a
server-side cursor in chunks, decoded with ``json.loads`` (an integer of any size, NaN and the
infinities read back as they were logged). On any other SQLAlchemy URL one textual statement
with the dialect's JSON type does the same. Reads come as columns (``get_metric_columns``: what ``Run.get_metrics`` shapes and the
run service sends) or as records built positionally from them.
"""
from __future__ import annotations

import json
import math

import sqlalchemy as sa

from .base import MetricColumns
from .entities import MetricRecord

_COPY_PG = "COPY metrics (run_id, name, kind, value, step, created_at) FROM STDIN"
_INSERT_SQLITE = ("INSERT INTO metrics (run_id, name, kind, value, step, created_at) "
                  "VALUES (?, ?, ?, ?, ?, ?)")
_INSERT = sa.text("INSERT INTO metrics (run_id, name, kind, value, step, created_at) "
                  "VALUES (:run_id, :name, :kind, :value, :step, :created_at)").bindparams(
    sa.bindparam("value", type_=sa.JSON))
_SELECT = "SELECT name, kind, value, step, created_at FROM metrics WHERE run_id = {0}"
_ONE_NAME = " AND name = {0}"
_ORDER = " ORDER BY seq"
_CHUNK = 512          # rows per fetch: fewer than the collector's young threshold (700)
_INT64 = 1 << 63
_finite = math.isfinite
_RESULT_COLUMNS = (sa.column("name"), sa.column("kind"), sa.column("value", sa.JSON),
                   sa.column("step"), sa.column("created_at"))


def _sqlite_json(value):
    """What SQLAlchemy's JSON type would bind for ``value`` on SQLite, where it ends up the
    same: a 64-bit int or a finite float as itself (SQLite's NUMERIC affinity turns the JSON
    text of one into that number anyway; NaN is left to the text, SQLite would store NULL),
    anything else as its JSON text."""
    kind = type(value)
    if (kind is int and -_INT64 <= value < _INT64) or (kind is float and _finite(value)):
        return value
    return json.dumps(value)


class MetricStore:
    """``log_metrics``, ``get_metric_records`` and ``get_metric_columns`` of
    :class:`~amlocal.store.sql.SqlStore` (which provides ``_engine``)."""

    _engine: sa.Engine

    def log_metrics(self, run_id, records):
        if not records:
            return
        with self._engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                conn.connection.driver_connection.executemany(_INSERT_SQLITE, [
                    (run_id, r.name, r.kind, _sqlite_json(r.value), r.step, r.created_at)
                    for r in records])
                return
            if conn.dialect.name == "postgresql":
                dumps = json.dumps
                with conn.connection.driver_connection.cursor() as cursor:
                    with cursor.copy(_COPY_PG) as copy:
                        for r in records:
                            copy.write_row((run_id, r.name, r.kind, dumps(r.value), r.step,
                                            r.created_at))
                return
            conn.execute(_INSERT, [
                {"run_id": run_id, "name": r.name, "kind": r.kind, "value": r.value,
                 "step": r.step, "created_at": r.created_at} for r in records])

    def get_metric_records(self, run_id, name=None):
        if self._engine.dialect.name in ("sqlite", "postgresql"):
            return list(map(MetricRecord, *self._columns(run_id, name)))
        query = _SELECT.format(":run_id") + ("" if name is None else _ONE_NAME.format(
            ":name")) + _ORDER
        params = {"run_id": run_id} if name is None else {"run_id": run_id, "name": name}
        record = MetricRecord
        with self._engine.connect() as conn:
            rows = conn.execute(sa.text(query).columns(*_RESULT_COLUMNS), params)
            return [record(n, k, v, s, c) for n, k, v, s, c in rows]

    def get_metric_columns(self, run_id, name=None):
        if self._engine.dialect.name not in ("sqlite", "postgresql"):
            return super().get_metric_columns(run_id, name=name)
        return MetricColumns(*self._columns(run_id, name))

    def _columns(self, run_id, name) -> tuple:
        """The five columns, values decoded as SQLAlchemy's JSON type reads them on SQLite
        (a number is stored as itself, anything else as JSON text); on PostgreSQL every value
        is JSON text, read through a server-side cursor.

        Rows are fetched ``_CHUNK`` at a time and dropped once moved into the columns: a
        million row tuples held at once would survive the cyclic collector's young passes and
        be traversed again and again (that made a 1M-value read cost 2.5x per value what a
        1,000-value read costs; in chunks it stays near 1.3x)."""
        query = _SELECT + ("" if name is None else _ONE_NAME) + _ORDER
        params = (run_id,) if name is None else (run_id, name)
        names, kinds, values, steps, created = [], [], [], [], []
        loads = json.loads
        with self._engine.connect() as conn:
            driver = conn.connection.driver_connection
            if conn.dialect.name == "postgresql":
                cursor = driver.cursor(name="amlocal_metrics")   # named: server-side
                cursor.itersize = _CHUNK
                cursor.execute(query.format("%s"), params)
            else:
                cursor = driver.execute(query.format("?"), params)
            while rows := cursor.fetchmany(_CHUNK):
                n, k, v, s, c = zip(*rows)
                names += n
                kinds += k
                values += [loads(x) if type(x) is str else x for x in v]
                steps += s
                created += c
            cursor.close()
        return names, kinds, values, steps, created
