"""The scheduler of the studio server: fires the home's schedules (``Schedule.create``) while the
server runs, and picks them up from the store when it starts again.

Every few seconds (``period``; ``AMLOCAL_SCHEDULER_PERIOD``, default 5) :meth:`Scheduler.tick`
looks at each Active schedule and records each decision it takes (a ``ScheduleFiring``: fired,
skipped, missed, deferred or failed, with the reason and the run id; shown by
``GET /api/v1/schedules/{id}/firings``). Runs are submitted through the same path as Python:
``PublishedPipeline.get(ws, id)`` or ``PipelineEndpoint.get(ws, id=...)`` (its default version),
with run properties ``azureml.pipelines.scheduleId`` (the schedule) and
``amlocal.submitted_via = "Schedule"``.

The rules (Azure documents none of the first two; these are amlocal's):

(a) Overlap: when an occurrence is due while the previous run of the same schedule has not
    ended, it is *skipped* and recorded ("skipped", naming the run still going); nothing is
    queued. A datastore schedule instead *defers*: the changed files stay pending and fire at the
    first poll after that run ended (recorded "deferred" at each such poll).
(b) Missed firings (the server was down, or the schedule's occurrences came faster than the
    ticks): at most one catch-up run, for the latest due occurrence; the others are recorded as
    one "missed" entry with their count and time span. Never N runs. A datastore schedule's first
    poll after a restart sees every change since the last poll (one run per changed file).
(c) A ``start_time`` in the past: the first run is the next occurrence after creation; nothing
    is back-filled (Azure). Disabled time is not caught up either: ``enable()`` starts from now.
(d) No ``start_time``: the first run is immediate (Azure), then the recurrence follows.

A submission the pipeline refuses (disabled or deleted pipeline or endpoint, a parameter that no
longer fits) is recorded "failed" with the error; it is not retried (for a datastore schedule
the file counts as seen). The first tick runs when the server starts; a schedule made while it
runs is seen at the next tick (within ``period``).

Decisions are at most once: the schedule's ``evaluated_until`` is moved forward before a run is
submitted, so a crash between the two loses that run rather than submitting it twice.

Test hook (documented, test-only): ``AMLOCAL_SCHEDULER_CLOCK_FILE`` names a file holding an
ISO-8601 UTC time; a server started with it set reads "now" from that file instead of the
system clock (so a test drives a real server process through time without sleeping).
``create_app(store, clock=...)`` injects a clock in-process the same way.
"""
from __future__ import annotations

import logging
import os
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .._status import RunStatus
from ..pipeline.core._schedule_times import Due, RecurrenceSpec, due
from ..store.entities import parse_utc
from ..store.sql_schedules import ScheduleFiring, ScheduleInfo

log = logging.getLogger(__name__)

SCHEDULE_ID_PROPERTY = "azureml.pipelines.scheduleId"
SUBMITTED_BY_PROPERTY = "amlocal.submitted_via"
CLOCK_FILE_ENV = "AMLOCAL_SCHEDULER_CLOCK_FILE"
PERIOD_ENV = "AMLOCAL_SCHEDULER_PERIOD"
DEFAULT_PERIOD = 5.0
_TINY = timedelta(microseconds=1)


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def system_clock() -> datetime:
    return datetime.now(timezone.utc)


def file_clock(path: str | Path):
    """A clock reading an ISO-8601 time from ``path`` (the test hook; see the docstring)."""
    def now() -> datetime:
        text = Path(path).read_text().strip()
        moment = parse_utc(text)
        if moment is None:
            raise ValueError(f"{CLOCK_FILE_ENV} file {path} does not hold an ISO-8601 time")
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return now


def due_firings(schedule: ScheduleInfo, now: datetime) -> Due:
    """The occurrences of a recurrence schedule due at ``now`` and not yet decided (pure)."""
    if not schedule.recurrence:
        return Due(0)
    spec = RecurrenceSpec.from_dict(schedule.recurrence)
    created = parse_utc(schedule.created_at)
    since = parse_utc(schedule.evaluated_until)
    if since is None:   # never evaluated: no start_time fires at creation; a past one never
        since = created - _TINY if not spec.start_time else created
    return due(spec, created, since, now)


