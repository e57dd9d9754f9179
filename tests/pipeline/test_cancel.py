"""Statuses set from outside a submitted run stand: ``cancel()`` right after ``submit()``,
``fail()``/``complete()`` on a running run, and a job's own ``complete()/fail()/cancel()`` that
do not set its status. Real runner processes and containers."""
from __future__ import annotations

import os
import subprocess
import textwrap
import time
import zipfile

import pytest

pytestmark = pytest.mark.usefixtures("docker_engine")

TERMINAL = ("Completed", "Failed", "Canceled", "Finished")


def _write(folder, name, text):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(text))


def _config(src, script):
    from amlocal.core import ScriptRunConfig
    from amlocal.core.runconfig import DockerConfiguration
    return ScriptRunConfig(source_directory=str(src), script=script,
                           docker_runtime_config=DockerConfiguration(use_docker=True))


def _runner_gone(run, timeout=120.0) -> None:
    """Wait until the run's runner process has ended (it writes the run's last status)."""
    deadline = time.monotonic() + timeout
    while run._runner_alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not run._runner_alive()


def _leftover_containers(run_id) -> list[str]:
    out = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=amlocal.run_id={run_id}"],
                         capture_output=True, text=True, check=True)
    return out.stdout.split()


@pytest.fixture
def sleepy(tmp_path):
    src = tmp_path / "src"
    _write(src, "sleepy.py", """
        import time
        print("sleeping", flush=True)
        time.sleep(60)
        print("woke up")
    """)
    return src


def test_cancel_right_after_submit_is_honoured(workspace, sleepy):
    from amlocal.core import Experiment
    from amlocal.core.script_run import ScriptRun
    run = Experiment(workspace, "cancels").submit(_config(sleepy, "sleepy.py"))
    assert isinstance(run, ScriptRun) and run.type == "azureml.scriptrun"
    run.cancel()
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Canceled"
    _runner_gone(run)
    assert run.get_status() == "Canceled"
    assert "woke up" not in run.get_details_with_logs()["logFiles"].get(
        "logs/user_logs/std_log.txt", "")
    assert _leftover_containers(run.id) == []


def test_fail_and_complete_from_outside_are_not_overwritten(workspace, sleepy):
    from amlocal.core import Experiment
    exp = Experiment(workspace, "decided")
    failed = exp.submit(_config(sleepy, "sleepy.py"))
    failed.fail("stopped by the user")
    assert failed.wait_for_completion(raise_on_error=False)["status"] == "Failed"
    completed = exp.submit(_config(sleepy, "sleepy.py"))
    deadline = time.monotonic() + 120
    while "sleeping" not in completed.get_details_with_logs()["logFiles"].get(
            "logs/user_logs/std_log.txt", "") and time.monotonic() < deadline:
        time.sleep(0.2)
    completed.complete()  # while its script runs
    for run, status in ((failed, "Failed"), (completed, "Completed")):
        _runner_gone(run)
        assert run.get_status() == status
        assert _leftover_containers(run.id) == []
    assert failed.get_details()["error"]["message"] == "stopped by the user"
    # the snapshot the run executed, as Azure's restore_snapshot gives it
    names = zipfile.ZipFile(failed.restore_snapshot(path=str(sleepy.parent / "snap"))).namelist()
    assert names == ["sleepy.py"]


def test_cancel_right_after_submitting_a_pipeline(workspace, sleepy):
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import PythonScriptStep
    run = Pipeline(workspace, [PythonScriptStep("sleepy.py", name="sleepy",
                                                source_directory=str(sleepy))]).submit("cancels")
    run.cancel()
    assert run.wait_for_completion(show_output=False, raise_on_error=False) == "Canceled"
    _runner_gone(run)
    assert run.get_status() == "Canceled"
    assert [s.get_status() for s in run.get_steps()] == ["Canceled"]


def test_a_job_does_not_set_its_own_status(workspace, tmp_path):
    """Inside a job ``complete()``/``fail()`` only flush and ``cancel()`` warns: the exit code
    decides (0 here, so Completed)."""
    from amlocal.core import Experiment
    src = tmp_path / "src"
    _write(src, "selfish.py", """
        import warnings
        from azureml.core import Run
        run = Run.get_context()
        run.log("m", 1)
        run.fail("I give up")
        run.complete()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run.cancel()
        print("WARNED", [str(w.message)[:40] for w in caught])
        print("STATUS", run.get_status())
        with run:
            pass
    """)
    run = Experiment(workspace, "selfish").submit(_config(src, "selfish.py"))
    details = run.wait_for_completion(show_output=True)
    assert details["status"] == "Completed"
    log = run.get_details_with_logs()["logFiles"]["logs/user_logs/std_log.txt"]
    assert "WARNED ['cancel is not supported for submitted ru']" in log
    assert "STATUS Running" in log
    assert run.get_metrics() == {"m": 1}
    assert run.get_snapshot_id() == run.get_properties()["ContentSnapshotId"]
    assert os.path.basename(run.restore_snapshot(path=str(tmp_path))) == \
        f"{run.get_snapshot_id()}.zip"
