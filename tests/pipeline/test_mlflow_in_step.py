"""MLflow inside a step, as on Azure: a step whose environment installs mlflow (the user's
dependency, never the step runtime's) logs with ``mlflow.log_metric``/``log_param``/``set_tag``
and a nested run, and it all lands on the step run (the nested run as its child), through a
loopback proxy over the step's run service, in a sandboxed container without network. One real
container build (mlflow-skinny from PyPI), then the run."""
from __future__ import annotations

import textwrap

import pytest

pytestmark = pytest.mark.usefixtures("docker_engine")

SCRIPT = """
    import sys
    import urllib.error
    import urllib.request

    import mlflow
    from azureml.core import Run

    run = Run.get_context()
    assert mlflow.get_tracking_uri().startswith("http://127.0.0.1:"), mlflow.get_tracking_uri()
    assert run.experiment.workspace.get_mlflow_tracking_uri() == mlflow.get_tracking_uri()
    mlflow.log_param("alpha", 0.5)
    for step, loss in enumerate([0.9, 0.5, 0.25]):
        mlflow.log_metric("loss", loss, step=step)
    mlflow.set_tag("where", "in-step")
    assert mlflow.active_run().info.run_id == run.id
    with mlflow.start_run(nested=True, run_name="inner") as inner:
        mlflow.log_metric("inner_metric", 1.5)
    with open("note.txt", "w") as handle:
        handle.write("from mlflow")
    mlflow.log_artifact("note.txt")
    # the step's boundary holds: another run is refused, and the proxy wants its key
    try:
        mlflow.MlflowClient().log_metric(sys.argv[1], "stolen", 1.0)
        raise SystemExit("a metric on another run was accepted")
    except mlflow.exceptions.MlflowException as exc:
        assert exc.error_code == "PERMISSION_DENIED", exc
    try:
        urllib.request.urlopen(f"{mlflow.get_tracking_uri()}/api/2.0/mlflow/runs/get"
                               f"?run_id={run.id}")
        raise SystemExit("the proxy answered without its key")
    except urllib.error.HTTPError as exc:
        assert exc.code == 401, exc
    print("mlflow logged on", run.id, "child", inner.info.run_id)
"""


def test_mlflow_calls_in_a_step_land_on_the_step_run(workspace, tmp_path):
    from amlocal.core import Environment, Experiment
    from amlocal.core.conda_dependencies import CondaDependencies
    from amlocal.core.runconfig import RunConfiguration
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import PythonScriptStep

    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text(textwrap.dedent(SCRIPT))
    env = Environment("with-mlflow")
    env.python.conda_dependencies = CondaDependencies.create(
        pip_packages=["mlflow-skinny==3.17.2"])
    rc = RunConfiguration()
    rc.environment = env
    rc.docker.sandbox = True          # no network: the proxy is on the step's loopback
    outsider = Experiment(workspace, "elsewhere").start_logging(snapshot_directory=None)
    outsider.complete()
    step = PythonScriptStep("train.py", name="train", source_directory=str(src), runconfig=rc,
                            arguments=[outsider.id], allow_reuse=False)
    run = Pipeline(workspace, [step]).submit("mlflow-in-step")
    status = run.wait_for_completion(show_output=False, raise_on_error=False)
    step_run = run.find_step_run("train")[0]
    log = step_run.get_details_with_logs()
    assert status == "Finished", log
    assert step_run.get_metrics() == {"loss": [0.9, 0.5, 0.25]}
    assert step_run.get_properties()["alpha"] == "0.5"
    assert step_run.get_tags()["where"] == "in-step"
    assert "note.txt" in step_run.get_file_names()
    children = list(step_run.get_children())
    assert [c.name for c in children] == ["inner"]
    assert children[0].get_metrics() == {"inner_metric": 1.5}
    assert children[0].get_status() == "Completed"
    assert step_run.get_status() == "Finished"     # the runner's, not mlflow's end_run
    assert outsider.get_metrics() == {}
