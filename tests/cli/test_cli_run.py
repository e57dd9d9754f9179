"""`amlocal run list|show|logs|cancel` on runs written straight into the real store, as the
runner would have left them (no runner process, no Docker)."""
from __future__ import annotations

import json
import os
import threading
import time

import pytest


WS = ["-w", "runws", "-g", "runrg"]
PIPE, STEP, OTHER_STEP, SCRIPT = "pipe-run-1", "step-run-1", "step-run-2", "exp2_1_abcdef12"
TRACEBACK = 'Traceback (most recent call last):\n  File "train.py", line 3\nValueError: boom'


@pytest.fixture
def ws(amlocal):
    """A workspace holding a failed pipeline run (two steps) and a finished script run."""
    assert amlocal("workspace", "create", *WS).exit_code == 0
    from amlocal.core.workspace import Workspace
    from amlocal.pipeline.core.run import PIPELINE_LOG, STD_LOG
    from amlocal.store.entities import MetricRecord, RunInfo
    ws = Workspace.get("runws", resource_group="runrg")
    store = ws._store
    for name in ("exp1", "exp2"):
        store.ensure_experiment(ws._id, name)
    t0, t1 = "2026-01-02T03:04:05.000000Z", "2026-01-02T03:05:35.000000Z"
    t0_next = "2026-01-02T03:04:05.000001Z"  # steps are created in graph order
    store.create_run(RunInfo(id=PIPE, workspace_id=ws._id, experiment="exp1", kind="pipeline",
                             status="Failed", created_at=t0, started_at=t0, ended_at=t1,
                             tags={"team": "risk"},
                             properties={"azureml.pipelineid": "pp-1"}))
    store.create_run(RunInfo(id=STEP, workspace_id=ws._id, experiment="exp1", kind="step",
                             name="prep", parent_id=PIPE, status="Finished", created_at=t0,
                             started_at=t0, ended_at=t0,
                             properties={"amlocal.environment_digest": "d" * 64}))
    store.create_run(RunInfo(id=OTHER_STEP, workspace_id=ws._id, experiment="exp1", kind="step",
                             name="train", parent_id=PIPE, status="Failed", created_at=t0_next,
                             started_at=t0, ended_at=t1,
                             properties={"amlocal.environment_digest": "e" * 64},
                             error={"message": "the script exited with status 1",
                                    "log_tail": TRACEBACK}))
    store.create_run(RunInfo(id=SCRIPT, workspace_id=ws._id, experiment="exp2", kind="script",
                             status="Completed", created_at="2026-01-03T00:00:00.000000Z",
                             started_at="2026-01-03T00:00:00.000000Z",
                             ended_at="2026-01-03T00:00:07.000000Z"))
    store.log_metrics(OTHER_STEP, [MetricRecord("accuracy", "scalar", 0.5),
                                   MetricRecord("accuracy", "scalar", 0.75),
                                   MetricRecord("classes", "list", ["a", "b"])])
    store.append_artifact(STEP, STD_LOG, b"prepared 10 rows\n")
    store.append_artifact(OTHER_STEP, STD_LOG, (TRACEBACK + "\n").encode())
    store.append_artifact(PIPE, PIPELINE_LOG, b"[prep] prepared 10 rows\n[train] ValueError: boom\n")
    store.append_artifact(SCRIPT, STD_LOG, b"hello from a script\n")
    store.append_artifact(OTHER_STEP, "outputs/model.pkl", b"pickle")
    return ws


def test_list_newest_first_with_filters(amlocal, ws):
    runs = json.loads(amlocal("run", "list", *WS, "-o", "json").stdout)
    assert [r["runId"] for r in runs] == [SCRIPT, PIPE]  # top-level only, newest first
    assert runs[1]["type"] == "azureml.PipelineRun" and runs[1]["status"] == "Failed"
    only = json.loads(amlocal("run", "list", "-e", "exp1", *WS, "-o", "json").stdout)
    assert [r["runId"] for r in only] == [PIPE]
    last = json.loads(amlocal("run", "list", "--last", "1", *WS, "-o", "json").stdout)
    assert [r["runId"] for r in last] == [SCRIPT]
    children = json.loads(amlocal("run", "list", "--include-children", *WS, "-o", "json").stdout)
    assert {r["runId"] for r in children} == {PIPE, STEP, OTHER_STEP, SCRIPT}

    table = amlocal("run", "list", *WS)
    rows = {line.split()[0]: line for line in table.stdout.splitlines()[1:]}
    assert "1m 30s" in rows[PIPE] and "Failed" in rows[PIPE]
    assert "7s" in rows[SCRIPT]
    empty = amlocal("run", "list", "-e", "nothing", *WS)
    assert empty.exit_code == 0 and "No runs in experiment 'nothing'" in empty.stdout


