"""Metrics in volume: the SQL store's bulk paths keep exactly what SQLAlchemy's JSON column kept,
the buffer sends full batches in the background without ever dropping a value, and the
columnar shaping gives Azure's ``get_metrics`` shapes."""
from __future__ import annotations

import math
import threading

import pytest

from amlocal.core import _metrics
from amlocal.core._metrics import MetricBuffer, shape_metric_values, shape_metrics
from amlocal.errors import StoreError
from amlocal.store import open_store
from amlocal.store import schema as t
from amlocal.store.entities import MetricRecord, RunInfo, WorkspaceInfo, parse_utc, utcnow

pytestmark = pytest.mark.both_stores  # on SQLite and on PostgreSQL (tests/conftest.py)

VALUES = [0, 1, -1, 2 ** 62, 2 ** 63 - 1, 2 ** 63, -2 ** 63, -2 ** 63 - 1, 10 ** 30, 0.1, 1.0,
          -0.0, 1e300, 1e-300, 3.141592653589793, 2.5e-7, float("inf"), float("-inf"),
          float("nan"), True, False, None, "s", "1", "1.5", "null", "", [1, 2],
          {"a": [1, None]}, {"__entity__": "x"}]


@pytest.fixture
def store(tmp_path, monkeypatch, store_url):
    monkeypatch.setenv("AMLOCAL_HOME", str(tmp_path / "home"))
    if store_url:   # PostgreSQL (store_kind): a fresh database
        monkeypatch.setenv("AMLOCAL_STORE_URL", store_url)
    else:
        monkeypatch.delenv("AMLOCAL_STORE_URL", raising=False)
    store = open_store()
    store.create_workspace(WorkspaceInfo(id="ws1", name="ws1", subscription_id="sub",
                                         resource_group="rg"))
    for run_id in ("core", "bulk"):
        store.create_run(RunInfo(id=run_id, workspace_id="ws1", experiment="exp", kind="step"))
    return store


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def test_bulk_paths_keep_what_the_json_column_kept(store, store_kind):
    """Every kind of value, written by SQLAlchemy Core through the table's JSON column (the
    store's former path) and by ``log_metrics``, reads back the same through SQLAlchemy and
    through ``get_metric_records``/``get_metric_columns``, stored with the same SQLite type
    (PostgreSQL: the same JSON text, and every value reads back exactly as logged)."""
    from amlocal.store.sql import _entity
    records = [MetricRecord("m", "scalar", v, i, utcnow()) for i, v in enumerate(VALUES)]
    with store._engine.begin() as conn:
        conn.execute(t.metrics.insert(), [
            {"run_id": "core", "name": r.name, "kind": r.kind, "value": r.value, "step": r.step,
             "created_at": r.created_at} for r in records])
    store.log_metrics("bulk", records)
    with store._engine.connect() as conn:
        via_core = {run: [_entity(MetricRecord, row).value for row in conn.execute(
            t.metrics.select().where(t.metrics.c.run_id == run).order_by(t.metrics.c.seq))]
            for run in ("core", "bulk")}
        types = conn.exec_driver_sql(
            "SELECT a.step, {0}(a.value), {0}(b.value) FROM metrics a JOIN metrics b "
            "ON a.step = b.step AND a.run_id = 'core' AND b.run_id = 'bulk'".format(
                "typeof" if store_kind == "sqlite" else "")).fetchall()
    assert len(types) == len(VALUES) and all(a == b for _, a, b in types), types
    if store_kind == "postgresql":
        assert all(_same(a, b) for a, b in zip(via_core["bulk"], VALUES)), via_core["bulk"]
    for run in ("core", "bulk"):
        got = [r.value for r in store.get_metric_records(run)]
        columns = store.get_metric_columns(run)
        for value, expected, read, column in zip(VALUES, via_core["core"], got, columns.values):
            assert _same(read, expected) and _same(column, expected), (value, expected, read)
        assert all(_same(a, b) for a, b in zip(via_core[run], via_core["core"]))
    assert [r.step for r in store.get_metric_records("bulk")] == list(range(len(VALUES)))


class _Recorder:
    """A store that records each batch; fails while ``failing`` is set."""

    def __init__(self):
        self.batches: list[list] = []
        self.failing = False
        self.got_batch = threading.Event()

    def log_metrics(self, run_id, records):
        if self.failing:
            raise StoreError("the store is away")
        self.batches.append(list(records))
        self.got_batch.set()


