"""REST submission of published pipelines against a real studio server process, as the v1
samples call it: ``requests.post(published.endpoint, headers=InteractiveLoginAuthentication()
.get_authentication_header(), json={"ExperimentName": ..., "ParameterAssignments": {...}})``,
then the run is followed with ``PipelineRun``. Also: values converted to the parameters' types,
DataPath and dataset assignments, unknown parameter names (ignored as Azure's service ignores
them, and recorded), the errors (401, 400, 404) and a disabled pipeline."""
from __future__ import annotations

import textwrap

import pytest
import requests

docker = pytest.mark.usefixtures("docker_engine")

STEP = """
    import os, sys
    from azureml.core import Run
    args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
    print("VALUES", args["--n"], args["--flag"], args["--rate"], args["--text"])
    where = args["--where"]
    print("WHERE", open(os.path.join(where, "x.txt")).read())
    files = Run.get_context().input_datasets["files"]
    print("DATASET", sorted(os.listdir(files)))
"""


@pytest.fixture
def published(workspace, tmp_path):
    """A published pipeline of one tiny step: int, bool, float and str parameters, a DataPath
    parameter (default folder a/) and a FileDataset parameter (default folder a/)."""
    from amlocal.core import Dataset
    from amlocal.data.datapath import DataPath, DataPathComputeBinding
    from amlocal.data.dataset_consumption_config import DatasetConsumptionConfig
    from amlocal.pipeline.core import Pipeline, PipelineParameter
    from amlocal.pipeline.steps import PythonScriptStep
    lake = tmp_path / "lake"
    for folder, text in (("a", "A"), ("b", "B")):
        (lake / folder).mkdir(parents=True)
        (lake / folder / "x.txt").write_text(text)
    (lake / "c").mkdir()
    (lake / "c" / "y.txt").write_text("C")
    store = workspace.get_default_datastore()
    store.upload(str(lake), show_progress=False)
    src = tmp_path / "src"
    src.mkdir()
    (src / "step.py").write_text(textwrap.dedent(STEP))
    where = (PipelineParameter("where", DataPath(store, "a")), DataPathComputeBinding())
    files = DatasetConsumptionConfig(
        "files", PipelineParameter("files", Dataset.File.from_files((store, "a")))).as_mount()
    step = PythonScriptStep(
        "step.py", name="echo", source_directory=str(src),
        arguments=["--n", PipelineParameter("n", 1), "--flag", PipelineParameter("flag", False),
                   "--rate", PipelineParameter("rate", 0.5),
                   "--text", PipelineParameter("text", "plain"), "--where", where,
                   "--files", files],
        inputs=[where, files])
    return Pipeline(workspace, [step]).publish(name="rest-sample", description="for REST")


def _auth() -> dict:
    from amlocal.core.authentication import InteractiveLoginAuthentication
    return InteractiveLoginAuthentication().get_authentication_header()


def _finished(workspace, response):
    from amlocal.core import Experiment
    from amlocal.pipeline.core import PipelineRun
    assert response.status_code == 200, response.text
    body = response.json()
    run = PipelineRun(Experiment(workspace, body["RunHistoryExperimentName"]), body["Id"])
    assert run.wait_for_completion(show_output=False) == "Finished"
    step = next(run.get_steps())
    return run, step.get_job_log()


@docker
def test_a_v1_sample_posts_to_the_endpoint_and_gets_a_run(workspace, published):
    from amlocal._engine import studio
    assert studio.running() is not None                     # publish() started the server
    assert published.endpoint.startswith(studio.running().url + "/pipelines/v1.0/subscriptions/")
    assert published.endpoint.endswith(
        f"/resourceGroups/test-rg/providers/Microsoft.MachineLearningServices/workspaces/testws"
        f"/PipelineRuns/PipelineSubmit/{published.id}")

    response = requests.post(published.endpoint, headers=_auth(), json={
        "ExperimentName": "rest-runs", "Description": "from a client",
        "ParameterAssignments": {"n": "5", "flag": "true", "rate": 2, "text": "hello",
                                 "2": "city", "nn": "1"},      # unknown names: Azure ignores them
        "tags": {"origin": "ci", "attempt": 2}, "Properties": {"ticket": "T-1"}})
    body = response.json()
    assert body["Status"]["StatusCode"] in ("NotStarted", "Queued", "Running", "Finished")
    assert body["PipelineId"] == published.id and body["RunHistoryExperimentName"] == "rest-runs"
    assert body["ParameterAssignments"] == {"n": "5", "flag": "True", "rate": "2.0",
                                            "text": "hello"}
    assert body["HasWarnings"] is True
    assert body["Warnings"] == [f"parameters 2, nn are not parameters of pipeline {published.id} "
                                "and were ignored (its parameters: files, flag, n, rate, text, "
                                "where)"]
    run, log = _finished(workspace, response)
    assert "VALUES 5 True 2.0 hello" in log and "WHERE A" in log and "DATASET ['x.txt']" in log
    assert run._info.definition["parameters"]["n"] == 5                 # converted to int
    assert run._info.definition["parameters"]["flag"] is True
    props = run.get_properties()
    assert props["runSource"] == "API" and props["runType"] == "HTTP"
    assert props["amlocal.submitted_via"] == "REST" and props["ticket"] == "T-1"
    assert props["azureml.pipelineid"] == published.id
    assert props["amlocal.description"] == "from a client"
    assert props["amlocal.ignored_parameters"] == "2, nn"
    assert run.get_tags() == {"origin": "ci", "attempt": "2"}

    python = published.submit(workspace, "rest-runs", pipeline_parameters={"n": 6})
    python.wait_for_completion(show_output=False)
    assert python.get_properties()["amlocal.submitted_via"] == "SDK"
    assert python.get_properties()["runSource"] == "SDK"
    assert "amlocal.ignored_parameters" not in python.get_properties()


