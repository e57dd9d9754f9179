"""The read API (``/api/v1``) of a real server process over real runs: one pipeline run of one
tiny step in a Docker container (submitted once for the module), a published pipeline, a model,
a dataset, an environment and a few host-side script runs for paging."""
from __future__ import annotations

import textwrap
from datetime import datetime, timedelta
from urllib.parse import quote

import httpx
import pytest

SCRIPT = """
    import os, sys
    from azureml.core import Run
    run = Run.get_context()
    for i in range(3):
        print(f"hello {i}", flush=True)
    run.log("acc", 0.5)
    run.log("acc", 0.75)
    run.log("loss", 0.25)
    run.log_row("row", a=1, b=2)
    run.log_table("table", {"x": [1, 2], "y": [3, 4]})
    os.makedirs("outputs", exist_ok=True)
    open("outputs/model.txt", "w").write("the model")
    os.makedirs(sys.argv[2], exist_ok=True)
    open(os.path.join(sys.argv[2], "result.txt"), "w").write("42")
"""


@pytest.fixture(scope="module")
def world(studio_module, docker_engine, tmp_path_factory):
    """Everything the tests read, made once: (studio, workspace, pipeline run, step run id,
    published pipeline, script runs oldest first)."""
    from amlocal.core import Dataset, Environment, Experiment, Model, Workspace
    from amlocal.pipeline.core import Pipeline, PipelineData
    from amlocal.pipeline.steps import PythonScriptStep

    src = tmp_path_factory.mktemp("read-api-src")
    (src / "train.py").write_text(textwrap.dedent(SCRIPT))
    ws = Workspace("00000000-0000-0000-0000-000000000000", "read-rg", "readws")
    result = PipelineData("result", datastore=ws.get_default_datastore())
    step = PythonScriptStep("train.py", name="train", source_directory=str(src),
                            arguments=["--out", result], outputs=[result], allow_reuse=False)
    pipeline = Pipeline(ws, [step])
    run = pipeline.submit("read-api")
    published = pipeline.publish(name="read-pipeline", description="for the read API")
    scripts = []
    for i in range(5):
        script = Experiment(ws, "paging").start_logging(snapshot_directory=None)
        script.log("i", i)
        script.complete()
        scripts.append(script.id)
    model_file = src / "model.pkl"
    model_file.write_text("weights")
    Model.register(ws, str(model_file), "read-model")
    Model.register(ws, str(model_file), "read-model", tags={"v": "2"})
    ds = ws.get_default_datastore()
    ds.upload_files([str(model_file)], target_path="data", overwrite=True, show_progress=False)
    Dataset.File.from_files(ds.path("data")).register(ws, "read-data")
    Environment("read-env").register(ws)
    assert run.wait_for_completion(show_output=False) == "Finished"
    step_id = run.find_step_run("train")[0].id
    return studio_module, ws, run, step_id, published, scripts


def _ok(response: httpx.Response):
    assert response.status_code == 200, response.text
    return response.json()


def test_workspaces(world):
    studio, ws, *_ = world
    listed = _ok(studio.get("/api/v1/workspaces", auth=False))
    assert [w["name"] for w in listed] == ["readws"]
    assert listed[0]["id"] == ws._id and listed[0]["resourceGroup"] == "read-rg"
    assert _ok(studio.get(f"/api/v1/workspaces/{ws._id}")) == listed[0]
    assert _ok(studio.get("/api/v1/workspaces/readws")) == listed[0]
    missing = studio.get("/api/v1/workspaces/nope")
    assert missing.status_code == 404 and "GET /api/v1/workspaces" in missing.json()["detail"]


def test_experiments(world):
    studio, ws, *_ = world
    names = [e["name"] for e in _ok(studio.get(f"/api/v1/workspaces/{ws._id}/experiments"))]
    assert {"read-api", "paging"} <= set(names)
    one = _ok(studio.get(f"/api/v1/workspaces/{ws._id}/experiments/read-api"))
    assert one["name"] == "read-api" and one["archived"] is False
    assert studio.get(f"/api/v1/workspaces/{ws._id}/experiments/nope").status_code == 404


