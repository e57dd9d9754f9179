"""MLflow tracking on the studio server, with the real mlflow client against a real server
process (``ws.get_mlflow_tracking_uri()`` starts it): what mlflow logs is read back through
amlocal (``Run``, ``get_metrics()``, tags, properties, files, ``amlocal run show``), writes need a
key, errors come in MLflow's shape."""
from __future__ import annotations

import json

import httpx
import pytest

mlflow = pytest.importorskip("mlflow")

MLFLOW_VARS = ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_TOKEN", "MLFLOW_RUN_ID",
               "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME")


@pytest.fixture
def tracking(workspace, monkeypatch):
    """The workspace's tracking URI set on the mlflow client; mlflow's process-wide state (its
    URI, active experiment and runs, the variables it and amlocal set) is undone at the end."""
    from mlflow.tracking import fluent
    from mlflow.tracking._tracking_service import utils
    for var in MLFLOW_VARS:
        monkeypatch.setenv(var, "")    # recorded, so whatever is set later is undone
        monkeypatch.delenv(var)
    monkeypatch.setattr(utils, "_tracking_uri", None)
    monkeypatch.setattr(fluent, "_active_experiment_id", None)
    uri = workspace.get_mlflow_tracking_uri()
    mlflow.set_tracking_uri(uri)
    yield uri
    while mlflow.active_run() is not None:
        mlflow.end_run()


def _run(workspace, experiment: str, run_id: str):
    from amlocal.core import Experiment, Run
    return Run(Experiment(workspace, experiment), run_id)


