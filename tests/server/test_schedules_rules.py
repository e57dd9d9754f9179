"""The scheduler's rules over a real store, driven by an injected clock (``Scheduler.tick(now)``),
never by sleeping: overlapping firings are skipped and recorded, firings missed while the server
was down give one catch-up run, a restarted scheduler picks schedules up from the store,
disabled time is not caught up, refused submissions are recorded, and a datastore schedule
fires for files added or changed directly under its path (not in sub-folders).

The rule tests replace only the last step, the submission, with one that records a real run
in the store (its status set by the test), so a run "still running" is under the test's
control; the submission path itself is tested with real runs in test_schedules_e2e.py and in
``test_refused_submission_is_recorded`` here."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest

from amlocal.pipeline.core.schedule import Schedule, ScheduleRecurrence
from amlocal.server.scheduler import Scheduler
from amlocal.store.entities import RunInfo, parse_utc


class RecordingSubmit:
    """Records a real run in the store for each submission (status Running)."""

    def __init__(self, store):
        self.store = store
        self.calls: list[tuple[str, dict]] = []

    def __call__(self, schedule, extra: dict) -> str:
        run_id = f"sched_{uuid.uuid4().hex[:8]}"
        self.store.create_run(RunInfo(id=run_id, workspace_id=schedule.workspace_id,
                                      experiment=schedule.experiment_name, kind="pipeline",
                                      status="Running"))
        self.calls.append((run_id, extra))
        return run_id

    def finish(self, run_id: str) -> None:
        self.store.update_run(run_id, status="Finished")


@pytest.fixture(autouse=True)
def idle_server_scheduler(home, tmp_path, monkeypatch):
    """The home's studio server (started by publish() and Schedule.create) gets a clock stuck
    in 2000 (the scheduler's test hook), so only the test's own Scheduler decides here."""
    clock = tmp_path / "server-clock"
    clock.write_text("2000-01-01T00:00:00Z")
    monkeypatch.setenv("AMLOCAL_SCHEDULER_CLOCK_FILE", str(clock))


@pytest.fixture
def published(workspace, tmp_path):
    from amlocal.data.datapath import DataPath, DataPathComputeBinding
    from amlocal.pipeline.core import Pipeline, PipelineParameter
    from amlocal.pipeline.steps import PythonScriptStep
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.py").write_text("print('hi')\n")
    where = PipelineParameter("input_path",
                              default_value=DataPath(workspace.get_default_datastore(), "in"))
    pair = (where, DataPathComputeBinding(mode="mount"))
    step = PythonScriptStep("a.py", source_directory=str(src), arguments=["--in", pair],
                            inputs=[pair])
    return Pipeline(workspace, [step]).publish("scheduled")


def _created(schedule) -> datetime:
    return parse_utc(schedule._info.created_at)


def _decisions(workspace, schedule) -> list[str]:
    return [f.decision for f in workspace._store.list_schedule_firings(schedule.id,
                                                                       newest_first=False)]


def test_overlapping_firing_is_skipped_and_recorded(workspace, published):
    store = workspace._store
    submit = RecordingSubmit(store)
    scheduler = Scheduler(store, submit=submit)
    schedule = Schedule.create(workspace, "hourly", published.id, "exp",
                               recurrence=ScheduleRecurrence(frequency="Hour", interval=1))
    t0 = _created(schedule)
    fired = scheduler.tick(t0 + timedelta(seconds=1))        # no start_time: at once
    assert [f.decision for f in fired] == ["fired"] and len(submit.calls) == 1
    assert scheduler.tick(t0 + timedelta(minutes=30)) == []   # nothing due
    skipped = scheduler.tick(t0 + timedelta(hours=1, seconds=1))
    assert [f.decision for f in skipped] == ["skipped"] and len(submit.calls) == 1
    assert submit.calls[0][0] in skipped[0].reason and "still Running" in skipped[0].reason
    submit.finish(submit.calls[0][0])
    again = scheduler.tick(t0 + timedelta(hours=2, seconds=1))
    assert [f.decision for f in again] == ["fired"] and len(submit.calls) == 2
    assert _decisions(workspace, schedule) == ["fired", "skipped", "fired"]
    runs = Schedule.get(workspace, schedule.id).get_pipeline_runs()
    assert [r.id for r in runs] == [submit.calls[1][0], submit.calls[0][0]]
    assert Schedule.get(workspace, schedule.id).get_last_pipeline_run().id == submit.calls[1][0]


def test_missed_firings_give_one_catch_up_run_after_a_restart(workspace, published):
    store = workspace._store
    submit = RecordingSubmit(store)
    schedule = Schedule.create(workspace, "quarter", published.id, "exp",
                               recurrence=ScheduleRecurrence(frequency="Minute", interval=15))
    t0 = _created(schedule)
    Scheduler(store, submit=submit).tick(t0 + timedelta(seconds=1))
    submit.finish(submit.calls[0][0])
    # the server is down for 5 hours; a new scheduler (a restarted server) reads the store
    restarted = Scheduler(store, submit=submit)
    decided = restarted.tick(t0 + timedelta(hours=5, seconds=1))
    assert [f.decision for f in decided] == ["missed", "fired"]
    missed, fired = decided
    assert missed.count == 19 and "at most one catch-up run" in missed.reason
    assert parse_utc(fired.due_at) == t0 + timedelta(hours=5)
    assert len(submit.calls) == 2
    assert restarted.tick(t0 + timedelta(hours=5, minutes=1)) == []


def test_a_past_start_time_is_not_back_filled_and_disabled_time_not_caught_up(workspace,
                                                                              published):
    store = workspace._store
    submit = RecordingSubmit(store)
    scheduler = Scheduler(store, submit=submit)
    schedule = Schedule.create(workspace, "past", published.id, "exp",
                               recurrence=ScheduleRecurrence(frequency="Hour", interval=1,
                                                             start_time="2020-01-01T00:00:00"))
    t0 = _created(schedule)
    next_hour = t0.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    assert scheduler.tick(next_hour - timedelta(seconds=1)) == []
    fired = scheduler.tick(next_hour + timedelta(seconds=1))
    assert [f.decision for f in fired] == ["fired"] and parse_utc(fired[0].due_at) == next_hour
    submit.finish(submit.calls[0][0])
    schedule.disable()
    assert scheduler.tick(next_hour + timedelta(hours=3)) == []
    schedule.enable()      # from now on: the hours while it was disabled are not caught up
    enabled_at = parse_utc(Schedule.get(workspace, schedule.id)._info.evaluated_until)
    later = scheduler.tick(enabled_at.replace(minute=0, second=0, microsecond=0)
                           + timedelta(hours=1, seconds=1))
    assert [f.decision for f in later] == ["fired"]
    assert _decisions(workspace, schedule) == ["fired", "fired"]


def test_refused_submission_is_recorded(workspace, published):
    """The real submission path: a disabled published pipeline refuses, and that is recorded."""
    store = workspace._store
    scheduler = Scheduler(store)
    schedule = Schedule.create(workspace, "refused", published.id, "exp",
                               recurrence=ScheduleRecurrence(frequency="Day", interval=1))
    published.disable()
    decided = scheduler.tick(_created(schedule) + timedelta(seconds=1))
    assert [f.decision for f in decided] == ["failed"]
    assert "is Disabled and cannot be submitted" in decided[0].reason
    assert Schedule.get(workspace, schedule.id).get_pipeline_runs() == []


def test_datastore_polling_on_a_local_folder(workspace, published, tmp_path):
    store = workspace._store
    datastore = workspace.get_default_datastore()
    submit = RecordingSubmit(store)
    scheduler = Scheduler(store, submit=submit)
    seed = tmp_path / "seed"
    (seed / "sub").mkdir(parents=True)
    (seed / "old.csv").write_text("old")
    (seed / "sub" / "deep.csv").write_text("deep")
    datastore.upload(str(seed), target_path="landing", show_progress=False)
    schedule = Schedule.create(workspace, "on-data", published.id, "ingest",
                               datastore=datastore, polling_interval=5,
                               data_path_parameter_name="input_path",
                               path_on_datastore="landing")
    t0 = _created(schedule)
    root = tmp_path / "add"
    # an unchanged folder fires nothing
    assert scheduler.tick(t0 + timedelta(minutes=5, seconds=1)) == []
    # a change in a sub-folder fires nothing (as Azure)
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "more.csv").write_text("more")
    datastore.upload(str(root), target_path="landing", show_progress=False)
    assert scheduler.tick(t0 + timedelta(minutes=10, seconds=2)) == []
    # a new file directly under the path fires one run with it as the DataPath parameter,
    # but not before the polling interval passed
    (root / "new.csv").write_text("new")
    datastore.upload(str(root), target_path="landing", overwrite=True, show_progress=False)
    assert scheduler.tick(t0 + timedelta(minutes=12)) == []
    fired = scheduler.tick(t0 + timedelta(minutes=15, seconds=3))
    assert [(f.decision, f.data_path) for f in fired] == [("fired", "landing/new.csv")]
    assert submit.calls[-1][1] == {"input_path": ("datapath", "landing/new.csv")}
    assert scheduler.tick(t0 + timedelta(minutes=20, seconds=4)) == []   # seen: no second run
    # a change while the previous run still runs is deferred, then fires once it ended
    (root / "new.csv").write_text("rewritten, longer")
    datastore.upload(str(root), target_path="landing", overwrite=True, show_progress=False)
    deferred = scheduler.tick(t0 + timedelta(minutes=25, seconds=5))
    assert [f.decision for f in deferred] == ["deferred"] and len(submit.calls) == 1
    submit.finish(submit.calls[0][0])
    after = scheduler.tick(t0 + timedelta(minutes=30, seconds=6))
    assert [(f.decision, f.data_path) for f in after] == [("fired", "landing/new.csv")]
    assert len(submit.calls) == 2


def test_the_scheduler_thread_ticks_with_its_clock(workspace, published):
    store = workspace._store
    submit = RecordingSubmit(store)
    schedule = Schedule.create(workspace, "threaded", published.id, "exp",
                               recurrence=ScheduleRecurrence(frequency="Hour", interval=1))
    moment = [_created(schedule) - timedelta(seconds=10)]
    scheduler = Scheduler(store, clock=lambda: moment[0], period=30, submit=submit)
    scheduler.start()
    try:
        import time
        moment[0] = _created(schedule) + timedelta(seconds=1)
        scheduler.wake()
        deadline = time.monotonic() + 20
        while not submit.calls and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        scheduler.stop()
    assert len(submit.calls) == 1
    assert _decisions(workspace, schedule) == ["fired"]


def test_firing_records_need_a_known_decision(workspace):
    from amlocal.store.sql_schedules import ScheduleFiring
    with pytest.raises(ValueError, match="a firing decision is one of"):
        workspace._store.add_schedule_firing(ScheduleFiring("s", "maybe", "?"))


def test_datastore_polling_on_an_azure_blob_container(workspace, published, azurite, tmp_path):
    """Azure's own case: a blob container (Azurite). Blobs directly under the path fire, blobs
    in a virtual sub-folder do not, a rewritten blob fires again."""
    from amlocal.core import Datastore
    from azure.storage.blob import BlobServiceClient
    container = f"sched{uuid.uuid4().hex[:10]}"
    blob_store = Datastore.register_azure_blob_container(
        workspace, "blobs", container, azurite.account, account_key=azurite.key,
        endpoint=azurite.endpoint, create_if_not_exists=True)
    client = BlobServiceClient.from_connection_string(azurite.connection_string()) \
        .get_container_client(container)
    client.upload_blob("in/old.csv", b"old")
    submit = RecordingSubmit(workspace._store)
    scheduler = Scheduler(workspace._store, submit=submit)
    schedule = Schedule.create(workspace, "blob-data", published.id, "ingest",
                               datastore=blob_store, polling_interval=1,
                               data_path_parameter_name="input_path", path_on_datastore="in")
    t0 = _created(schedule)
    client.upload_blob("in/deeper/x.csv", b"deep")
    assert scheduler.tick(t0 + timedelta(minutes=1, seconds=1)) == []
    client.upload_blob("in/new.csv", b"new")
    fired = scheduler.tick(t0 + timedelta(minutes=2, seconds=2))
    assert [(f.decision, f.data_path) for f in fired] == [("fired", "in/new.csv")]
    submit.finish(submit.calls[0][0])
    client.upload_blob("in/old.csv", b"old, rewritten", overwrite=True)
    fired = scheduler.tick(t0 + timedelta(minutes=3, seconds=3))
    assert [(f.decision, f.data_path) for f in fired] == [("fired", "in/old.csv")]
