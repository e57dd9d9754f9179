"""ApplySqlTransformationStep in containers: one, two and three inputs (a join), chained both ways
with ExecutePythonScriptStep, a bad script failing its run with the statement and SQLite's
message, and a pipeline web service whose requests flow through Apply SQL into Execute Python
Script and out."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import pandas as pd
import pytest

pytestmark = pytest.mark.usefixtures("docker_engine")

PREPARE = """
import pandas as pd

def azureml_main(dataframe1=None, dataframe2=None):
    out = dataframe1.copy()
    out["listed"] = pd.to_datetime(out["listed"])
    out["big"] = out["surface"] > 50
    return out,
"""

REPORT = """
def azureml_main(dataframe1=None, dataframe2=None):
    print("DTYPES", {c: str(t) for c, t in dataframe1.dtypes.items()})
    print("ROWS", dataframe1.values.tolist())
    out = dataframe1.copy()
    out["label"] = out["city"] + ":" + out["owner"]
    return out,
"""


def _lake(workspace, tmp_path):
    from amlocal.core import Dataset, Datastore
    lake = tmp_path / "lake"
    lake.mkdir()
    (lake / "flats.csv").write_text("id,surface,price,district,listed\n1,20,100,1,2024-01-05\n"
                                    "2,60,,2,2024-02-10\n3,110,500,1,2024-03-15\n4,35,150,3,\n")
    (lake / "districts.csv").write_text("district,city\n1,Lyon\n2,Paris\n3,Nice\n")
    (lake / "owners.csv").write_text("district,owner\n1,Ana\n2,Bo\n")
    store = Datastore.register(workspace, "lake", url=str(lake))
    return {name: Dataset.Tabular.from_delimited_files((store, f"{name}.csv"))
            for name in ("flats", "districts", "owners")}


def _result(step_run, tmp_path, name: str):
    port = step_run.get_output_data("result_dataset")
    target = tmp_path / name
    assert port.download(str(target), show_progress=False) == 1
    return pd.read_parquet(target / port.path_on_datastore / "result.parquet")


def test_one_two_and_three_inputs_chained_with_execute_python_script(workspace, tmp_path):
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import ApplySqlTransformationStep, ExecutePythonScriptStep

    data = _lake(workspace, tmp_path)
    prepare = ExecutePythonScriptStep(PREPARE, dataframe1=data["flats"], name="prepare")
    # one input, from an Execute Python Script step
    priced = ApplySqlTransformationStep(
        "-- the listed flats with a price\n"
        "SELECT id, surface, price, district, listed, big, price / surface AS per_m2\n"
        "FROM t1 WHERE price IS NOT NULL ORDER BY id;", t1=prepare.result_dataset, name="priced")
    # two inputs: a dataset and the previous Apply SQL's output, with statements before the SELECT
    cities = ApplySqlTransformationStep(
        "CREATE TABLE counts AS SELECT district, COUNT(*) AS n FROM t2 GROUP BY district;\n"
        "SELECT t1.district, t1.city, COALESCE(counts.n, 0) AS priced FROM t1\n"
        "LEFT JOIN counts ON counts.district = t1.district ORDER BY t1.district;",
        t1=data["districts"], t2=priced.result_dataset, name="cities")
    # three inputs: a join of all three
    joined = ApplySqlTransformationStep(
        "SELECT t1.id, t1.per_m2, t1.big, t1.listed, t2.city, t3.owner\n"
        "FROM t1 JOIN t2 ON t2.district = t1.district\n"
        "JOIN t3 ON t3.district = t1.district ORDER BY t1.id",
        t1=priced.result_dataset, t2=data["districts"], t3=data["owners"], name="joined")
    # and Execute Python Script reads an Apply SQL output
    report = ExecutePythonScriptStep(REPORT, dataframe1=joined.result_dataset, name="report")
    run = Pipeline(workspace, [cities, report]).submit("apply-sql")
    assert run.wait_for_completion(show_output=False) == "Finished"
    steps = {s.name: s for s in run.get_steps()}
    assert set(steps) == {"prepare", "priced", "cities", "joined", "report"}

    out = _result(steps["priced"], tmp_path, "priced")
    assert out["id"].tolist() == [1, 3, 4]
    assert {c: str(t) for c, t in out.dtypes.items()} == {
        "id": "int64", "surface": "int64", "price": "float64", "district": "int64",
        "listed": "datetime64[ns]", "big": "bool", "per_m2": "float64"}
    assert out["per_m2"].tolist() == [5.0, 500 / 110, 150 / 35]
    assert out["listed"].tolist()[0] == pd.Timestamp("2024-01-05") and pd.isna(out["listed"][2])
    log = steps["priced"].get_job_log()
    assert "Apply SQL Transformation: t1: 4 rows x 6 columns" in log
    assert "Apply SQL Transformation: result: 3 rows x 7 columns" in log

    out = _result(steps["cities"], tmp_path, "cities")
    assert out.values.tolist() == [[1, "Lyon", 2], [2, "Paris", 0], [3, "Nice", 1]]

    out = _result(steps["joined"], tmp_path, "joined")
    assert out[["id", "city", "owner"]].values.tolist() == [[1, "Lyon", "Ana"], [3, "Lyon", "Ana"]]
    log = steps["report"].get_job_log()
    assert ("DTYPES {'id': 'int64', 'per_m2': 'float64', 'big': 'bool', "
            "'listed': 'datetime64[ns]', 'city': 'object', 'owner': 'object'}") in log
    assert _result(steps["report"], tmp_path, "report")["label"].tolist() == ["Lyon:Ana", "Lyon:Ana"]


def test_a_bad_script_fails_its_run_with_the_statement_and_sqlite_message(workspace, tmp_path):
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import ApplySqlTransformationStep

    data = _lake(workspace, tmp_path)
    step = ApplySqlTransformationStep("CREATE TABLE x AS SELECT * FROM t1;\n"
                                      "SELECT id, rooms FROM x", t1=data["flats"], name="broken")
    run = Pipeline(workspace, [step]).submit("apply-sql-fail")
    assert run.wait_for_completion(show_output=False, raise_on_error=False) == "Failed"
    step_run = next(run.get_steps())
    assert step_run.get_status() == "Failed"
    message = "Error: statement 2 of 2 (line 2: SELECT id, rooms FROM x): no such column: rooms"
    assert message in step_run.get_job_log()
    error = step_run.get_details()["error"]
    assert error["message"] == "the script exited with status 1" and message in error["log_tail"]


# -- a pipeline web service through Apply SQL ------------------------------------------------------
def _post(uri: str, body, key: str) -> tuple[int, dict]:
    request = urllib.request.Request(uri, data=json.dumps(body).encode(), headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _workers(name: str) -> list:
    import docker
    return docker.from_env().containers.list(all=True, filters={"label": [
        f"amlocal.webservice={name}", "amlocal.webservice_role=worker"]})


def test_a_web_service_runs_requests_through_apply_sql(workspace, tmp_path):
    from amlocal.core.webservice import Webservice
    from amlocal.pipeline.core import Pipeline, WebServiceInput, WebServiceOutput
    from amlocal.pipeline.steps import ApplySqlTransformationStep, ExecutePythonScriptStep

    data = _lake(workspace, tmp_path)
    asked = WebServiceInput("input1", pd.DataFrame({"surface": [20.0, 60.0], "district": [1, 2]}))
    # Execute Python Script -> Apply SQL -> Execute Python Script, on the request's rows
    clean = ExecutePythonScriptStep(
        "def azureml_main(dataframe1=None, dataframe2=None):\n"
        "    return dataframe1.assign(district=dataframe1['district'].abs()),\n",
        dataframe1=asked, name="clean")
    # the request's rows (t1, dynamic) joined with a static table (t2)
    lookup = ApplySqlTransformationStep(
        "SELECT t1.surface, t2.city,\n"
        "  CASE WHEN t1.surface > 1000 THEN 'huge' ELSE t1.surface END AS checked\n"
        "FROM t1 LEFT JOIN t2 ON t2.district = t1.district", t1=clean.result_dataset,
        t2=data["districts"], name="lookup")
    price = ExecutePythonScriptStep(
        "def azureml_main(dataframe1=None, dataframe2=None):\n"
        "    out = dataframe1[['surface', 'city']].copy()\n"
        "    out['price'] = out['surface'] * 5\n"
        "    return out,\n", dataframe1=lookup.result_dataset, name="price")
    pipeline = Pipeline(workspace, [price, WebServiceOutput("output1", price.result_dataset),
                                    WebServiceOutput("output2", lookup.result_dataset)])
    service = Webservice.deploy_pipeline(workspace, "sqlsvc", pipeline)
    try:
        key, _ = service.get_keys()
        uri = service.scoring_uri
        status, answer = _post(uri, {"Inputs": {"input1": {"ColumnNames": ["surface", "district"],
                                                           "Values": [["25", "1"], [60, -3], [80, 9]]}}},
                               key)
        assert status == 200, answer
        priced = answer["Results"]["output1"]["value"]
        assert priced["ColumnNames"] == ["surface", "city", "price"]
        assert priced["Values"] == [[25.0, "Lyon", 125.0], [60.0, "Nice", 300.0], [80.0, None, 400.0]]
        looked = answer["Results"]["output2"]["value"]
        assert looked["ColumnNames"] == ["surface", "city", "checked"]
        assert looked["ColumnTypes"] == ["Double", "String", "Double"]
        # the script's own error answers 500 with its message, and the service keeps serving
        status, answer = _post(uri, {"Inputs": {"input1": [{"surface": 2000, "district": 1},
                                                           {"surface": 5, "district": 1}]}}, key)
        assert status == 500, answer
        assert answer["error"]["message"].startswith("result column 'checked' mixes REAL and TEXT")
        status, answer = _post(uri, {"Inputs": {"input1": [{"surface": 10, "district": 2}]}}, key)
        assert status == 200 and answer["Results"]["output1"]["value"]["Values"] == [[10.0, "Paris", 50.0]]
        assert "result column 'checked' mixes REAL and TEXT" in service.get_logs()
        assert len(_workers("sqlsvc")) == 3      # one warm worker per served step
    finally:
        service.delete()
    assert _workers("sqlsvc") == []
