"""The rarer Run methods v1 training code calls: submit_child (from the host, refused inside a
step), the chart metrics (confusion matrix, accuracy table, residuals, predictions), logs,
detailed status, the run's environment, runs by compute, clean-up and secrets. Real runs: a
ScriptRunConfig with a user-managed environment runs on this machine's interpreter (no
container needed), a real store in a fresh AMLOCAL_HOME."""
from __future__ import annotations

import json
import os
import sys
import textwrap

import pytest

from amlocal._cloud_only import CloudOnlyError
from amlocal.errors import UserErrorException

CONFUSION = {"schema_type": "confusion_matrix", "schema_version": "1.0.0",
             "data": {"class_labels": ["0", "1"], "matrix": [[3, 1], [0, 4]]}}
RESIDUALS = {"schema_type": "residuals", "schema_version": "1.0.0",
             "data": {"bin_edges": [50, 100, 200], "bin_counts": [0.88, 20]}}

TRAIN = """
import json, os, sys
from azureml.core import Run, ScriptRunConfig
run = Run.get_context()
run.log_confusion_matrix("cm", json.dumps({confusion!r}))
run.log_residuals("res", {residuals!r})
print("SECRET", run.get_secret("AMLOCAL_TEST_SECRET"))
try:
    run.submit_child(ScriptRunConfig(".", "train.py"))
except Exception as exc:
    print("CHILD REFUSED", type(exc).__name__, exc)
os.makedirs("logs", exist_ok=True)
open("logs/extra.log", "w").write("a log line")
"""