def poll_due(schedule: ScheduleInfo, now: datetime) -> bool:
    """Whether a datastore schedule's next poll is due at ``now`` (pure)."""
    last = parse_utc(schedule.evaluated_until) or parse_utc(schedule.created_at)
    return now >= last + timedelta(minutes=schedule.polling_interval or 5)


class Scheduler:
    """``Scheduler(store, clock=None)``: :meth:`start` runs :meth:`tick` in a background thread
    until :meth:`stop`. ``clock`` (a callable returning an aware UTC datetime) defaults to the
    system clock, or to the ``AMLOCAL_SCHEDULER_CLOCK_FILE`` test hook when that is set.
    ``submit(schedule, parameters) -> run id`` replaces the real submission (tests of the
    rules only)."""

    def __init__(self, store, clock=None, *, period: float | None = None, submit=None):
        self.store = store
        if clock is None and os.environ.get(CLOCK_FILE_ENV):
            clock = file_clock(os.environ[CLOCK_FILE_ENV])
        self.clock = clock or system_clock
        if period is None:
            try:
                period = float(os.environ.get(PERIOD_ENV, DEFAULT_PERIOD))
            except ValueError:
                period = DEFAULT_PERIOD
        self.period = max(0.05, period)
        self._submit = submit or self._submit_for_real
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- the thread -------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="amlocal-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wake(self) -> None:
        """Tick now instead of at the end of the period."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - one bad tick must not end the scheduler
                log.exception("amlocal scheduler: a tick failed")
            self._wake.wait(self.period)
            self._wake.clear()

    # -- deciding ---------------------------------------------------------------------------
    def tick(self, now: datetime | None = None) -> list[ScheduleFiring]:
        """Decide every Active schedule at ``now`` (the clock's time when None); returns the
        decisions recorded."""
        with self._lock:
            now = now or self.clock()
            decided = []
            for schedule in self.store.list_schedules(active_only=True):
                try:
                    if schedule.recurrence:
                        decided += self._tick_recurrence(schedule, now)
                    elif schedule.datastore_name:
                        decided += self._tick_datastore(schedule, now)
                except Exception as exc:  # noqa: BLE001 - recorded, the others go on
                    log.exception("amlocal scheduler: schedule %s", schedule.id)
                    decided.append(self._record(schedule, "failed", f"the scheduler failed: "
                                                f"{type(exc).__name__}: {exc}", due_at=now))
                    try:   # decided up to now: a lasting fault is not recorded every tick
                        self.store.update_schedule(schedule.id, evaluated_until=_iso(now))
                    except Exception:  # noqa: BLE001
                        log.exception("amlocal scheduler: schedule %s", schedule.id)
            return decided

    def _record(self, schedule, decision, reason, **fields) -> ScheduleFiring:
        if isinstance(fields.get("due_at"), datetime):
            fields["due_at"] = _iso(fields["due_at"])
        return self.store.add_schedule_firing(ScheduleFiring(
            schedule_id=schedule.id, decision=decision, reason=reason, **fields))

    def _running_run(self, schedule) -> tuple[str, str] | None:
        """``(run id, status)`` of the schedule's last run when it has not ended."""
        last = self.store.list_schedule_firings(schedule.id, decision="fired", limit=1)
        if not last or not last[0].run_id:
            return None
        info = self.store.get_run(last[0].run_id)
        if info is None or RunStatus(info.status).terminal:
            return None
        from .._engine.settle import settle_runs
        if settle_runs(self.store, [info]):   # its runner died: it will never end by itself
            return None
        return info.id, str(info.status)

    def _tick_recurrence(self, schedule, now) -> list[ScheduleFiring]:
        found = due_firings(schedule, now)
        if found.count == 0:
            return []
        self.store.update_schedule(schedule.id, evaluated_until=_iso(now))
        decided = []
        if found.count > 1:
            decided.append(self._record(
                schedule, "missed",
                f"{found.count - 1} occurrence(s) from {_iso(found.first)} were due while the "
                "server was not running (or came faster than it ticks); only the latest one "
                "runs (rule: at most one catch-up run)",
                due_at=found.first, count=found.count - 1))
        busy = self._running_run(schedule)
        if busy is not None:
            decided.append(self._record(
                schedule, "skipped", f"the previous run {busy[0]} of this schedule is still "
                f"{busy[1]} (rule: a firing while it runs is skipped, not queued)",
                due_at=found.last))
            return decided
        decided.append(self._fire(schedule, {}, found.last, "the recurrence is due"))
        return decided

    def _tick_datastore(self, schedule, now) -> list[ScheduleFiring]:
        from ..pipeline.core._schedule_data import changed_files, list_watched
        if not poll_due(schedule, now):
            return []
        self.store.update_schedule(schedule.id, evaluated_until=_iso(now))
        workspace = self._workspace(schedule)
        from ..core.datastore import Datastore
        current = list_watched(Datastore.get(workspace, schedule.datastore_name),
                               schedule.path_on_datastore)
        previous = self.store.get_watched_files(schedule.id)
        changed, gone = changed_files(previous, current)
        if gone:
            self.store.set_watched_files(schedule.id, {}, gone=gone)
        if not changed:
            return []
        busy = self._running_run(schedule)
        if busy is not None:
            return [self._record(
                schedule, "deferred", f"{len(changed)} changed file(s) wait: the previous run "
                f"{busy[0]} of this schedule is still {busy[1]}; they fire at the first poll "
                "after it ends", due_at=now, count=len(changed))]
        decided = []
        if schedule.data_path_parameter_name:
            for path in changed:
                param = {schedule.data_path_parameter_name: ("datapath", path)}
                decided.append(self._fire(schedule, param, now, f"file {path} was added or "
                                          "changed", data_path=path))
        else:
            shown = ", ".join(changed[:5]) + (" ..." if len(changed) > 5 else "")
            decided.append(self._fire(schedule, {}, now, f"{len(changed)} file(s) added or "
                                      f"changed: {shown}"))
        self.store.set_watched_files(schedule.id, {p: current[p] for p in changed})
        return decided

    def _fire(self, schedule, extra: dict, due_at, reason, data_path=None) -> ScheduleFiring:
        try:
            run_id = self._submit(schedule, extra)
        except Exception as exc:  # noqa: BLE001 - a refused submission is recorded
            return self._record(schedule, "failed", f"{reason}, but the submission failed: "
                                f"{type(exc).__name__}: {exc}", due_at=due_at,
                                data_path=data_path)
        return self._record(schedule, "fired", reason, due_at=due_at, run_id=run_id,
                            data_path=data_path)

    # -- submitting -------------------------------------------------------------------------
    def _workspace(self, schedule):
        from ..core.workspace import Workspace
        for info in self.store.find_workspaces():
            if info.id == schedule.workspace_id:
                return Workspace(info.subscription_id, info.resource_group, info.name,
                                 _store=self.store, _info=info)
        raise LookupError(f"the schedule's workspace {schedule.workspace_id} no longer exists")

    def _submit_for_real(self, schedule, extra: dict) -> str:
        """Submit the schedule's pipeline (the Python path); returns the run id."""
        from ..core.datastore import Datastore
        from ..core.experiment import Experiment
        from ..data.datapath import DataPath
        workspace = self._workspace(schedule)
        parameters = dict(schedule.pipeline_parameters)
        for name, (kind, path) in extra.items():
            if kind == "datapath":
                parameters[name] = DataPath(Datastore.get(workspace, schedule.datastore_name),
                                            path_on_datastore=path)
        properties = {SCHEDULE_ID_PROPERTY: schedule.id, SUBMITTED_BY_PROPERTY: "Schedule",
                      "runSource": "Schedule"}
        if schedule.pipeline_id:
            from ..pipeline.core.published import PublishedPipeline
            pipeline = PublishedPipeline.get(workspace, schedule.pipeline_id)
            run = pipeline._submit_to_experiment(
                Experiment(workspace, schedule.experiment_name), pipeline_parameters=parameters,
                continue_on_step_failure=schedule.continue_on_step_failure,
                _properties=properties)
        else:
            from ..pipeline.core.pipeline_endpoint import PipelineEndpoint
            endpoint = PipelineEndpoint.get(workspace, id=schedule.pipeline_endpoint_id)
            run = endpoint._submit(Experiment(workspace, schedule.experiment_name),
                                   pipeline_parameters=parameters, _properties=properties)
        return run.id
