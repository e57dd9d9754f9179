"""The MLflow proxy of the step runtime, in a REAL separate step process (``python -m
amlocal._runtime.entry``, as a runner starts a step) over a real run service, with the real mlflow
client (installed on this machine, so the step entry finds it): what the script logs lands on
its step run, runs it starts are child runs, and the step API's limits hold."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap

import pytest

pytest.importorskip("mlflow")

from amlocal.runservice import RunService  # noqa: E402
from amlocal.store.entities import RunInfo  # noqa: E402

SCRIPT = """
    import json, os, sys
    import mlflow

    seen = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID",
                                           "MLFLOW_EXPERIMENT_NAME")}
    mlflow.log_param("alpha", "0.5")
    mlflow.log_metric("loss", 0.5, step=1)
    mlflow.log_metric("loss", 0.25, step=2)
    mlflow.set_tag("where", "proxy")
    mlflow.log_dict({"a": 1}, "config/settings.json")
    step_run = mlflow.active_run().info.run_id
    with mlflow.start_run(nested=True, run_name="child") as child:
        mlflow.log_metric("child_metric", 3.0)
        try:
            with mlflow.start_run(nested=True):
                pass
            grandchild = "allowed"
        except mlflow.exceptions.MlflowException as exc:
            grandchild = exc.error_code
    mlflow.end_run()
    with mlflow.start_run(run_name="second") as second:   # not nested: still the step's child
        mlflow.log_metric("second_metric", 4.0)
    try:
        mlflow.MlflowClient().set_tag(sys.argv[1], "stolen", "yes")
        other = "allowed"
    except mlflow.exceptions.MlflowException as exc:
        other = exc.error_code
    print(json.dumps({"seen": seen, "step_run": step_run, "child": child.info.run_id,
                      "second": second.info.run_id, "grandchild": grandchild,
                      "other": other}))
"""


@pytest.fixture
def host(tmp_path, monkeypatch):
    monkeypatch.setenv("AMLOCAL_HOME", str(tmp_path / "home"))
    for var in ("AMLOCAL_STORE_URL", "AZUREML_RUN_ID", "AMLOCAL_RUN_SERVICE", "AZUREML_RUN_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    from amlocal.core.workspace import Workspace
    ws = Workspace("sub", "rg", "ws1")
    ws._store.create_run(RunInfo(id="pipeline-run-1", workspace_id=ws._id, experiment="exp",
                                 kind="pipeline", status="Running"))
    ws._store.create_run(RunInfo(id="step-run-1", workspace_id=ws._id, experiment="exp",
                                 kind="step", status="Running", parent_id="pipeline-run-1"))
    ws._store.create_run(RunInfo(id="other-run", workspace_id=ws._id, experiment="exp",
                                 kind="script"))
    folder = tempfile.mkdtemp(prefix="amlrs-", dir="/tmp")
    with RunService(ws._store, socket_path=os.path.join(folder, "run.sock")) as service:
        yield ws, service
    shutil.rmtree(folder, ignore_errors=True)


def test_mlflow_in_a_step_process_records_on_its_step_run(host, tmp_path):
    import json
    ws, service = host
    workdir = tmp_path / "wd"
    workdir.mkdir()
    (workdir / "train.py").write_text(textwrap.dedent(SCRIPT))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AMLOCAL_", "AZUREML_", "MLFLOW_"))}
    env.update({"AZUREML_RUN_ID": "step-run-1", "AZUREML_RUN_TOKEN": service.grant("step-run-1"),
                "AMLOCAL_RUN_SERVICE": service.url, "AZUREML_ARM_SUBSCRIPTION": "sub",
                "AZUREML_ARM_RESOURCEGROUP": "rg", "AZUREML_ARM_WORKSPACE_NAME": "ws1",
                "AZUREML_ARM_PROJECT_NAME": "exp",
                "AMLOCAL_HOME": str(tmp_path / "step-home-never-created")})
    done = subprocess.run([sys.executable, "-m", "amlocal._runtime.entry", "train.py",
                           "other-run"], cwd=workdir, capture_output=True, text=True,
                          timeout=180, env=env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["seen"]["MLFLOW_TRACKING_URI"].startswith("http://127.0.0.1:")
    assert result["seen"]["MLFLOW_RUN_ID"] == "step-run-1"
    assert result["seen"]["MLFLOW_EXPERIMENT_NAME"] == "exp"
    assert result["step_run"] == "step-run-1"
    assert result["grandchild"] == "PERMISSION_DENIED"   # a step makes its own children only
    assert result["other"] == "PERMISSION_DENIED"

    store = ws._store
    step = store.get_run("step-run-1")
    assert step.status == "Running"                      # the runner's to set, not end_run's
    assert step.properties["alpha"] == "0.5" and step.tags["where"] == "proxy"
    assert [(r.name, r.value, r.step) for r in store.get_metric_records("step-run-1")] == [
        ("loss", 0.5, 1), ("loss", 0.25, 2)]
    assert store.list_artifacts("step-run-1") == ["config/settings.json"]
    children = {r.name: r for r in store.list_runs(parent_id="step-run-1")}
    assert set(children) == {"child", "second"}
    assert children["child"].id == result["child"] and children["second"].id == result["second"]
    assert {r.status for r in children.values()} == {"Completed"}
    assert all(r.experiment == "exp" and r.kind == "script" for r in children.values())
    assert [r.value for r in store.get_metric_records(result["child"])] == [3.0]
    assert store.get_run("other-run").tags == {}
    assert not (tmp_path / "step-home-never-created").exists()
