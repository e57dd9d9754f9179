"""PipelineEndpoint: a stable name and URL in front of published pipelines' versions. Its API
(publish, get, list, versions as strings, default version, add, add_default, set_default,
set_default_version, set_name, archive, reactivate, enable/disable), submitting a version from
Python, through ``Experiment.submit`` and over REST against a real studio server."""
from __future__ import annotations

import textwrap

import pytest
import requests

docker = pytest.mark.usefixtures("docker_engine")


def _pipeline(workspace, tmp_path, label: str):
    """A pipeline of one tiny step that prints its ``label`` parameter."""
    from amlocal.pipeline.core import Pipeline, PipelineParameter
    from amlocal.pipeline.steps import PythonScriptStep
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "echo.py").write_text(textwrap.dedent("""
        import sys
        print("LABEL", sys.argv[2])
    """))
    step = PythonScriptStep("echo.py", name="echo", source_directory=str(src),
                            arguments=["--label", PipelineParameter("label", label)])
    return Pipeline(workspace, [step])


def _auth() -> dict:
    from amlocal.core.authentication import InteractiveLoginAuthentication
    return InteractiveLoginAuthentication().get_authentication_header()


def _label(run) -> str:
    assert run.wait_for_completion(show_output=False) == "Finished"
    log = next(run.get_steps()).get_job_log()
    return log.split("LABEL ", 1)[1].split()[0]


def test_versions_defaults_names_and_status(workspace, tmp_path):
    from amlocal._engine import studio
    from amlocal.errors import NotFoundError
    from amlocal.pipeline.core import PipelineEndpoint, PublishedPipeline
    from amlocal.pipeline.core.pipeline_endpoint import PipelineIdVersion, PipelineVersion
    v0 = _pipeline(workspace, tmp_path, "zero")
    endpoint = PipelineEndpoint.publish(workspace, "scoring", "nightly scoring", v0)
    assert studio.running() is not None
    assert (endpoint.name, endpoint.description, endpoint.status) == \
        ("scoring", "nightly scoring", "Active")
    first = endpoint.get_pipeline()
    assert isinstance(first, PublishedPipeline)
    assert first.name.startswith("scoring-") and first.name.endswith("-Pipeline")  # Azure's naming
    assert endpoint.default_version == endpoint.get_default_version() == "0"
    assert endpoint.pipeline_version_list == [PipelineIdVersion("0", first.id)]
    assert endpoint.endpoint == (
        f"{studio.running().url}/pipelines/v1.0/subscriptions/00000000-0000-0000-0000-000000000000"
        "/resourceGroups/test-rg/providers/Microsoft.MachineLearningServices/workspaces/testws"
        f"/PipelineRuns/PipelineEndpointSubmit/Id/{endpoint.id}")
    assert requests.get(endpoint.swaggerurl).json()["info"]["title"] == "amlocal studio"

    with pytest.raises(ValueError, match="already exists with the given name"):
        PipelineEndpoint.publish(workspace, "scoring", "again", first)
    with pytest.raises(ValueError, match="either type Pipeline or PublishedPipeline"):
        PipelineEndpoint.publish(workspace, "other", "x", "not a pipeline")

    p1 = _pipeline(workspace, tmp_path, "one").publish(name="one")
    p2 = _pipeline(workspace, tmp_path, "two").publish(name="two")
    endpoint.add(p1)
    assert [v.version for v in endpoint.pipeline_version_list] == ["0", "1"]
    assert endpoint.default_version == "0"                      # add keeps the default
    with pytest.raises(ValueError, match=f"pipeline id {p1.id} exists"):
        endpoint.add(p1)
    endpoint.add_default(p2)
    assert endpoint.default_version == "2" and endpoint.get_pipeline().id == p2.id
    assert endpoint.get_pipeline("1").id == p1.id
    with pytest.raises(ValueError, match="Version 1, pipeline not found"):
        endpoint.get_pipeline(1)                                 # versions are strings
    with pytest.raises(ValueError, match="Cannot set version 1, does not exist"):
        endpoint.set_default_version(1)
    endpoint.set_default_version("1")
    assert endpoint.default_version == "1"
    endpoint.set_default(first)
    assert endpoint.default_version == "0"
    stranger = _pipeline(workspace, tmp_path, "x").publish(name="stranger")
    with pytest.raises(ValueError, match="does not exist in pipeline endpoint"):
        endpoint.set_default(stranger)

    again = PipelineEndpoint.get(workspace, name="scoring")
    assert again.id == endpoint.id and again.default_version == "0"
    assert PipelineEndpoint.get(workspace, id=endpoint.id).name == "scoring"
    with pytest.raises(NotFoundError, match="no pipeline endpoint named 'nope'"):
        PipelineEndpoint.get(workspace, name="nope")
    with pytest.raises(Exception, match="Please, enter either id or name"):
        PipelineEndpoint.get(workspace)
    versions = again.list_versions()
    assert [(v.version, v.pipeline.id) for v in versions] == \
        [("0", first.id), ("1", p1.id), ("2", p2.id)]
    assert all(isinstance(v, PipelineVersion) for v in versions)
    p1.disable()
    assert {p.id for p in again.list_pipelines()} == {first.id, p2.id}
    assert {p.id for p in again.list_pipelines(active_only=False)} == {first.id, p1.id, p2.id}

    again.set_name("scoring-v2")
    assert PipelineEndpoint.get(workspace, id=endpoint.id).name == "scoring-v2"
    again.disable()
    assert [e.id for e in PipelineEndpoint.list(workspace)] == []
    assert [e.id for e in PipelineEndpoint.list(workspace, active_only=False)] == [endpoint.id]
    with pytest.raises(ValueError, match="Status must be Active, its Disabled"):
        again.submit("never")
    again.enable()
    assert [e.id for e in PipelineEndpoint.list(workspace)] == [endpoint.id]

    again.archive()
    assert again.status == "Disabled" and again.name != "scoring-v2"
    PipelineEndpoint.publish(workspace, "scoring-v2", "the name is free again", p2)
    with pytest.raises(ValueError, match="already exists"):
        again.reactivate("scoring-v2")
    back = again.reactivate("scoring-restored")
    assert (back.name, back.status) == ("scoring-restored", "Active")
    assert list(workspace._store.list_runs(workspace._id)) == []


