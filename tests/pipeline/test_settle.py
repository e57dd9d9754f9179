"""Every run settles: a runner killed with SIGKILL is noticed by any later read of its run (the
run and its steps become Failed, its containers, socket folder and work folders are removed), a
pid reused by another process is not taken for the runner, and an exception inside the runner
leaves no step NotStarted or Running. Real runner processes and containers."""
from __future__ import annotations

import os
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("docker_engine")

STD_LOG = "logs/user_logs/std_log.txt"
WS = ["-w", "testws", "-g", "test-rg"]


def _src(tmp_path, **scripts) -> str:
    folder = tmp_path / "src"
    folder.mkdir(exist_ok=True)
    for name, text in scripts.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(text))
    return str(folder)


def _containers(label: str, value: str) -> list[str]:
    out = subprocess.run(["docker", "ps", "-aq", "--filter", f"label={label}={value}"],
                         capture_output=True, text=True, check=True)
    return out.stdout.split()


def _until(predicate, timeout=180.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def stuck(workspace, tmp_path):
    """A two-step pipeline whose first step sleeps in its container, caught while it runs."""
    from amlocal.pipeline.core import Pipeline, PipelineData
    from amlocal.pipeline.steps import PythonScriptStep
    src = _src(tmp_path, sleepy="""
        import os, sys, time
        os.makedirs(sys.argv[1], exist_ok=True)
        print("sleeping", flush=True)
        time.sleep(300)
    """, after="""
        print("never")
    """)
    data = PipelineData("data")
    first = PythonScriptStep("sleepy.py", name="sleepy", source_directory=src,
                             arguments=[data], outputs=[data])
    second = PythonScriptStep("after.py", name="after", source_directory=src,
                              arguments=[data], inputs=[data])
    run = Pipeline(workspace, [first, second]).submit("settle")
    step = _until(lambda: next((s for s in run.get_steps() if s.name == "sleepy"
                                and s._refresh().status == "Running"), None),
                  what="the first step to run")
    _until(lambda: _containers("amlocal.pipeline_run_id", run.id), what="its container")
    try:
        _until(lambda: b"sleeping" in workspace._store.read_artifact(step.id, STD_LOG),
               what="the step's first line")
        yield run, step
    finally:  # a failed test leaves no runner or container behind
        if run._runner_alive():
            os.kill(int(run._refresh().properties["amlocal.runner_pid"]), signal.SIGKILL)
        leftovers = _containers("amlocal.pipeline_run_id", run.id)
        if leftovers:
            subprocess.run(["docker", "rm", "-f", *leftovers], capture_output=True)


def _kill_runner(run) -> int:
    props = run._refresh().properties
    pid = int(props["amlocal.runner_pid"])
    assert props.get("amlocal.runner_start")  # recorded with the pid (a reused pid is told apart)
    os.kill(pid, signal.SIGKILL)
    _until(lambda: not run._runner_alive(), what="the runner to die")
    return pid


def _assert_settled(workspace, run, step, sock_dir: Path, pid: int) -> None:
    store = workspace._store
    info = store.get_run(run.id)
    assert info.status == "Failed"
    assert "runner process of this run" in info.error["message"]
    assert f"pid {pid}" in info.error["message"]
    steps = {s.name: s for s in store.list_runs(parent_id=run.id)}
    assert {s.status for s in steps.values()} == {"Failed"}
    assert "runner process of this run" in steps["after"].error["message"]
    assert _containers("amlocal.pipeline_run_id", run.id) == []
    assert not sock_dir.exists()
    work = Path(os.environ["AMLOCAL_HOME"]) / "work"
    assert not (work / step.id).exists() and not (work / f"{step.id}-outputs").exists()


def _read_show(workspace, run):
    from click.testing import CliRunner

    from amlocal.cli import cli
    result = CliRunner().invoke(cli, ["run", "show", run.id, *WS], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Failed" in result.output


def _read_list(workspace, run):
    from click.testing import CliRunner

    from amlocal.cli import cli
    result = CliRunner().invoke(cli, ["run", "list", *WS, "-o", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert '"status": "Failed"' in result.output


def _read_status(workspace, run):
    assert run.get_status() == "Failed"


def _read_step_status(workspace, run):
    from amlocal.core.run import Run
    step = next(s for s in workspace._store.list_runs(parent_id=run.id) if s.name == "after")
    assert Run._by_id(workspace, step.id).get_status() == "Failed"


def _read_wait(workspace, run):
    with pytest.raises(Exception, match="runner process of this run"):
        run.wait_for_completion(show_output=False)


def _next_submit(workspace, run):
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import PythonScriptStep
    src = Path(os.environ["AMLOCAL_HOME"]).parent / "quick"
    src.mkdir()
    (src / "quick.py").write_text("print('quick')\n")
    other = Pipeline(workspace, [PythonScriptStep("quick.py", name="quick",
                                                  source_directory=str(src))]).submit("other")
    # the submit itself settled the dead run, before the new runner did anything
    assert workspace._store.get_run(run.id).status == "Failed"
    assert other.wait_for_completion(show_output=False) == "Finished"


@pytest.mark.parametrize("read", [_read_show, _read_list, _read_status, _read_step_status,
                                  _read_wait, _next_submit],
                         ids=["run-show", "run-list", "get_status", "step-get_status",
                              "wait_for_completion", "next-submit"])
def test_kill_9_of_the_runner_is_noticed_and_cleaned_up(workspace, stuck, read):
    run, step = stuck
    sock_dir = Path(run._refresh().properties["amlocal.runner_socket_dir"])
    assert (sock_dir / "run.sock").exists()
    pid = _kill_runner(run)
    # nothing noticed yet: the store still says Running, the container still runs
    assert workspace._store.get_run(run.id).status == "Running"
    assert _containers("amlocal.pipeline_run_id", run.id)
    read(workspace, run)
    _assert_settled(workspace, run, step, sock_dir, pid)


def test_a_reused_pid_is_not_taken_for_the_runner(workspace):
    """After a restart the runner's pid may belong to another process: the recorded start time
    (and boot id) tell them apart."""
    from amlocal.core import Experiment
    from amlocal._engine.settle import process_identity
    live = subprocess.Popen(["sleep", "60"])
    try:
        run = Experiment(workspace, "pid-reuse").start_logging(snapshot_directory=None)
        run.add_properties({"amlocal.runner_pid": str(live.pid),
                            "amlocal.runner_start": process_identity(live.pid)})
        assert run.get_status() == "Running" and run._runner_alive()  # the real runner lives
        other = Experiment(workspace, "pid-reuse").start_logging(snapshot_directory=None)
        # same pid, but a process started at another time (or in another boot): not the runner
        other.add_properties({"amlocal.runner_pid": str(live.pid),
                              "amlocal.runner_start": "an-earlier-boot:12345"})
        assert other.get_status() == "Failed"
        assert "runner process of this run" in workspace._store.get_run(other.id).error["message"]
        assert run.get_status() == "Running"
    finally:
        live.kill()
        live.wait()


def test_a_damaged_graph_is_refused_before_anything_is_recorded(workspace, tmp_path):
    """The run request is typed data: a graph missing a field fails the submission with the
    field named, and no run is recorded."""
    from amlocal._engine.graph import GraphFormatError
    from amlocal.core import Experiment
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.core._freeze import freeze_or_raise
    from amlocal.pipeline.core._submit import launch
    from amlocal.pipeline.steps import PythonScriptStep
    src = _src(tmp_path, a="print('a ran')\n", b="print('b ran')\n")
    steps = [PythonScriptStep(f"{n}.py", name=n, source_directory=src) for n in ("a", "b")]
    graph = freeze_or_raise(Pipeline(workspace, steps))
    del graph["steps"][1]["depends_on"]
    with pytest.raises(GraphFormatError, match="step 'b' has no 'depends_on'"):
        launch(Experiment(workspace, "broken"), graph)
    graph["steps"][1]["depends_on"] = ["ghost"]
    with pytest.raises(GraphFormatError, match="depends on 'ghost'"):
        launch(Experiment(workspace, "broken"), graph)
    assert workspace._store.list_runs(workspace._id) == []


def test_an_exception_in_the_runner_settles_every_step(workspace, tmp_path, monkeypatch):
    """An error of the runner itself (here: a bad AMLOCAL_MAX_PARALLEL_STEPS, read when it
    schedules) leaves no step NotStarted, and says why in the run and its log."""
    from amlocal._status import PIPELINE_LOG
    from amlocal.core import Experiment
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import PythonScriptStep
    src = _src(tmp_path, a="print('a ran')\n", b="print('b ran')\n")
    steps = [PythonScriptStep(f"{n}.py", name=n, source_directory=src) for n in ("a", "b")]
    monkeypatch.setenv("AMLOCAL_MAX_PARALLEL_STEPS", "many")   # the runner inherits it
    run = Experiment(workspace, "broken").submit(Pipeline(workspace, steps))
    assert run.wait_for_completion(show_output=False, raise_on_error=False) == "Failed"
    info = workspace._store.get_run(run.id)
    assert "runner error" in info.error["message"]
    statuses = {s.name: s for s in workspace._store.list_runs(parent_id=run.id)}
    assert {s.status for s in statuses.values()} == {"Canceled"}
    assert all("not run" in s.error["message"] for s in statuses.values())
    log = workspace._store.read_artifact(run.id, PIPELINE_LOG).decode()
    assert "runner error" in log and "ValueError" in log


def test_an_internal_error_in_a_step_fails_that_step(workspace, tmp_path):
    """An unexpected error while preparing one step fails that step (with the error), not the
    runner; the run still ends."""
    from amlocal.core import Experiment
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.core._freeze import freeze_or_raise
    from amlocal.pipeline.core._submit import launch
    from amlocal.pipeline.steps import PythonScriptStep
    src = _src(tmp_path, a="print('a ran')\n")
    graph = freeze_or_raise(Pipeline(workspace, [PythonScriptStep("a.py", name="a",
                                                                  source_directory=src)]))
    graph["steps"][0]["environment"]["pip_packages"] = 5   # not a list: breaks the lock
    run = launch(Experiment(workspace, "broken-step"), graph)
    assert run.wait_for_completion(show_output=False, raise_on_error=False) == "Failed"
    step = workspace._store.list_runs(parent_id=run.id)[0]
    assert step.status == "Failed"
    assert step.error["message"].startswith("internal error while running the step: TypeError")