def test_show_pipeline_run_with_steps(amlocal, ws):
    data = json.loads(amlocal("run", "show", PIPE, *WS, "-o", "json").stdout)
    assert data["status"] == "Failed" and data["experiment"] == "exp1"
    assert data["tags"] == {"team": "risk"}
    assert data["properties"]["azureml.pipelineid"] == "pp-1"
    assert [(s["displayName"], s["status"]) for s in data["steps"]] == [
        ("prep", "Finished"), ("train", "Failed")]
    assert data["steps"][1]["environmentDigest"] == "e" * 64
    assert data["steps"][1]["error"]["log_tail"] == TRACEBACK

    table = amlocal("run", "show", PIPE, *WS).stdout
    assert "Steps:" in table and "team" in table and "1m 30s" in table
    assert any("train" in line and "Failed" in line and "the script exited with status 1" in line
               for line in table.splitlines())


def test_show_step_run_metrics_files_digest(amlocal, ws):
    data = json.loads(amlocal("run", "show", "-r", OTHER_STEP, *WS, "-o", "json").stdout)
    assert data["metrics"] == {"accuracy": [0.5, 0.75], "classes": ["a", "b"]}
    assert "outputs/model.pkl" in data["files"]
    assert data["environmentDigest"] == "e" * 64
    assert data["parentRunId"] == PIPE and data["type"] == "azureml.StepRun"
    table = amlocal("run", "show", OTHER_STEP, *WS).stdout
    assert "environment digest" in table and "e" * 64 in table
    assert "outputs/model.pkl" in table and "accuracy" in table


def test_show_lookup_errors(amlocal, ws):
    missing = amlocal("run", "show", "no-such-run", *WS)
    assert missing.exit_code == 1 and "no run with id no-such-run" in missing.stderr
    assert "Traceback" not in missing.output
    both = amlocal("run", "show", PIPE, "-r", SCRIPT, *WS)
    assert both.exit_code == 1 and "two run ids" in both.stderr
    none = amlocal("run", "show", *WS)
    assert none.exit_code == 1 and "-r/--run" in none.stderr
    # no -w and no config file: the run's own workspace is used
    implicit = amlocal("run", "show", SCRIPT, "-o", "json")
    assert implicit.exit_code == 0 and json.loads(implicit.stdout)["runId"] == SCRIPT
    # a run of another workspace is not found through this one
    assert amlocal("workspace", "create", "-w", "otherws", "-g", "runrg").exit_code == 0
    elsewhere = amlocal("run", "show", SCRIPT, "-w", "otherws", "-g", "runrg")
    assert elsewhere.exit_code == 1 and "in workspace 'otherws'" in elsewhere.stderr


def test_logs(amlocal, ws):
    pipe = amlocal("run", "logs", PIPE, *WS)
    assert pipe.exit_code == 0
    assert pipe.stdout.splitlines() == ["[prep] prepared 10 rows", "[train] ValueError: boom"]
    step = amlocal("run", "logs", PIPE, "--step", "train", *WS)
    assert step.stdout.rstrip("\n") == TRACEBACK
    assert amlocal("run", "logs", SCRIPT, *WS).stdout == "hello from a script\n"
    assert amlocal("run", "logs", STEP, *WS).stdout == "prepared 10 rows\n"
    wrong = amlocal("run", "logs", PIPE, "--step", "nosuch", *WS)
    assert wrong.exit_code == 1 and "its steps: prep, train" in wrong.stderr
    not_pipe = amlocal("run", "logs", SCRIPT, "--step", "x", *WS)
    assert not_pipe.exit_code == 1 and "not a pipeline run" in not_pipe.stderr