@pytest.fixture
def script(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text(textwrap.dedent(TRAIN.format(confusion=CONFUSION,
                                                               residuals=RESIDUALS)))
    return str(src)


def _config(src, **variables):
    from amlocal.core import Environment, ScriptRunConfig
    env = Environment("notebook")
    env.python.user_managed_dependencies = True
    env.python.interpreter_path = sys.executable
    env.environment_variables = dict(variables)
    return ScriptRunConfig(src, "train.py", environment=env)


def _log(run, workspace) -> str:
    from amlocal.pipeline.core.run import STD_LOG
    return workspace._store.read_artifact(run.id, STD_LOG).decode()


def test_submit_child_runs_a_child_and_a_step_cannot_submit(workspace, script, tmp_path,
                                                            monkeypatch):
    from amlocal.core import Experiment
    exp = Experiment(workspace, "sweep")
    parent = exp.start_logging(snapshot_directory=None)
    child = parent.submit_child(_config(script, AMLOCAL_TEST_SECRET="s3cret"),
                                tags={"trial": "1"})
    assert child.wait_for_completion()["status"] == "Completed"
    assert child.parent.id == parent.id and child.tags["trial"] == "1"
    assert [c.id for c in parent.get_children()] == [child.id]
    log = _log(child, workspace)
    assert "SECRET s3cret" in log                     # get_secret reads the step's variable
    assert "CHILD REFUSED UserErrorException" in log and "run.child_run" in log

    # the chart metrics, written from inside the job through the run service
    metrics = child.get_metrics()
    assert metrics["cm"] == f"aml://artifactId/ExperimentRun/dcid.{child.id}/cm"
    assert metrics["res"] == f"aml://artifactId/ExperimentRun/dcid.{child.id}/res"
    child.download_file("cm", str(tmp_path / "cm.json"))
    assert json.loads((tmp_path / "cm.json").read_text()) == CONFUSION

    # get_environment: the registered-or-recorded definition the run used
    env = child.get_environment()
    assert env.name == "notebook" and env.python.user_managed_dependencies
    assert env.environment_variables == {"AMLOCAL_TEST_SECRET": "s3cret"}
    with pytest.raises(UserErrorException, match="no run definition or environment"):
        parent.get_environment()

    # logs
    monkeypatch.chdir(tmp_path)
    written = child.get_all_logs()
    assert os.path.join("assets", child.id, "logs", "extra.log") in written
    assert all(os.path.isfile(p) for p in written)
    assert open(os.path.join("assets", child.id, "logs", "extra.log")).read() == "a log line"
    target = tmp_path / "mylogs"
    assert child.get_all_logs(str(target)) == [str(target / os.path.relpath(p, os.path.join(
        "assets", child.id))) for p in written]
    (tmp_path / "afile").write_text("x")
    with pytest.raises(UserErrorException, match="is not a directory"):
        child.get_all_logs(str(tmp_path / "afile"))
    assert child.get_detailed_status() == {"status": "Completed", "details": None}
    parent.complete()


def test_chart_metrics_on_the_host_and_bad_values(workspace, tmp_path):
    from amlocal.core import Experiment
    run = Experiment(workspace, "charts").start_logging(snapshot_directory=None)
    table = {"schema_type": "accuracy_table", "schema_version": "1.0.1",
             "data": {"probability_tables": [[[1, 0, 1, 0]]], "percentile_tables": [[[1, 0, 1, 0]]],
                      "probability_thresholds": [0.5], "percentile_thresholds": [0.5],
                      "class_labels": ["0"]}}
    run.log_accuracy_table("acc_table", table)
    predictions = {"schema_type": "predictions", "schema_version": "1.0.0",
                   "data": {"bin_averages": [0.25], "bin_errors": [0.01], "bin_counts": [5],
                            "bin_edges": [0.0, 0.5]}}
    run.log_predictions("preds", json.dumps(predictions))
    run.log("plain", 1)
    metrics = run.get_metrics()
    assert metrics["plain"] == 1
    assert metrics["acc_table"].endswith(f"dcid.{run.id}/acc_table")
    assert metrics["preds"].endswith(f"dcid.{run.id}/preds")
    assert json.loads(workspace._store.read_artifact(run.id, "preds")) == predictions
    with pytest.raises(UserErrorException, match="Invalid JSON provided"):
        run.log_confusion_matrix("cm", "{not json")
    with pytest.raises(UserErrorException, match="takes a JSON object"):
        run.log_residuals("r", [1, 2])
    assert "cm" not in run.get_metrics() and "r" not in run.get_metrics()
    assert run.get_detailed_status() == {"status": "Running", "details": None}
    run.complete()


def test_list_by_compute_and_clean(workspace, script, tmp_path):
    from amlocal import _settings
    from amlocal.core import ComputeTarget, Experiment, Run
    from amlocal.core.compute import AmlCompute
    exp = Experiment(workspace, "bycompute")
    run = exp.submit(_config(script, AMLOCAL_TEST_SECRET="x"))
    run.wait_for_completion()
    interactive = exp.start_logging(snapshot_directory=None)   # target "local" too
    ComputeTarget.create(workspace, "cpu", AmlCompute.provisioning_configuration())
    local = type("Target", (), {"workspace": workspace, "name": "local"})()
    found = list(Run.list_by_compute(local))
    assert [r.id for r in found] == [interactive.id, run.id]
    assert [r.id for r in Run.list_by_compute(local, status="Completed")] == [run.id]
    assert [r.id for r in Run.list_by_compute(local, type="azureml.scriptrun")] == [
        interactive.id, run.id]
    assert list(Run.list_by_compute(workspace.compute_targets["cpu"])) == []

    # clean: refused while running; removes what an interrupted run left under work/
    with pytest.raises(UserErrorException, match="cancel it or wait"):
        interactive.clean()
    interactive.complete()
    leftover = _settings.current().home / "work" / run.id
    (leftover / "sub").mkdir(parents=True)
    (leftover / "sub" / "f.txt").write_text("x")
    assert run.clean() == [str(leftover / "sub" / "f.txt")]
    assert not leftover.exists() and run.clean() == []


def test_secrets_submitted_run_and_type_providers(workspace, monkeypatch):
    from amlocal.core import Experiment, Run
    from amlocal.errors import RunEnvironmentException
    run = Experiment(workspace, "secrets").start_logging(snapshot_directory=None)
    monkeypatch.setenv("DB_PASSWORD", "pw")
    assert run.get_secret("DB_PASSWORD") == "pw"
    assert run.get_secrets(["DB_PASSWORD", "MISSING_ONE"]) == {"DB_PASSWORD": "pw",
                                                                "MISSING_ONE": None}
    with pytest.raises(UserErrorException, match="MISSING_ONE.*environment_variables"):
        run.get_secret("MISSING_ONE")
    with pytest.raises(RunEnvironmentException):   # deprecated: get_context(allow_offline=False)
        Run.get_submitted_run()
    with pytest.raises(CloudOnlyError, match="azureml.scriptrun"):
        Run.add_type_provider("hyperdrive", lambda experiment, dto: None)
    run.complete()


def test_a_step_runs_environment_is_its_registered_version(workspace, tmp_path):
    from amlocal.core import ComputeTarget, Environment, Experiment
    from amlocal.core.compute import AmlCompute
    from amlocal.core.runconfig import RunConfiguration
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import PythonScriptStep
    src = tmp_path / "step"
    src.mkdir()
    (src / "s.py").write_text("print('step ran')\n")
    target = ComputeTarget.create(workspace, "debug",
                                  AmlCompute.provisioning_configuration(kind="local"))
    env = Environment("stepenv")
    env.python.user_managed_dependencies = True
    env.python.interpreter_path = sys.executable
    env.register(workspace)
    env.environment_variables = {"CHANGED": "1"}
    env.register(workspace)                          # version 2, which the step uses
    rc = RunConfiguration()
    rc.environment = env
    step = PythonScriptStep("s.py", source_directory=str(src), compute_target=target, runconfig=rc)
    run = Experiment(workspace, "steps").submit(Pipeline(workspace, [step]))
    run.wait_for_completion()
    step_run = next(iter(run.get_children()))
    used = step_run.get_environment()
    assert (used.name, used.version) == ("stepenv", "2")
    assert used.environment_variables == {"CHANGED": "1"}
    with pytest.raises(UserErrorException, match="no run definition or environment"):
        run.get_environment()
    written = step_run.get_all_logs(str(tmp_path / "logs"))
    assert any(p.endswith("std_log.txt") and "step ran" in open(p).read() for p in written)