@docker
def test_submit_a_version_from_python_experiment_and_rest(workspace, tmp_path):
    from amlocal.core import Experiment
    from amlocal.pipeline.core import PipelineEndpoint, PipelineRun
    first = _pipeline(workspace, tmp_path, "zero").publish(name="zero")
    endpoint = PipelineEndpoint.publish(workspace, "labels", "versions", first)
    endpoint.add(_pipeline(workspace, tmp_path, "one").publish(name="one"))

    assert _label(endpoint.submit("ep")) == "zero"                       # the default
    run = endpoint.submit("ep", pipeline_version="1", pipeline_parameters={"label": "given"})
    assert _label(run) == "given"
    assert run.get_properties()["azureml.pipelineEndpointVersion"] == "1"
    assert run.get_properties()["azureml.pipelineid"] == endpoint.get_pipeline("1").id
    assert _label(Experiment(workspace, "ep").submit(endpoint, pipeline_version="1")) == "one"
    with pytest.raises(ValueError, match="Version 7, pipeline not found"):
        endpoint.submit("ep", pipeline_version="7")

    def post(url, **body):
        response = requests.post(url, headers=_auth(), json={"ExperimentName": "ep-rest", **body})
        assert response.status_code == 200, response.text
        return PipelineRun(Experiment(workspace, "ep-rest"), response.json()["Id"])

    url = endpoint.endpoint
    assert _label(post(url)) == "zero"
    assert _label(post(url + "/1")) == "one"
    assert _label(post(url + "?pipelineVersion=1")) == "one"
    parent = Experiment(workspace, "ep-rest").start_logging(snapshot_directory=None)
    child = post(f"{url}/1?parentRunId={parent.id}")
    assert _label(child) == "one" and child._info.parent_id == parent.id
    parent.complete()
    assert _label(post(url, PipelineVersion="1", ParameterAssignments={"label": "rest"})) == "rest"
    by_name = url.split("/Id/")[0] + "/Name/labels"
    assert _label(post(by_name + "/1")) == "one"
    endpoint.set_default_version("1")
    last = post(by_name)
    assert _label(last) == "one"                                       # the new default
    assert last.get_properties()["amlocal.submitted_via"] == "REST"
    assert last.get_properties()["azureml.pipelineEndpointId"] == endpoint.id