def test_logs_of_pipeline_without_live_log_prefix_step_logs(amlocal, ws):
    from amlocal.store.entities import RunInfo
    from amlocal.pipeline.core.run import STD_LOG
    store = ws._store
    store.create_run(RunInfo(id="p2", workspace_id=ws._id, experiment="exp1", kind="pipeline",
                             status="Finished"))
    store.create_run(RunInfo(id="p2-s", workspace_id=ws._id, experiment="exp1", kind="step",
                             name="only", parent_id="p2", status="Finished"))
    store.append_artifact("p2-s", STD_LOG, b"line one\nline two\n")
    out = amlocal("run", "logs", "p2", *WS)
    assert out.stdout.splitlines() == ["[only] line one", "[only] line two"]


def test_logs_follow_until_the_run_ends(amlocal, ws):
    from amlocal.pipeline.core.run import STD_LOG
    from amlocal.store.entities import RunInfo, utcnow
    store = ws._store
    store.create_run(RunInfo(id="live", workspace_id=ws._id, experiment="exp2", kind="script",
                             status="Running", started_at=utcnow()))
    store.append_artifact("live", STD_LOG, b"epoch 1\n")

    def finish_later():
        time.sleep(0.6)
        store.append_artifact("live", STD_LOG, b"epoch 2\n")
        store.append_artifact("live", STD_LOG, b"partial line without newline")
        store.update_run("live", status="Completed", ended_at=utcnow())

    writer = threading.Thread(target=finish_later)
    writer.start()
    started = time.monotonic()
    followed = amlocal("run", "logs", "live", "-f", *WS)
    writer.join()
    assert followed.exit_code == 0
    assert time.monotonic() - started >= 0.5  # it waited for the run to end
    assert followed.stdout == "epoch 1\nepoch 2\npartial line without newline"


def test_cancel(amlocal, ws):
    from amlocal.store.entities import RunInfo
    store = ws._store
    # a live runner process (this test's own) executes the run: cancel asks it to stop
    store.create_run(RunInfo(id="running-pipe", workspace_id=ws._id, experiment="exp1",
                             kind="pipeline", status="Running",
                             properties={"amlocal.runner_pid": str(os.getpid())}))
    store.create_run(RunInfo(id="running-step", workspace_id=ws._id, experiment="exp1",
                             kind="step", name="s", parent_id="running-pipe", status="Running"))
    step = amlocal("run", "cancel", "running-step", *WS)
    assert step.exit_code == 1 and "amlocal run cancel running-pipe" in step.stderr
    assert store.get_run("running-step").status == "Running"

    canceled = amlocal("run", "cancel", "running-pipe", *WS)
    assert canceled.exit_code == 0 and "Cancel requested" in canceled.stdout
    assert store.get_run("running-pipe").status == "CancelRequested"

    done = amlocal("run", "cancel", PIPE, *WS)
    assert done.exit_code == 0 and "already Failed" in done.stdout
    assert store.get_run(PIPE).status == "Failed"


def test_failure_report_prints_each_failed_step_and_its_traceback(ws, capsys):
    from amlocal.cli.submit import _report_failure
    from amlocal.core.run import Run
    _report_failure(Run._by_id(ws, PIPE), "Failed")
    err = capsys.readouterr().err
    assert "Step 'train' failed: the script exited with status 1" in err
    assert TRACEBACK in err
    assert "prep" not in err  # a finished step is not reported
    assert f"amlocal run logs {PIPE}" in err


def test_output_file_holds_run_details_and_experiment(ws, tmp_path):
    from amlocal.cli.submit import _write_output_file
    from amlocal.core.run import Run
    target = tmp_path / "details.json"
    _write_output_file(str(target), Run._by_id(ws, PIPE), "exp1")
    details = json.loads(target.read_text())
    assert details["runId"] == PIPE and details["status"] == "Failed"
    assert details["_experiment_name"] == "exp1"
    assert details["properties"]["azureml.pipelineid"] == "pp-1"
    from amlocal.errors import UserErrorException
    with pytest.raises(UserErrorException, match="does not exist"):
        _write_output_file(str(tmp_path / "missing" / "d.json"), Run._by_id(ws, PIPE), "exp1")
