"""Metric logging: a batching buffer and Azure's ``get_metrics`` shapes.

A metric is never dropped silently: a batch the store refuses (or cannot be reached for) stays
in its buffer, the failure is printed (once per distinct reason) on stderr, which is the step's
log inside a job, and :func:`flush_all` (called by the step entry when the script ends) reports
what could not be written, so the step fails.
"""
from __future__ import annotations

import atexit
import sys
import threading
import time
import weakref
from dataclasses import dataclass

from ..store.entities import MetricRecord

FLUSH_EVERY = 2000       # records: the background thread sends a batch this large at once
FLUSH_INTERVAL = 1.0     # seconds: metrics show up in `amlocal run show` while the step runs
MAX_PENDING = 8 * FLUSH_EVERY   # records held before run.log itself waits for a send


@dataclass(frozen=True)
class UnsentMetrics:
    """Metrics a buffer could not write: how many, to which run, and why."""

    run_id: str
    count: int
    error: str


def flush_all() -> list[UnsentMetrics]:
    """Flush every metric buffer of this process; what could not be written, per buffer."""
    from .. import _context
    failures = []
    for buffer in _context.metric_buffers():
        try:
            buffer.flush()
        except Exception as exc:  # noqa: BLE001 - reported to the caller, which fails the job
            failures.append(UnsentMetrics(buffer.run_id, buffer.pending_count,
                                          f"{type(exc).__name__}: {exc}"))
    return failures


class MetricBuffer:
    """Collects ``run.log*`` calls and writes them to the store in batches: a loop of 10,000
    ``run.log`` calls makes a handful of store calls, not 10,000.

    A background thread sends what is pending every second, and at once when a batch of
    ``FLUSH_EVERY`` records is ready, so the logging loop does not wait for the store; it is
    also flushed before any read and at interpreter exit. When the thread falls behind (or the
    store fails) and ``MAX_PENDING`` records wait, ``add`` flushes itself: it waits for the
    store, and a failure is raised to the caller. Nothing is dropped."""

    def __init__(self, store, run_id: str):
        self._store = store
        self._run_id = run_id
        self._pending: list = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._due = threading.Event()      # a full batch is ready: send it now
        self._thread: threading.Thread | None = None
        self._last_error: str | None = None
        self._second = -1                  # the whole second ``_prefix`` spells
        self._prefix = ""
        from .. import _context
        _context.add_metric_buffer(self)
        atexit.register(_flush_at_exit, weakref.ref(self))

    @property
    def run_id(self) -> str:
        return self._run_id

    @property
    def pending_count(self) -> int:
        with self._lock:
            return len(self._pending)

    def timestamp(self) -> str:
        """Now, as :func:`amlocal.store.entities.utcnow` spells it, without a datetime per call
        (the date and time of the current second are formatted once)."""
        seconds, nanos = divmod(time.time_ns(), 1_000_000_000)
        if seconds != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
            self._second = seconds
        return f"{self._prefix}.{nanos // 1000:06d}Z"

    def log(self, name: str, kind: str, value, step=None) -> None:
        """Add one record logged now."""
        self.add(MetricRecord(name, kind, value, step, self.timestamp()))

    def add(self, record) -> None:
        with self._lock:
            self._pending.append(record)
            count = len(self._pending)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, daemon=True,
                                                name=f"amlocal-metrics-{self._run_id[:8]}")
                self._thread.start()
        if count >= MAX_PENDING:
            self.flush()
        elif count % FLUSH_EVERY == 0:
            self._due.set()

    def _loop(self) -> None:
        while True:
            self._due.wait(FLUSH_INTERVAL)
            self._due.clear()
            try:
                self.flush()
            except Exception as exc:  # noqa: BLE001 - keep the user's script alive; retried next tick
                reason = f"{type(exc).__name__}: {exc}"
                if reason != self._last_error:  # once per distinct reason, not every second
                    self._last_error = reason
                    print(f"amlocal: could not write {self.pending_count} metric value(s) to run "
                          f"{self._run_id} ({reason}); kept, retried every second and at exit",
                          file=sys.stderr, flush=True)
                time.sleep(FLUSH_INTERVAL)  # a failing store is not retried in a busy loop

    def flush(self) -> None:
        with self._flush_lock:
            with self._lock:
                batch, self._pending = self._pending, []
            if not batch:
                return
            try:
                self._store.log_metrics(self._run_id, batch)
            except BaseException:
                with self._lock:  # nothing is lost: put the batch back in front
                    self._pending = batch + self._pending
                raise


def _flush_at_exit(ref) -> None:
    buffer = ref()
    if buffer is None:
        return
    try:
        buffer.flush()
    except Exception as exc:  # noqa: BLE001 - the interpreter is ending: say what was lost
        print(f"amlocal: {buffer.pending_count} metric value(s) logged to run {buffer.run_id} "
              f"could not be written: {type(exc).__name__}: {exc}", file=sys.stderr)


def shape_metrics(records) -> dict:
    """Azure's ``get_metrics`` shapes from raw records, in logging order:
    scalar once -> value, N times -> list; log_list -> list; log_row -> {col: v} or {col: [v...]};
    log_table -> {col: [...]}; image -> its ``aml://`` artifact path."""
    return shape_metric_values([r.name for r in records], [r.kind for r in records],
                               [r.value for r in records])


def shape_metric_values(names, kinds, values) -> dict:
    """:func:`shape_metrics` from three columns (of ``Store.get_metric_columns``): one pass that
    groups values by name, then each metric shaped by the kind of its last record."""
    grouped: dict[str, list] = {}
    last_kind: dict[str, str] = {}
    for name, kind, value in zip(names, kinds, values):
        group = grouped.get(name)
        if group is None:
            group = grouped[name] = []
        group.append(value)
        last_kind[name] = kind
    return {name: _shape(last_kind[name], group) for name, group in grouped.items()}


def _shape(kind: str, values: list):
    if kind == "scalar":
        return values[0] if len(values) == 1 else values
    if kind == "list":
        return [v for value in values for v in value]
    if kind == "row":
        if len(values) == 1:
            return dict(values[0])
        cols: dict = {}
        for row in values:
            for k, v in row.items():
                cols.setdefault(k, []).append(v)
        return cols
    if kind == "table":
        cols = {}
        for table in values:
            for k, v in table.items():
                cols.setdefault(k, []).extend(v)
        return cols
    return values[-1] if len(values) == 1 else values  # image