def test_rest_endpoint_errors_and_reads(workspace, tmp_path):
    from amlocal.pipeline.core import PipelineEndpoint
    endpoint = PipelineEndpoint.publish(workspace, "errs", "d",
                                        _pipeline(workspace, tmp_path, "zero").publish(name="z"))
    url, ok = endpoint.endpoint, {"ExperimentName": "never"}
    assert requests.post(url, json=ok).status_code == 401
    answer = requests.post(url + "/3", json=ok, headers=_auth())
    assert answer.status_code == 404 and "Version 3, pipeline not found" in answer.json()["detail"]
    answer = requests.post(url + "/0?pipelineVersion=1", json=ok, headers=_auth())
    assert answer.status_code == 400 and "more than once" in answer.json()["detail"]
    answer = requests.post(url.split("/Id/")[0] + "/Name/nope", json=ok, headers=_auth())
    assert answer.status_code == 404 and "nope" in answer.json()["detail"]
    endpoint.disable()
    answer = requests.post(url, json=ok, headers=_auth())
    assert answer.status_code == 400 and "Status must be Active, its Disabled" in answer.json()["detail"]
    assert list(workspace._store.list_runs(workspace._id)) == []

    base = url.split("/PipelineRuns/")[0]
    entity = requests.get(f"{base}/PipelineEndpoints/Id/{endpoint.id}").json()
    assert entity["Name"] == "errs" and entity["EntityStatus"] == "Disabled"
    assert entity["Url"] == url and entity["DefaultVersion"] == "0"
    assert entity["PipelineVersionList"] == [{"Version": "0", "PipelineId": endpoint.get_pipeline().id}]
    assert requests.get(f"{base}/PipelineEndpoints/Name", params={"Name": "errs"}).json()["Id"] == endpoint.id
    listed = requests.get(f"{base}/PipelineEndpoints", params={"activeOnly": "false"}).json()
    assert [e["Id"] for e in listed["Value"]] == [endpoint.id]
    assert requests.get(f"{base}/PipelineEndpoints").json()["Value"] == []


def test_versions_added_at_once_get_distinct_numbers(workspace, tmp_path):
    """Each add is one read-modify-write transaction in the store: versions added from several
    threads at once are 1..n, none lost or repeated."""
    from concurrent.futures import ThreadPoolExecutor

    from amlocal.pipeline.core import PipelineEndpoint
    pipeline = _pipeline(workspace, tmp_path, "same")
    published = [pipeline.publish(name=f"p{i}") for i in range(6)]
    endpoint = PipelineEndpoint.publish(workspace, "busy", "d", published[0])
    handles = [PipelineEndpoint.get(workspace, id=endpoint.id) for _ in published[1:]]
    with ThreadPoolExecutor(max_workers=5) as pool:
        list(pool.map(lambda pair: pair[0].add(pair[1]), zip(handles, published[1:])))
    versions = PipelineEndpoint.get(workspace, name="busy").pipeline_version_list
    assert sorted(int(v.version) for v in versions) == [0, 1, 2, 3, 4, 5]
    assert {v.pipeline_id for v in versions} == {p.id for p in published}