def test_a_full_batch_is_sent_in_the_background_and_nothing_is_lost():
    store = _Recorder()
    buffer = MetricBuffer(store, "run-1")
    for i in range(_metrics.FLUSH_EVERY):
        buffer.log("m", "scalar", i)
    # sent by the buffer's thread, long before its one-second tick: no flush() was called
    assert store.got_batch.wait(_metrics.FLUSH_INTERVAL * 0.8)
    for i in range(_metrics.FLUSH_EVERY, 10_000):
        buffer.log("m", "scalar", i, step=i)
    buffer.flush()
    sent = [r for batch in store.batches for r in batch]
    assert [r.value for r in sent] == list(range(10_000))
    assert buffer.pending_count == 0 and len(store.batches) >= 2


def test_a_failing_store_keeps_every_value_and_stops_the_logger_when_too_many_wait(capsys):
    store = _Recorder()
    store.failing = True
    buffer = MetricBuffer(store, "run-2")
    for i in range(_metrics.MAX_PENDING - 1):
        buffer.log("m", "scalar", i)
    with pytest.raises(StoreError, match="the store is away"):
        buffer.log("m", "scalar", _metrics.MAX_PENDING - 1)   # the logger waits, and is told
    assert buffer.pending_count == _metrics.MAX_PENDING
    store.failing = False
    buffer.flush()
    assert [r.value for b in store.batches for r in b] == list(range(_metrics.MAX_PENDING))


def test_timestamps_are_spelled_as_the_store_spells_them():
    buffer = MetricBuffer(_Recorder(), "run-3")
    before = parse_utc(utcnow())
    stamps = [buffer.timestamp() for _ in range(1000)]
    after = parse_utc(utcnow())
    assert all(len(s) == len(utcnow()) and s.endswith("Z") for s in stamps)
    assert stamps == sorted(stamps)
    assert before <= parse_utc(stamps[0]) and parse_utc(stamps[-1]) <= after


def test_columns_shape_as_records_do():
    records = [MetricRecord("loss", "scalar", 1.0), MetricRecord("one", "scalar", 7),
               MetricRecord("loss", "scalar", 0.5), MetricRecord("l", "list", [1, 2]),
               MetricRecord("l", "list", [3]), MetricRecord("r", "row", {"a": 1}),
               MetricRecord("rs", "row", {"a": 1, "b": 2}), MetricRecord("rs", "row", {"a": 3}),
               MetricRecord("t", "table", {"x": [1, 2]}), MetricRecord("t", "table", {"x": [3]}),
               MetricRecord("img", "image", "aml://a"), MetricRecord("imgs", "image", "aml://b"),
               MetricRecord("imgs", "image", "aml://c")]
    expected = {"loss": [1.0, 0.5], "one": 7, "l": [1, 2, 3], "r": {"a": 1},
                "rs": {"a": [1, 3], "b": [2]}, "t": {"x": [1, 2, 3]}, "img": "aml://a",
                "imgs": ["aml://b", "aml://c"]}
    assert shape_metrics(records) == expected
    assert shape_metric_values([r.name for r in records], [r.kind for r in records],
                               [r.value for r in records]) == expected
    assert list(shape_metrics(records)) == list(expected)      # first-logged order


def test_get_metrics_by_name_reads_that_metric_only(store, monkeypatch):
    from amlocal.core import Experiment, Workspace
    ws = Workspace("sub", "rg", "ws1")
    run = Experiment(ws, "exp").start_logging(snapshot_directory=None)
    for i in range(5):
        run.log("big", i)
    run.log("other", 42)
    asked = []
    real = type(ws._store).get_metric_columns
    monkeypatch.setattr(type(ws._store), "get_metric_columns",
                        lambda self, run_id, name=None: asked.append(name) or real(
                            self, run_id, name=name))
    assert run.get_metrics(name="other") == {"other": 42}
    assert run.get_metrics(name="missing") == {}
    assert run.get_metrics() == {"big": [0, 1, 2, 3, 4], "other": 42}
    assert asked == ["other", "missing", None]
    run.complete()


def test_many_batches_read_back_in_chunks_in_logging_order(store):
    """Values over many read chunks (512 rows each), in several batches, two metrics
    interleaved: every value in logging order, all of them or one metric's."""
    from amlocal.store import sql_metrics
    n = 6 * sql_metrics._CHUNK + 7
    records = [MetricRecord("a" if i % 3 else "b", "scalar", i if i % 2 else i / 2, i, utcnow())
               for i in range(n)]
    for start in range(0, n, 1000):
        store.log_metrics("bulk", records[start:start + 1000])
    columns = store.get_metric_columns("bulk")
    assert list(columns.values) == [r.value for r in records]
    assert list(columns.steps) == list(range(n))
    only_b = store.get_metric_records("bulk", name="b")
    assert [r.step for r in only_b] == [i for i in range(n) if i % 3 == 0]
    assert [r.value for r in only_b] == [records[r.step].value for r in only_b]
