"""Schedules fired by a real studio server process: v1-sample code, unchanged and run through
``python -m amlocal.compat``, publishes a tiny pipeline and creates an hourly schedule and a
datastore schedule (``Schedule.create`` starts the home's server); the server then really
submits runs that finish in Docker. Time is driven through the scheduler's documented test hook
(``AMLOCAL_SCHEDULER_CLOCK_FILE``: the server reads "now" from that file), never by sleeping
until an hour passes. Also the schedules REST API (list, one, firings, runs, enable/disable
with a key)."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

pytestmark = pytest.mark.usefixtures("docker_engine")

PROGRAM = """
    from azureml.core import Workspace
    from azureml.data.datapath import DataPath, DataPathComputeBinding
    from azureml.pipeline.core import Pipeline, PipelineParameter
    from azureml.pipeline.core.schedule import Schedule, ScheduleRecurrence
    from azureml.pipeline.steps import PythonScriptStep

    ws = Workspace("00000000-0000-0000-0000-000000000000", "test-rg", "testws")
    datastore = ws.get_default_datastore()
    datastore.upload(src_dir="seed", target_path="landing", overwrite=True)

    data_path = PipelineParameter(name="input_data",
                                  default_value=DataPath(datastore=datastore,
                                                         path_on_datastore="landing"))
    datapath_input = (data_path, DataPathComputeBinding(mode="mount"))
    step = PythonScriptStep(script_name="step.py", arguments=["--input", datapath_input],
                            inputs=[datapath_input], source_directory="src", allow_reuse=False)
    pipeline = Pipeline(workspace=ws, steps=[step])
    published_pipeline = pipeline.publish(name="scheduled", description="for the schedules")

    recurrence = ScheduleRecurrence(frequency="Hour", interval=1)
    schedule = Schedule.create(ws, name="hourly", pipeline_id=published_pipeline.id,
                               experiment_name="schedule-hourly", recurrence=recurrence,
                               description="runs every hour")
    print("HOURLY", schedule.id)

    reactive_schedule = Schedule.create(ws, name="on-new-data",
                                        description="runs when data lands",
                                        pipeline_id=published_pipeline.id,
                                        experiment_name="schedule-data",
                                        datastore=datastore,
                                        data_path_parameter_name="input_data",
                                        polling_interval=5,
                                        path_on_datastore="landing")
    print("DATA", reactive_schedule.id)
    for s in Schedule.list(ws):
        print("LISTED", s.name, s.status)
"""

STEP = """
    import argparse, os
    p = argparse.ArgumentParser(); p.add_argument("--input"); a = p.parse_args()
    if os.path.isdir(a.input):
        print("FOLDER", sorted(os.listdir(a.input)))
    else:
        print("FILE", os.path.basename(a.input), open(a.input).read())
