"""Pipelines as web services (Studio's request/response): WebServiceInput/WebServiceOutput in the
graph, Webservice.deploy_pipeline with warm worker containers, the classic request/response
format, keys, 400/401/500, concurrency, and `amlocal webservice deploy|keys`."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

SCORE = """
def azureml_main(dataframe1=None, dataframe2=None):
    if (dataframe1["surface"] < 0).any():
        raise ValueError("surface must not be negative")
    out = dataframe1.copy()
    out["price"] = dataframe1["surface"] * int(dataframe2["factor"][0])
    out["half"] = dataframe1["surface"] / 2
    out["label"] = "flat"
    out["big"] = dataframe1["surface"] > 50
    return out,
"""

DEPLOY = """
import json
import pandas as pd
from amlocal.core import Dataset, Datastore, Workspace
from amlocal.core.webservice import Webservice
from amlocal.pipeline.core import Pipeline, WebServiceInput, WebServiceOutput
from amlocal.pipeline.steps import ExecutePythonScriptStep

ws = Workspace("00000000-0000-0000-0000-000000000000", "test-rg", "testws")
store = Datastore.register(ws, "lake", url={lake!r})
factor = Dataset.Tabular.from_delimited_files((store, "factor.csv"))
web_in = WebServiceInput("input1", pd.DataFrame({{"surface": [20, 30]}}))
score = ExecutePythonScriptStep({code!r}, dataframe1=web_in, dataframe2=factor, name="score")
pipeline = Pipeline(ws, [score, WebServiceOutput("output1", source=score.result_dataset)])
service = Webservice.deploy_pipeline(ws, "scoring", pipeline)
print(json.dumps({{"uri": service.scoring_uri, "keys": service.get_keys()}}))
"""


def _post(uri: str, body, key: str | None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(uri, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _workers(name: str) -> list:
    import docker
    client = docker.from_env()
    return client.containers.list(all=True, filters={"label": [f"amlocal.webservice={name}",
                                                               "amlocal.webservice_role=worker"]})


# -- without containers --------------------------------------------------------------------------
def test_the_graph_records_web_inputs_and_outputs(workspace, home):
    import pandas as pd
    from amlocal.pipeline.core import Pipeline, WebServiceInput, WebServiceOutput
    from amlocal.pipeline.core._freeze import freeze
    from amlocal.pipeline.steps import ExecutePythonScriptStep

    web_in = WebServiceInput("input1", pd.DataFrame({"surface": [20, 30], "city": ["a", "b"]}))
    first = ExecutePythonScriptStep("def azureml_main(a=None, b=None):\n    return a,\n",
                                    dataframe1=web_in, name="first")
    second = ExecutePythonScriptStep("def azureml_main(a=None, b=None):\n    return a,\n",
                                     dataframe1=first.result_dataset, name="second")
    graph, errors = freeze(Pipeline(workspace, [WebServiceOutput("output1", second.result_dataset)]),
                           take_snapshots=False)
    assert errors == []
    assert [n["id"] for n in graph["steps"]] == ["first", "second"]  # WebServiceOutput does not run
    text = str(pd.Series(["a"]).dtype)  # "object" before pandas 3, "str" since
    assert graph["webservice"] == {
        "inputs": {"input1": {"node": "first", "port": "dataframe1",
                              "schema": {"surface": "int64", "city": text}}},
        "outputs": {"output1": {"node": "second", "data": "second_result_dataset"}}}
    source = graph["steps"][0]["inputs"][0]["definition"]["sources"][0]["url"]
    folder = home / "generated" / "webinputs"
    assert source.startswith(f"file://{folder}/") and source.endswith("/example.parquet")
    assert pd.read_parquet(source[len("file://"):])["surface"].tolist() == [20, 30]


def test_a_pipeline_without_web_ports_is_refused_before_anything_runs(workspace):
    import pandas as pd
    from amlocal.core.webservice import Webservice
    from amlocal.errors import UserErrorException
    from amlocal.pipeline.core import Pipeline, WebServiceInput, WebServiceOutput
    from amlocal.pipeline.steps import ExecutePythonScriptStep

    step = ExecutePythonScriptStep("def azureml_main(a=None, b=None):\n    return a,\n",
                                   dataframe1=WebServiceInput("input1", pd.DataFrame({"x": [1]})))
    with pytest.raises(UserErrorException, match="needs at least one WebServiceInput .* and one "
                                                 "WebServiceOutput.*it has 1 and 0"):
        Webservice.deploy_pipeline(workspace, "noout", Pipeline(workspace, [step]))
    with pytest.raises(UserErrorException, match="service name 'Bad Name' is not valid"):
        Webservice.deploy_pipeline(workspace, "Bad Name", Pipeline(workspace, [step]))
    with pytest.raises(UserErrorException, match="example must be a pandas DataFrame"):
        WebServiceInput("input1", [1, 2])
    with pytest.raises(UserErrorException, match="source must be an ExecutePythonScriptStep's"):
        WebServiceOutput("output1", source="nope")
    assert workspace._store.list_runs(workspace_id=workspace._id) == []  # nothing ran


def test_request_values_are_typed_by_the_schema_and_answers_carry_column_types():
    import pandas as pd
    from amlocal.server.pipeline_service import RequestError, frame_to_table, parse_body

    inputs = {"input1": {"schema": {"surface": "int64", "rate": "float64", "ok": "bool",
                                    "city": "object"}}}
    body = {"Inputs": {"input1": {"ColumnNames": ["city", "surface", "rate", "ok"],
                                  "Values": [["x", "25", "0.5", "true"], [7, 30.0, None, False]]}}}
    frame = parse_body(json.dumps(body).encode(), inputs)["input1"]
    assert list(frame.columns) == ["surface", "rate", "ok", "city"]
    assert frame["surface"].tolist() == [25, 30] and str(frame["surface"].dtype) == "int64"
    assert frame["rate"][0] == 0.5 and pd.isna(frame["rate"][1])
    assert frame["ok"].tolist() == [True, False] and frame["city"].tolist() == ["x", "7"]
    with pytest.raises(RequestError, match=r"Inputs.input1.surface: row 0 value '2.5' is not an integer"):
        parse_body(json.dumps({"Inputs": {"input1": [{"surface": "2.5", "rate": 1, "ok": 1,
                                                      "city": "a"}]}}).encode(), inputs)
    table = frame_to_table(pd.DataFrame({"i": [1, 2], "f": [0.5, None], "s": ["a", None],
                                         "b": [True, False], "raw": [b"\x00", b"\x01"]}))
    assert table["ColumnTypes"] == ["Int64", "Double", "String", "Boolean", "Binary"]
    assert table["Values"] == [[1, 0.5, "a", True, "AA=="], [2, None, None, False, "AQ=="]]


# -- served, in containers -----------------------------------------------------------------------
@pytest.mark.usefixtures("docker_engine")
def test_a_deployed_scoring_pipeline_serves_warm_until_deleted(workspace, tmp_path, home):
    import pandas as pd
    from amlocal.core.webservice import Webservice
    from amlocal.errors import WebserviceException

    lake = tmp_path / "lake"
    lake.mkdir()
    (lake / "factor.csv").write_text("factor\n3\n")
    script = DEPLOY.format(lake=str(lake), code=SCORE)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                         check=False)
    assert out.returncode == 0, out.stderr + out.stdout
    deployed = json.loads(out.stdout.strip().splitlines()[-1])
    uri, (primary, secondary) = deployed["uri"], deployed["keys"]
    assert uri.endswith("/services/scoring/execute") and primary != secondary

    try:
        # the deploying process has exited: the service still answers, in both body forms
        status, answer = _post(uri, {"Inputs": {"input1": {"ColumnNames": ["surface"],
                                                           "Values": [["25"], [60]]}},
                                     "GlobalParameters": {}}, primary)
        assert status == 200, answer
        value = answer["Results"]["output1"]["value"]
        assert answer["Results"]["output1"]["type"] == "table"
        assert value["ColumnNames"] == ["surface", "price", "half", "label", "big"]
        assert value["ColumnTypes"] == ["Int64", "Int64", "Double", "String", "Boolean"]
        assert value["Values"] == [[25, 75, 12.5, "flat", False], [60, 180, 30.0, "flat", True]]
        status, answer = _post(uri, {"Inputs": {"input1": [{"surface": 10}]}}, secondary)
        assert status == 200 and answer["Results"]["output1"]["value"]["Values"] == [
            [10, 30, 5.0, "flat", False]]

        # keys, bodies, the user's error
        body = {"Inputs": {"input1": [{"surface": 1}]}}
        assert _post(uri, body, None)[0] == 401
        status, answer = _post(uri, body, "not-a-key")
        assert status == 401 and "Authorization: Bearer" in answer["error"]["message"]
        status, answer = _post(uri, {"Inputs": {"input1": {"ColumnNames": ["area"], "Values": [[1]]}}},
                               primary)
        assert status == 400 and "Inputs.input1.ColumnNames" in answer["error"]["message"]
        status, answer = _post(uri, {"Inputs": {"input1": [{"surface": "big"}]}}, primary)
        assert status == 400 and "Inputs.input1.surface" in answer["error"]["message"]
        status, answer = _post(uri, {"Inputs": {"other": []}}, primary)
        assert status == 400 and "Inputs.other" in answer["error"]["message"]
        status, answer = _post(uri, b"not json", primary)
        assert status == 400 and "not JSON" in answer["error"]["message"]
        status, answer = _post(uri, {"Inputs": {"input1": [{"surface": -1}]}}, primary)
        assert status == 500
        assert answer["error"]["message"] == "ValueError: surface must not be negative"

        # warm: one worker container, the same before and after requests; concurrent requests
        before = [(c.id, c.attrs["State"]["StartedAt"]) for c in _workers("scoring")]
        assert len(before) == 1
        results = []

        def call(n):
            results.append(_post(uri, {"Inputs": {"input1": [{"surface": n}]}}, primary))
        threads = [threading.Thread(target=call, args=(n,)) for n in (1, 2, 3, 4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(r[1]["Results"]["output1"]["value"]["Values"][0][1] for r in results
                      if r[0] == 200) == [3, 6, 9, 12]
        after = [(c.id, c.attrs["State"]["StartedAt"]) for c in _workers("scoring")]
        assert after == before

        # found again by name; keys shown once, regenerated on demand
        service = Webservice(workspace, "scoring")
        assert service.scoring_uri == uri and service.state == "Healthy"
        assert "scoring" in [s.name for s in Webservice.list(workspace)]
        with pytest.raises(WebserviceException, match="stored hashed"):
            service.get_keys()
        service.regen_key("Primary")
        assert _post(uri, body, primary)[0] == 401          # the old primary stops working
        assert _post(uri, body, secondary)[0] == 200
        frame = service.run(pd.DataFrame({"surface": [2, 4]}))
        assert frame["price"].tolist() == [6, 12] and frame["label"].tolist() == ["flat", "flat"]
        assert "surface must not be negative" in service.get_logs()
        # one worker process per CPU (at most the concurrency, 4), forked warm
        processes = min(len(os.sched_getaffinity(0)), 4)
        assert f"({processes} process{'es' if processes > 1 else ''})" in service.get_logs()
    finally:
        folder = home / "services" / workspace._id / "scoring"
        pid = json.loads((folder / "endpoint.json").read_text())["pid"]
        Webservice(workspace, "scoring").delete()
    assert _workers("scoring") == []
    assert not folder.exists()
    assert not os.path.exists(f"/proc/{pid}") or b"pipeline_service" not in Path(
        f"/proc/{pid}/cmdline").read_bytes()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(uri.rsplit("/services", 1)[0] + "/", timeout=5)
    with pytest.raises(WebserviceException, match="no service named 'scoring'"):
        Webservice(workspace, "scoring")


@pytest.mark.usefixtures("docker_engine")
def test_a_two_step_chain_deployed_from_the_cli(workspace, tmp_path, monkeypatch):
    import pandas as pd
    from amlocal.cli import cli
    from amlocal.core.webservice import Webservice
    from amlocal.pipeline.core import Pipeline, WebServiceInput, WebServiceOutput
    from amlocal.pipeline.steps import ExecutePythonScriptStep
    from click.testing import CliRunner

    double = ExecutePythonScriptStep(textwrap.dedent("""
        def azureml_main(dataframe1=None, dataframe2=None):
            return dataframe1 * 2,
    """), dataframe1=WebServiceInput("input1", pd.DataFrame({"x": [1, 2]})), name="A")
    add_one = ExecutePythonScriptStep(textwrap.dedent("""
        def azureml_main(dataframe1=None, dataframe2=None):
            return dataframe1 + 1,
    """), dataframe1=double.result_dataset, name="B")
    published = Pipeline(workspace, [add_one, WebServiceOutput("output1", add_one.result_dataset)]
                         ).publish(name="chain")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(cli, ["webservice", "deploy", "--pipeline-id", published.id, "--name",
                                 "chain", "-w", "testws", "-g", "test-rg"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    uri = re.search(r"scoring uri\s+(\S+)", result.output).group(1)
    key = re.search(r"primary key\s+(\S+)", result.output).group(1)
    assert "not shown again" in result.output
    try:
        status, answer = _post(uri, {"Inputs": {"input1": {"ColumnNames": ["x"],
                                                           "Values": [["5"], [7]]}}}, key)
        assert status == 200, answer
        assert answer["Results"]["output1"]["value"]["Values"] == [[11], [15]]
        assert len(_workers("chain")) == 2
        listed = runner.invoke(cli, ["webservice", "list", "-w", "testws", "-g", "test-rg", "-o", "json"])
        assert {"name": "chain", "scoringUri": uri, "state": "Healthy"}.items() <= next(
            r for r in json.loads(listed.output) if r["name"] == "chain").items()
        regen = runner.invoke(cli, ["webservice", "keys", "chain", "--regen", "Secondary",
                                    "-w", "testws", "-g", "test-rg"])
        new = regen.output.split("secondary key:")[1].strip()
        assert _post(uri, {"Inputs": {"input1": [{"x": 0}]}}, new)[1]["Results"]["output1"][
            "value"]["Values"] == [[1]]
    finally:
        runner.invoke(cli, ["webservice", "delete", "chain", "-w", "testws", "-g", "test-rg"])
    assert _workers("chain") == []
    assert "chain" not in [s.name for s in Webservice.list(workspace)]