def test_runs_filters(world):
    studio, ws, run, step_id, _, scripts = world
    base = f"/api/v1/workspaces/{ws._id}/runs"
    top_level = _ok(studio.get(base, params={"experiment": "read-api"}))
    assert [r["runId"] for r in top_level["value"]] == [run.id] and top_level["count"] == 1
    assert top_level["value"][0]["type"] == "azureml.PipelineRun"
    assert top_level["value"][0]["status"] == "Finished"
    children = _ok(studio.get(base, params={"experiment": "read-api", "include_children": True}))
    assert {r["runId"] for r in children["value"]} == {run.id, step_id}
    steps = _ok(studio.get(base, params={"kind": "step"}))["value"]
    assert [r["runId"] for r in steps] == [step_id]
    by_parent = _ok(studio.get(base, params={"parent": run.id}))["value"]
    assert [(r["runId"], r["parentRunId"], r["displayName"]) for r in by_parent] == [
        (step_id, run.id, "train")]
    finished = _ok(studio.get(base, params={"status": "Finished"}))  # a pipeline run's end
    assert [r["runId"] for r in finished["value"]] == [run.id]
    completed = _ok(studio.get(base, params={"status": "Completed"}))  # a script run's end
    assert completed["count"] == len(scripts)
    assert _ok(studio.get(base, params={"status": "Running"}))["count"] == 0
    assert _ok(studio.get(base, params={"kind": "script"}))["count"] == len(scripts)

    created = datetime.fromisoformat(top_level["value"][0]["createdUtc"].replace("Z", "+00:00"))
    later = (created + timedelta(seconds=1)).isoformat()
    earlier = (created - timedelta(seconds=1)).isoformat()
    assert run.id not in [r["runId"] for r in _ok(studio.get(
        base, params={"created_after": later, "top": 1000}))["value"]]
    assert run.id in [r["runId"] for r in _ok(studio.get(
        base, params={"created_after": earlier, "top": 1000}))["value"]]
    assert _ok(studio.get(base, params={"created_before": earlier}))["count"] == 0
    naive = created.replace(tzinfo=None) + timedelta(seconds=1)  # no zone: UTC
    assert run.id in [r["runId"] for r in _ok(studio.get(
        base, params={"created_before": naive.isoformat()}))["value"]]


def test_runs_pages(world):
    studio, ws, _, _, _, scripts = world
    base = f"/api/v1/workspaces/{ws._id}/runs"
    newest_first = list(reversed(scripts))
    seen, page = [], _ok(studio.get(base, params={"experiment": "paging", "top": 2}))
    pages = 1
    while True:
        assert page["count"] == 5
        seen += [r["runId"] for r in page["value"]]
        if not page["nextLink"]:
            assert page["continuationToken"] is None
            break
        assert "experiment=paging" in page["nextLink"]
        page = _ok(studio.get(page["nextLink"][len(studio.url):]))
        pages += 1
    assert seen == newest_first and pages == 3
    token = _ok(studio.get(base, params={"experiment": "paging", "top": 2}))["continuationToken"]
    second = _ok(studio.get(base, params={"experiment": "paging", "top": 2,
                                          "continuation": token}))
    assert [r["runId"] for r in second["value"]] == newest_first[2:4]
    skipped = _ok(studio.get(base, params={"experiment": "paging", "skip": 3, "top": 10}))
    assert [r["runId"] for r in skipped["value"]] == newest_first[3:]
    assert skipped["nextLink"] is None


@pytest.mark.parametrize("params, status", [
    ({"top": 0}, 422), ({"top": 100000}, 422), ({"skip": -1}, 422), ({"status": "Bogus"}, 422),
    ({"kind": "job"}, 422), ({"created_after": "yesterday"}, 422),
    ({"continuation": "not-a-token"}, 400), ({"continuation": "WzEsMl0"}, 400),
    ({"parent": "../etc"}, 400), ({"created_after": "0001-01-01T00:00:00+05:00"}, 400)])
def test_runs_bad_values_are_4xx_with_a_message(world, params, status):
    studio, ws, *_ = world
    answer = studio.get(f"/api/v1/workspaces/{ws._id}/runs", params=params)
    assert answer.status_code == status, answer.text
    assert answer.json()["detail"]


def test_run_with_children(world):
    studio, _, run, step_id, *_ = world
    detail = _ok(studio.get(f"/api/v1/runs/{run.id}", auth=False))
    assert detail["runId"] == run.id and detail["kind"] == "pipeline"
    assert [(c["runId"], c["displayName"], c["status"]) for c in detail["children"]] == [
        (step_id, "train", "Finished")]
    step = _ok(studio.get(f"/api/v1/runs/{step_id}"))
    assert step["parentRunId"] == run.id and step["children"] == []
    assert "outputs/model.txt" in step["files"]
    missing = studio.get("/api/v1/runs/no_such_run_1")
    assert missing.status_code == 404 and "no_such_run_1" in missing.json()["detail"]
    assert studio.get("/api/v1/runs/..%2Fx").status_code in (400, 404)


def test_metrics(world):
    studio, _, _, step_id, *_ = world
    data = _ok(studio.get(f"/api/v1/runs/{step_id}/metrics"))
    assert data["metrics"] == {"acc": [0.5, 0.75], "loss": 0.25, "row": {"a": 1, "b": 2},
                               "table": {"x": [1, 2], "y": [3, 4]}}
    assert data["kinds"] == {"acc": "scalar", "loss": "scalar", "row": "row", "table": "table"}
    one = _ok(studio.get(f"/api/v1/runs/{step_id}/metrics", params={"name": "acc"}))
    assert one["metrics"] == {"acc": [0.5, 0.75]}