"""


def _set_clock(path, moment: datetime) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(moment.astimezone(timezone.utc).isoformat())
    tmp.replace(path)


def _wait_fired(store, schedule_id: str, count: int, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fired = store.list_schedule_firings(schedule_id, decision="fired")
        if len(fired) >= count:
            return fired
        time.sleep(0.1)
    raise AssertionError(f"schedule {schedule_id} fired {len(fired)} times, not {count}: "
                         f"{store.list_schedule_firings(schedule_id)}")


def _step_log(run) -> str:
    run.wait_for_completion(show_output=False, timeout_seconds=600)
    assert run.get_status() == "Finished", run.get_details()
    return next(run.get_steps()).get_job_log()


def test_v1_schedules_fire_on_a_real_server(home, workspace, tmp_path, monkeypatch):
    from amlocal._engine import studio
    from amlocal.core.authentication import InteractiveLoginAuthentication
    from amlocal.pipeline.core.schedule import Schedule

    clock = tmp_path / "clock"
    _set_clock(clock, datetime(2000, 1, 1, tzinfo=timezone.utc))   # nothing due yet
    monkeypatch.setenv("AMLOCAL_SCHEDULER_CLOCK_FILE", str(clock))
    monkeypatch.setenv("AMLOCAL_SCHEDULER_PERIOD", "0.2")
    work = tmp_path / "program"
    (work / "src").mkdir(parents=True)
    (work / "seed").mkdir()
    (work / "seed" / "seed.txt").write_text("seed")
    (work / "src" / "step.py").write_text(textwrap.dedent(STEP))
    (work / "program.py").write_text(textwrap.dedent(PROGRAM))
    done = subprocess.run([sys.executable, "-m", "amlocal.compat", "program.py"], cwd=work,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    ids = dict(line.split(" ", 1) for line in done.stdout.splitlines()
               if line.startswith(("HOURLY ", "DATA ")))
    assert "LISTED hourly Active" in done.stdout and "LISTED on-new-data Active" in done.stdout
    server = studio.running()
    assert server is not None          # Schedule.create started the home's server

    store = workspace._store
    hourly = Schedule.get(workspace, ids["HOURLY"])
    created = datetime.fromisoformat(hourly._info.created_at.replace("Z", "+00:00"))
    # no start_time: the first run is immediate
    _set_clock(clock, created + timedelta(seconds=1))
    fired = _wait_fired(store, hourly.id, 1)
    run = hourly.get_last_pipeline_run()
    assert run.id == fired[0].run_id
    assert "FOLDER ['seed.txt']" in _step_log(run)
    properties = run.get_properties()
    assert properties["azureml.pipelines.scheduleId"] == hourly.id
    assert properties["amlocal.submitted_via"] == "Schedule"

    # a new file directly under the watched path: the datastore schedule's next poll (5 min)
    # submits one run with that file as the DataPath parameter
    reactive = Schedule.get(workspace, ids["DATA"])
    new = tmp_path / "new"
    new.mkdir()
    (new / "new.csv").write_text("a,b\n1,2\n")
    workspace.get_default_datastore().upload(str(new), target_path="landing",
                                             show_progress=False)
    _set_clock(clock, created + timedelta(minutes=5, seconds=2))
    fired = _wait_fired(store, reactive.id, 1)
    assert fired[0].data_path == "landing/new.csv"
    log = _step_log(reactive.get_last_pipeline_run())
    assert "FILE new.csv a,b" in log

    # the REST API: list, one, firings, runs; enable/disable need a key
    base = f"{server.url}/api/v1/schedules"
    listed = httpx.get(base, timeout=30).json()
    assert {s["name"] for s in listed} == {"hourly", "on-new-data"}
    one = httpx.get(f"{base}/{hourly.id}", timeout=30).json()
    assert one["schedule_type"] == "Recurrence" and one["recurrence"]["frequency"] == "Hour"
    firings = httpx.get(f"{base}/{hourly.id}/firings", timeout=30).json()
    assert [f["decision"] for f in firings] == ["fired"] and firings[0]["run_id"] == run.id
    runs = httpx.get(f"{base}/{hourly.id}/runs", timeout=30).json()
    assert [r["id"] for r in runs] == [run.id] and runs[0]["status"] == "Finished"
    assert httpx.get(f"{base}/nope", timeout=30).status_code == 404
    assert httpx.post(f"{base}/{hourly.id}/disable", timeout=30).status_code == 401
    headers = InteractiveLoginAuthentication().get_authentication_header()
    answer = httpx.post(f"{base}/{hourly.id}/disable", headers=headers, timeout=30)
    assert answer.status_code == 200 and answer.json()["status"] == "Disabled"
    assert Schedule.get(workspace, hourly.id).status == "Disabled"
    assert [s["name"] for s in httpx.get(base, timeout=30).json()] == ["on-new-data"]
    answer = httpx.post(f"{base}/{hourly.id}/enable", headers=headers, timeout=30)
    assert answer.status_code == 200 and answer.json()["status"] == "Active"

    # the server stops; three hourly occurrences pass; the restarted server reads the schedules
    # from the store and makes one catch-up run, recording the two others as missed
    studio.stop()
    _set_clock(clock, created + timedelta(hours=3, seconds=5))
    assert studio.start(notice=False).pid != server.pid
    _wait_fired(store, hourly.id, 2)
    decisions = store.list_schedule_firings(hourly.id)
    assert [f.decision for f in decisions] == ["fired", "missed", "fired"]
    assert decisions[1].count == 2
    assert "FOLDER ['new.csv', 'seed.txt']" in _step_log(hourly.get_last_pipeline_run())


def test_endpoint_schedule_runs_the_default_version(home, workspace, tmp_path, monkeypatch):
    """create_for_pipeline_endpoint: each firing runs the endpoint's default version at that
    time, through PipelineEndpoint's submission path (the scheduler ticked in-process with an
    injected time; the home's server gets a clock stuck in 2000 so it stays out of the way)."""
    from amlocal.pipeline.core import Pipeline, PipelineEndpoint
    from amlocal.pipeline.core.schedule import Schedule, ScheduleRecurrence
    from amlocal.pipeline.steps import PythonScriptStep
    from amlocal.server.scheduler import Scheduler

    clock = tmp_path / "clock"
    _set_clock(clock, datetime(2000, 1, 1, tzinfo=timezone.utc))
    monkeypatch.setenv("AMLOCAL_SCHEDULER_CLOCK_FILE", str(clock))
    src = tmp_path / "src"
    src.mkdir()
    (src / "v.py").write_text("import sys; print('VERSION', sys.argv[1])\n")

    def pipeline(version):
        return Pipeline(workspace, [PythonScriptStep("v.py", source_directory=str(src),
                                                     arguments=[version], allow_reuse=False)])
    endpoint = PipelineEndpoint.publish(workspace, "nightly", "scheduled endpoint",
                                        pipeline("zero"))
    schedule = Schedule.create_for_pipeline_endpoint(
        workspace, "endpoint-daily", endpoint.id, "endpoint-schedule",
        recurrence=ScheduleRecurrence(frequency="Day", interval=1))
    assert schedule.pipeline_endpoint_id == endpoint.id and schedule.pipeline_id is None
    assert [s.id for s in Schedule.list(workspace, pipeline_endpoint_id=endpoint.id)] == \
        [schedule.id]
    endpoint.add_default(pipeline("one").publish("nightly-v1"))

    created = datetime.fromisoformat(schedule._info.created_at.replace("Z", "+00:00"))
    decided = Scheduler(workspace._store).tick(created + timedelta(seconds=1))
    assert [f.decision for f in decided] == ["fired"], decided
    run = schedule.get_last_pipeline_run()
    assert "VERSION one" in _step_log(run)
    properties = run.get_properties()
    assert properties["azureml.pipelines.scheduleId"] == schedule.id
    assert properties["azureml.pipelineEndpointId"] == endpoint.id
    assert properties["azureml.pipelineEndpointVersion"] == "1"