def test_the_mlflow_client_records_into_amlocal_runs(workspace, tracking, tmp_path, home):
    import os

    from click.testing import CliRunner
    from mlflow.entities import Metric, Param, RunTag

    from amlocal.cli import cli
    from amlocal.core import Experiment

    assert tracking.startswith("http://127.0.0.1:")
    assert tracking.endswith("/workspaces/testws")
    assert os.environ["MLFLOW_TRACKING_TOKEN"].startswith("aml_")   # the home's client key

    experiment = mlflow.set_experiment("mlflow-experiment")
    (tmp_path / "notes.txt").write_text("what the model saw\n")
    with mlflow.start_run(run_name="outer") as outer:
        for step, loss in enumerate([0.9, 0.5, 0.25]):
            mlflow.log_metric("loss", loss, step=step)
        mlflow.log_param("alpha", 0.5)
        mlflow.set_tag("team", "vision")
        mlflow.MlflowClient().log_batch(
            outer.info.run_id, metrics=[Metric("acc", 0.75, 1_700_000_000_000, 3)],
            params=[Param("layers", "4")], tags=[RunTag("stage", "dev")])
        mlflow.log_artifact(str(tmp_path / "notes.txt"))
        mlflow.log_artifact(str(tmp_path / "notes.txt"), artifact_path="reports")
        with mlflow.start_run(run_name="inner", nested=True) as inner:
            mlflow.log_metric("inner_metric", 1.5)
    assert outer.info.experiment_id == experiment.experiment_id
    assert outer.info.artifact_uri == f"mlflow-artifacts:/{outer.info.run_id}"

    run = _run(workspace, "mlflow-experiment", outer.info.run_id)
    assert run.get_status() == "Completed"
    assert run.name == "outer"
    assert run.get_metrics() == {"loss": [0.9, 0.5, 0.25], "acc": 0.75}
    records = {r.name: r for r in workspace._store.get_metric_records(run.id)}
    assert records["acc"].step == 3 and records["acc"].created_at.startswith("2023-11-14T22:13:20")
    assert [r.step for r in workspace._store.get_metric_records(run.id)
            if r.name == "loss"] == [0, 1, 2]
    assert run.get_tags()["team"] == "vision" and run.get_tags()["stage"] == "dev"
    assert run.get_properties()["alpha"] == "0.5" and run.get_properties()["layers"] == "4"
    assert sorted(run.get_file_names()) == ["notes.txt", "reports/notes.txt"]
    run.download_file("reports/notes.txt", str(tmp_path / "back.txt"))
    assert (tmp_path / "back.txt").read_text() == "what the model saw\n"

    children = list(run.get_children())
    assert [c.id for c in children] == [inner.info.run_id]
    assert children[0].get_metrics() == {"inner_metric": 1.5}
    assert children[0].get_status() == "Completed"
    assert {r.id for r in Experiment(workspace, "mlflow-experiment").get_runs()} >= {run.id}

    # and back through mlflow: the same run, its params, latest metrics and history
    fetched = mlflow.get_run(run.id)
    assert fetched.data.params == {"alpha": "0.5", "layers": "4"}
    assert fetched.data.metrics == {"loss": 0.25, "acc": 0.75}
    assert fetched.info.status == "FINISHED" and fetched.info.run_name == "outer"
    history = mlflow.MlflowClient().get_metric_history(run.id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 0.9), (1, 0.5), (2, 0.25)]
    assert mlflow.get_run(inner.info.run_id).data.tags["mlflow.parentRunId"] == run.id
    found = mlflow.search_runs(experiment_names=["mlflow-experiment"],
                               filter_string="metrics.loss < 0.5 and params.alpha = '0.5'")
    assert list(found["run_id"]) == [run.id]
    downloaded = mlflow.artifacts.download_artifacts(run_id=run.id, dst_path=str(tmp_path / "dl"))
    assert sorted(p.relative_to(downloaded).as_posix()
                  for p in __import__("pathlib").Path(downloaded).rglob("*") if p.is_file()) \
        == ["notes.txt", "reports/notes.txt"]

    shown = CliRunner().invoke(cli, ["run", "show", run.id, "-o", "json"],
                               catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    assert data["runId"] == run.id and data["status"] == "Completed"
    assert data["metrics"]["loss"] == [0.9, 0.5, 0.25]


def test_mlflow_reads_amlocal_runs_and_maps_statuses(workspace, tracking):
    """A run logged the v1 way is an MLflow run too; end_run's FAILED and KILLED are Azure's
    Failed and Canceled."""
    from amlocal.core import Experiment
    exp = Experiment(workspace, "v1-runs")
    v1 = exp.start_logging(snapshot_directory=None)
    v1.log("rmse", 0.3)
    v1.log_list("not-a-scalar", [1, 2])
    v1.add_properties({"kind": "baseline"})
    v1.complete()
    fetched = mlflow.get_run(v1.id)
    assert fetched.data.metrics == {"rmse": 0.3}          # lists are not MLflow metrics
    assert fetched.data.params == {"kind": "baseline"}
    assert fetched.info.status == "FINISHED"
    assert fetched.info.experiment_id == mlflow.get_experiment_by_name("v1-runs").experiment_id

    mlflow.set_experiment("v1-runs")
    for status, azure in (("FAILED", "Failed"), ("KILLED", "Canceled")):
        with mlflow.start_run() as active:
            mlflow.log_metric("m", 1)
        mlflow.MlflowClient().set_terminated(active.info.run_id, status)
        assert _run(workspace, "v1-runs", active.info.run_id).get_status() == azure
        assert mlflow.get_run(active.info.run_id).info.status == status
    with pytest.raises(mlflow.exceptions.MlflowException) as error:
        with mlflow.start_run():
            raise mlflow.exceptions.MlflowException("boom")
    failed = mlflow.search_runs(experiment_names=["v1-runs"],
                                filter_string="attributes.status = 'FAILED'")
    assert len(failed) == 2 and "boom" in str(error.value)


def test_the_default_experiment_and_the_home_uri(workspace, tracking, studio):
    """Without set_experiment runs land in experiment Default (MLflow's id "0");
    ``<server>/mlflow`` serves the home's only workspace, and says what to use when there are
    several."""
    with mlflow.start_run() as run:
        mlflow.log_metric("x", 2.0)
    assert run.info.experiment_id == "0"
    assert _run(workspace, "Default", run.info.run_id).get_metrics() == {"x": 2.0}

    short = studio.get("/mlflow/api/2.0/mlflow/runs/get", params={"run_id": run.info.run_id})
    assert short.status_code == 200 and short.json()["run"]["info"]["run_id"] == run.info.run_id
    from amlocal.core import Workspace
    Workspace("00000000-0000-0000-0000-000000000000", "test-rg", "otherws")
    several = studio.get("/mlflow/api/2.0/mlflow/runs/get", params={"run_id": run.info.run_id})
    assert several.status_code == 400
    assert "2 workspaces" in several.json()["message"]
    assert "get_mlflow_tracking_uri" in several.json()["message"]


def test_writes_need_a_key_and_reads_follow_the_read_rule(workspace, tracking, monkeypatch):
    mlflow.set_experiment("keyed")                     # with the client key: made
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "aml_not-a-key")
    with pytest.raises(mlflow.exceptions.MlflowException) as refused:
        mlflow.MlflowClient().create_experiment("unkeyed")
    assert "401" in str(refused.value) or "UNAUTHENTICATED" in str(refused.value)
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN")
    with pytest.raises(mlflow.exceptions.MlflowException):
        mlflow.MlflowClient().create_experiment("unkeyed")
    assert mlflow.get_experiment_by_name("unkeyed") is None     # nothing was made
    assert mlflow.get_experiment_by_name("keyed").name == "keyed"  # reads need no key here

    bare = httpx.post(f"{tracking}/api/2.0/mlflow/runs/create", json={"experiment_id": "0"},
                      timeout=30)
    assert bare.status_code == 401
    assert bare.json()["error_code"] == "UNAUTHENTICATED"
    assert bare.headers["www-authenticate"] == "Bearer"
    put = httpx.put(f"{tracking}/api/2.0/mlflow-artifacts/artifacts/x/file.txt", content=b"1",
                    timeout=30)
    assert put.status_code == 401