def test_logs_and_tailing(world):
    studio, _, run, step_id, *_ = world
    whole = _ok(studio.get(f"/api/v1/runs/{run.id}/log"))
    assert "[train] hello 0" in whole["text"] and whole["complete"] is True
    assert whole["status"] == "Finished" and whole["offset"] == 0
    assert whole["nextOffset"] == len(whole["text"].encode())
    rest = _ok(studio.get(f"/api/v1/runs/{run.id}/log", params={"offset": whole["nextOffset"]}))
    assert rest["text"] == "" and rest["nextOffset"] == whole["nextOffset"]
    step_log = _ok(studio.get(f"/api/v1/runs/{run.id}/log", params={"step": "train"}))
    assert step_log["runId"] == step_id and "hello 2" in step_log["text"]
    cut = step_log["text"].encode().index(b"hello 1")
    tail = _ok(studio.get(f"/api/v1/runs/{step_id}/log", params={"offset": cut}))
    assert tail["text"].startswith("hello 1") and "hello 0" not in tail["text"]
    assert studio.get(f"/api/v1/runs/{run.id}/log", params={"step": "nope"}).status_code == 404
    assert studio.get(f"/api/v1/runs/{step_id}/log", params={"step": "x"}).status_code == 400
    assert studio.get(f"/api/v1/runs/{step_id}/log", params={"offset": -1}).status_code == 422


def test_artifacts(world):
    studio, _, _, step_id, *_ = world
    files = _ok(studio.get(f"/api/v1/runs/{step_id}/artifacts"))["files"]
    assert "outputs/model.txt" in files
    got = studio.get(f"/api/v1/runs/{step_id}/artifacts/outputs/model.txt")
    assert got.status_code == 200 and got.content == b"the model"
    assert "model.txt" in got.headers["content-disposition"]
    assert studio.get(f"/api/v1/runs/{step_id}/artifacts/outputs/none.txt").status_code == 404
    for escape in ("..%2F..%2Famlocal.db", "outputs%2F..%2F..%2F" + quote(step_id),
                   "%2Fetc%2Fpasswd"):
        answer = httpx.get(f"{studio.url}/api/v1/runs/{step_id}/artifacts/{escape}", timeout=30)
        assert answer.status_code in (400, 404), (escape, answer.status_code)
        assert answer.json()["detail"]


def test_outputs(world):
    studio, ws, run, step_id, *_ = world
    step = _ok(studio.get(f"/api/v1/runs/{step_id}/outputs"))
    assert list(step["outputs"]) == ["result"]
    location = step["outputs"]["result"]
    assert location["datastore"] == ws.get_default_datastore().name and step_id in location["path"]
    pipeline = _ok(studio.get(f"/api/v1/runs/{run.id}/outputs"))
    assert pipeline["outputs"] == {}
    assert [(s["runId"], s["name"], s["outputs"]) for s in pipeline["steps"]] == [
        (step_id, "train", step["outputs"])]


def test_published_pipelines(world):
    studio, ws, _, _, published, _ = world
    listed = _ok(studio.get(f"/api/v1/workspaces/{ws._id}/pipelines"))
    assert [(p["id"], p["name"], p["status"], p["totalRunSteps"]) for p in listed] == [
        (published.id, "read-pipeline", "Active", 1)]
    one = _ok(studio.get(f"/api/v1/pipelines/{published.id}"))
    assert one == listed[0] and one["description"] == "for the read API"
    assert one["endpoint"] == published.endpoint
    assert studio.get("/api/v1/pipelines/00000000-0000-0000-0000-000000000000").status_code == 404


def test_models_datasets_environments(world):
    studio, ws, *_ = world
    base = f"/api/v1/workspaces/{ws._id}"
    models = _ok(studio.get(f"{base}/models"))
    assert [(m["id"], m["tags"]) for m in models] == [("read-model:2", {"v": "2"}),
                                                      ("read-model:1", {})]
    assert [m["version"] for m in _ok(studio.get(f"{base}/models", params={"latest": True}))] == [2]
    assert _ok(studio.get(f"{base}/models/read-model")) == models
    assert studio.get(f"{base}/models/nope").status_code == 404
    datasets = _ok(studio.get(f"{base}/datasets"))
    assert [(d["name"], d["version"]) for d in datasets] == [("read-data", 1)]
    assert datasets[0]["definition"]
    assert _ok(studio.get(f"{base}/datasets/read-data")) == datasets
    assert studio.get(f"{base}/datasets/nope").status_code == 404
    envs = _ok(studio.get(f"{base}/environments/read-env"))
    assert [(e["name"], e["version"]) for e in envs] == [("read-env", 1)]
    assert "read-env" in [e["name"] for e in _ok(studio.get(f"{base}/environments"))]
    assert studio.get(f"{base}/environments/nope").status_code == 404


def test_openapi_describes_the_answers(world):
    studio, *_ = world
    doc = _ok(studio.get("/openapi.json"))
    schemas = doc["components"]["schemas"]
    assert {"RunPage", "RunDetail", "RunSummary", "Metrics", "LogChunk", "RunOutputs",
            "PublishedPipeline", "ModelVersion", "DatasetVersion",
            "EnvironmentVersion"} <= set(schemas)
    runs = doc["paths"]["/api/v1/workspaces/{workspace}/runs"]["get"]
    assert {p["name"] for p in runs["parameters"]} >= {
        "experiment", "status", "kind", "parent", "created_after", "created_before", "skip", "top",
        "continuation"}
    assert runs["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/RunPage"}