@docker
def test_data_path_and_dataset_assignments(workspace, published):
    from amlocal.core import Dataset
    store = workspace.get_default_datastore()
    other = Dataset.File.from_files((store, "c")).register(workspace, "cfiles")
    response = requests.post(published.endpoint, headers=_auth(), json={
        "ExperimentName": "rest-data", "RunSource": "SDK",
        "DataPathAssignments": {"where": {"DataStoreName": store.name, "RelativePath": "b"}},
        "DataSetDefinitionValueAssignments": {"files": {"SavedDataSetReference": {"Id": other.id}}}})
    run, log = _finished(workspace, response)
    assert "WHERE B" in log and "DATASET ['y.txt']" in log
    assert run.get_properties()["runSource"] == "SDK"
    assert response.json()["DataPathAssignments"] == {
        "where": {"DataStoreName": store.name, "RelativePath": "b"}}


def _refused(response, status: int, *words: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    text = str(body["detail"])
    for word in words:
        assert word in text, text
    return body


def test_what_is_refused_and_why(workspace, published):
    from amlocal.core import Experiment
    from amlocal.errors import UserErrorException
    url, ok = published.endpoint, {"ExperimentName": "refused"}
    _refused(requests.post(url, json=ok), 401, "Bearer")
    _refused(requests.post(url, json=ok, headers={"Authorization": "Bearer aml_wrong"}), 401)
    auth = _auth()
    _refused(requests.post(url, json={}, headers=auth), 400, "ExperimentName is required")
    _refused(requests.post(url, json={"ExperimentName": "  "}, headers=auth), 400, "ExperimentName")
    _refused(requests.post(url, json={"ExperimentName": "bad name!"}, headers=auth), 400,
             "experiment name")
    with pytest.raises(UserErrorException, match="Pipeline parameter with name nn does not exist"):
        published.submit(workspace, "refused", pipeline_parameters={"nn": 1})  # Python refuses
    _refused(requests.post(url, headers=auth, json={
        **ok, "ParameterAssignments": {"n": "five"}}), 400, "'n' takes a int")
    _refused(requests.post(url, headers=auth, json={
        **ok, "ParameterAssignments": {"where": "b"}}), 400, "takes a DataPath")
    body = _refused(requests.post(url, headers=auth, json={
        **ok, "ParameterAssignments": ["n", 1]}), 400, "ParameterAssignments")
    assert body["errors"][0]["loc"][:2] == ["body", "ParameterAssignments"]
    _refused(requests.post(url, headers={**auth, "Content-Type": "application/json"},
                           data="{not json"), 400, "not valid")
    _refused(requests.post(url, headers=auth, json={
        **ok, "ParameterAssignments": {"where": "x"},
        "DataPathAssignments": {"where": {"DataStoreName": "workspaceblobstore"}}}), 400,
        "assigned in both")
    _refused(requests.post(url, headers=auth, json={
        **ok, "DataPathAssignments": {"where": {"DataStoreName": "nostore", "RelativePath": "b"}}}),
        404, "nostore")
    _refused(requests.post(url, headers=auth, json={
        **ok, "DataPathAssignments": {"where": {"DataStoreName": "workspaceblobstore",
                                                "RelativePath": "../../etc"}}}), 400, "'..'")
    _refused(requests.post(url, headers=auth, json={
        **ok, "DataSetDefinitionValueAssignments": {"files": {"SavedDataSetReference": {"Id": "x1"}}}}),
        404, "x1")
    _refused(requests.post(url, headers=auth, json={
        **ok, "Properties": {"amlocal.submitted_via": "me"}}), 400, "set by amlocal")
    _refused(requests.post(url + "?parentRunId=nope", headers=auth, json=ok), 404,
             "parent run nope does not exist")
    other = Experiment(workspace, "elsewhere").start_logging(snapshot_directory=None)
    other.complete()
    _refused(requests.post(f"{url}?parentRunId={other.id}", headers=auth, json=ok), 400,
             "must belong to the same experiment")
    _refused(requests.post(url.replace(published.id, "no-such-id"), headers=auth, json=ok), 404,
             "no-such-id")
    _refused(requests.post(url.replace("/testws/", "/otherws/"), headers=auth, json=ok), 404,
             "otherws")
    published.disable()
    _refused(requests.post(url, headers=auth, json=ok), 400, "is Disabled and cannot be submitted")
    with pytest.raises(UserErrorException, match="Disabled"):
        published.submit(workspace, "refused")
    assert [r.id for r in workspace._store.list_runs(workspace._id)] == [other.id]  # nothing ran


def test_keys_are_matched_case_insensitively_and_json_patch_content_type(workspace, published):
    """Azure's SDK sends ``application/json-patch+json``; its service reads keys in any case."""
    import json
    published.disable()  # refused after the body is read: proves the body was understood
    response = requests.post(published.endpoint, data=json.dumps({"experimentname": "x"}),
                             headers={**_auth(), "Content-Type":
                                      "application/json-patch+json; charset=utf-8"})
    _refused(response, 400, "is Disabled")
