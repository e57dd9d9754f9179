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
import weakref
from dataclasses import dataclass

FLUSH_EVERY = 2000       # records
FLUSH_INTERVAL = 1.0     # seconds: metrics show up in `amlocal run show` while the step runs


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
    ``run.log`` calls makes a handful of store calls, not 10,000. Flushed every second by a
    background thread, when full, before any read, and at interpreter exit."""

    def __init__(self, store, run_id: str):
        self._store = store
        self._run_id = run_id
        self._pending: list = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_error: str | None = None
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

    def add(self, record) -> None:
        with self._lock:
            self._pending.append(record)
            full = len(self._pending) >= FLUSH_EVERY
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, daemon=True,
                                                name=f"amlocal-metrics-{self._run_id[:8]}")
                self._thread.start()
        if full:
            self.flush()

    def _loop(self) -> None:
        while not self._wake.wait(FLUSH_INTERVAL):
            try:
                self.flush()
            except Exception as exc:  # noqa: BLE001 - keep the user's script alive; retried next tick
                reason = f"{type(exc).__name__}: {exc}"
                if reason != self._last_error:  # once per distinct reason, not every second
                    self._last_error = reason
                    print(f"amlocal: could not write {self.pending_count} metric value(s) to run "
                          f"{self._run_id} ({reason}); kept, retried every second and at exit",
                          file=sys.stderr, flush=True)

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
    grouped: dict[str, list] = {}
    for r in records:
        grouped.setdefault(r.name, []).append(r)
    result = {}
    for name, recs in grouped.items():
        kind = recs[-1].kind
        if kind == "scalar":
            values = [r.value for r in recs]
            result[name] = values[0] if len(values) == 1 else values
        elif kind == "list":
            result[name] = [v for r in recs for v in r.value]
        elif kind == "row":
            if len(recs) == 1:
                result[name] = dict(recs[0].value)
            else:
                cols: dict = {}
                for r in recs:
                    for k, v in r.value.items():
                        cols.setdefault(k, []).append(v)
                result[name] = cols
        elif kind == "table":
            cols = {}
            for r in recs:
                for k, v in r.value.items():
                    cols.setdefault(k, []).extend(v)
            result[name] = cols
        else:  # image
            result[name] = recs[-1].value if len(recs) == 1 else [r.value for r in recs]
    return result