def test_errors_come_in_mlflow_shape(workspace, tracking):
    from amlocal.store import open_store
    key = {"Authorization": f"Bearer {__import__('os').environ['MLFLOW_TRACKING_TOKEN']}"}
    api = f"{tracking}/api/2.0/mlflow"
    with pytest.raises(mlflow.exceptions.MlflowException) as missing:
        mlflow.get_run("0123456789abcdef")
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    answer = httpx.get(f"{api}/experiments/get", params={"experiment_id": "nope"}, timeout=30)
    assert answer.status_code == 404
    assert answer.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"

    with mlflow.start_run() as run:
        mlflow.log_param("lr", "0.1")
        with pytest.raises(mlflow.exceptions.MlflowException) as changed:
            mlflow.log_param("lr", "0.2")
        assert changed.value.error_code == "INVALID_PARAMETER_VALUE"
        mlflow.log_param("lr", "0.1")                   # the same value again is fine
    assert open_store().get_run(run.info.run_id).properties["lr"] == "0.1"

    for body, status, code in (
            (b"{not json", 400, "MALFORMED_REQUEST"),
            (b"[1, 2]", 400, "MALFORMED_REQUEST"),
            (json.dumps({"run_id": run.info.run_id, "key": "m", "value": "high"}).encode(),
             400, "INVALID_PARAMETER_VALUE"),
            (json.dumps({"key": "m", "value": 1}).encode(), 400, "INVALID_PARAMETER_VALUE")):
        answer = httpx.post(f"{api}/runs/log-metric", content=body, headers=key, timeout=30)
        assert (answer.status_code, answer.json()["error_code"]) == (status, code), answer.text
    unknown = httpx.post(f"{api}/runs/delete", json={"run_id": run.info.run_id}, headers=key,
                         timeout=30)
    assert unknown.status_code == 404 and unknown.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    sneaky = httpx.put(f"{tracking}/api/2.0/mlflow-artifacts/artifacts/{run.info.run_id}/"
                       "..%2F..%2Fescape.txt", content=b"x", headers=key, timeout=30)
    assert sneaky.status_code == 400, sneaky.text
    assert open_store().list_artifacts(run.info.run_id) == []
    bad_filter = httpx.post(f"{api}/runs/search", json={"experiment_ids": ["0"],
                                                        "filter": "metrics.m ~ 3"},
                            headers=key, timeout=30)
    assert bad_filter.status_code == 400 and "joined with AND" in bad_filter.json()["message"]


BAD_VALUES = (None, [{"key": None}], {"a": 1}, True, 10 ** 30, "NaN", "x" * 700,
              "../../etc/passwd", "metrics.a > 1 and \u0000")
KEYS = ("experiment_name", "name", "key", "value", "step", "timestamp", "metrics", "params",
        "tags", "start_time", "end_time", "status", "run_name", "filter", "order_by",
        "max_results", "page_token", "view_type", "run_view_type", "experiment_ids",
        "metric_key", "user_id", "path", "artifact_location")


def test_no_value_in_any_field_makes_a_server_error(workspace, tracking):
    """Every route of the MLflow API, with every field given each of a set of odd values (and
    with valid ids, so the handlers get past the lookups): answers are 2xx or 4xx in MLflow's
    error shape, never 5xx."""
    import os

    from amlocal._engine.mlflow_tracking import Tracking
    with mlflow.start_run() as run:
        mlflow.log_metric("m", 1.0)
    experiment = run.info.experiment_id
    routes = Tracking(None, "").routes()
    headers = {"Authorization": f"Bearer {os.environ['MLFLOW_TRACKING_TOKEN']}"}
    with httpx.Client(headers=headers, timeout=60) as client:
        for method, route in routes:
            for bad in BAD_VALUES:
                for body in ({"run_id": run.info.run_id, "experiment_id": experiment,
                              **{k: bad for k in KEYS}},
                             {"run_id": bad, "run_uuid": bad, "experiment_id": bad}):
                    url = f"{tracking}/api/2.0/{route}"
                    answer = (client.get(url, params={k: str(v) for k, v in body.items()})
                              if method == "GET" else client.request(method, url, json=body))
                    assert answer.status_code < 500, (method, route, body, answer.text)
                    if answer.status_code >= 400:
                        assert {"error_code", "message"} <= set(answer.json()), answer.text
        for path in ("", f"?path={run.info.run_id}/..", f"/{run.info.run_id}",
                     f"/{run.info.run_id}/%00", "/nope/file.txt"):
            for method in ("GET", "PUT", "DELETE"):
                answer = client.request(method, f"{tracking}/api/2.0/mlflow-artifacts/artifacts"
                                        f"{path}", content=b"x")
                assert answer.status_code < 500, (method, path, answer.text)
