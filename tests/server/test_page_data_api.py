"""The page API of a run's data (``/api/v1/page/runs/{id}/outputs|artifacts/...``, ``/compare``)
over a real server and real runs: one tiny step (in Docker) writes a CSV with numbers, text and
missing values, submitted twice with different parameters; the preview's statistics, browsing,
downloads, refused escapes, an output on Azure Blob (Azurite), and the tabular reader's limits
(on files made here)."""
from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

STEP = """
    import argparse, os
    from azureml.core import Run
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int)
    parser.add_argument("--out")
    args = parser.parse_args()
    os.makedirs(os.path.join(args.out, "parts"), exist_ok=True)
    fruits = ["apple", "banana", "cherry"]
    with open(os.path.join(args.out, "table.csv"), "w") as f:
        f.write("id,fruit,price\\n")
        for i in range(args.rows):
            fruit = "" if i % 5 == 4 else fruits[i % 3]
            price = "" if i % 4 == 3 else f"{(i % 7) * (i % 5) * 1.5:.1f}"
            f.write(f"{i},{fruit},{price}\\n")
    with open(os.path.join(args.out, "parts", "notes.txt"), "w") as f:
        f.write("not a table")
    run = Run.get_context()
    run.log("rows", args.rows)
    for i in range(3):
        run.log("loss", 1.0 / (args.rows + i))
"""


def submit_runs(ws, src: Path, rows=(20, 30), datastore=None, experiment="page-data"):
    """Run a one-step pipeline (step "make", output "table") once per value of ``rows``: the
    finished pipeline runs, in order."""
    from amlocal.pipeline.core import Pipeline, PipelineData, PipelineParameter
    from amlocal.pipeline.steps import PythonScriptStep
    src.mkdir(parents=True, exist_ok=True)
    (src / "make.py").write_text(textwrap.dedent(STEP))
    table = PipelineData("table", datastore=datastore or ws.get_default_datastore())
    count = PipelineParameter("rows", default_value=rows[0])
    step = PythonScriptStep("make.py", name="make", source_directory=str(src),
                            arguments=["--rows", count, "--out", table], outputs=[table])
    pipeline = Pipeline(ws, [step])
    runs = []
    for value in rows:
        run = pipeline.submit(experiment, pipeline_parameters={"rows": value})
        assert run.wait_for_completion(show_output=False) == "Finished"
        runs.append(run)
    return runs


@pytest.fixture(scope="module")
def world(studio_module, docker_engine, tmp_path_factory):
    from amlocal.core import Workspace
    ws = Workspace("00000000-0000-0000-0000-000000000000", "page-rg", "pagews")
    first, second = submit_runs(ws, tmp_path_factory.mktemp("page-data-src"))
    step = first.find_step_run("make")[0].id
    return studio_module, ws, first, second, step


def _ok(response):
    assert response.status_code == 200, response.text
    return response.json()


def test_preview_of_a_csv_output(world):
    studio, _, _, _, step = world
    base = f"/api/v1/page/runs/{step}/outputs/table"
    preview = _ok(studio.get(f"{base}/preview", params={"path": "table.csv"}))
    assert preview["files"] == ["table.csv"] and preview["format"] == "csv"
    assert preview["rowsShown"] == 20 and preview["totalRows"] == 20 and not preview["truncated"]
    assert preview["rows"][:4] == [[0, "apple", 0.0], [1, "banana", 1.5], [2, "cherry", 6.0],
                                   [3, "apple", None]]
    cols = {c["name"]: c for c in preview["columns"]}
    assert cols["id"]["kind"] == "numeric" and cols["id"]["missing"] == 0
    assert cols["id"]["unique"] == 20 and cols["id"]["max"] == 19
    assert sum(b["count"] for b in cols["id"]["histogram"]) == 20
    assert cols["price"]["kind"] == "numeric" and cols["price"]["missing"] == 5
    assert sum(b["count"] for b in cols["price"]["histogram"]) == 15
    assert cols["fruit"]["kind"] == "text" and cols["fruit"]["missing"] == 4
    assert cols["fruit"]["unique"] == 3 and cols["fruit"]["histogram"] is None
    assert sum(v["count"] for v in cols["fruit"]["values"]) == 16
    assert preview["limits"]["rows"] >= 1000 and preview["limits"]["bytes"] > 0
    folder = _ok(studio.get(f"{base}/preview"))           # the output folder as one table
    assert folder["files"] == ["table.csv"] and folder["rows"] == preview["rows"]


def test_browse_and_download(world):
    studio, ws, _, _, step = world
    base = f"/api/v1/page/runs/{step}/outputs/table"
    listing = _ok(studio.get(f"{base}/files"))
    assert listing["datastore"] == ws.get_default_datastore().name and step in listing["location"]
    assert [(e["name"], e["type"], e["tabular"]) for e in listing["entries"]] == [
        ("parts", "folder", None), ("table.csv", "file", "csv")]
    size = listing["entries"][1]["size"]
    assert listing["tabular"] is True
    sub = _ok(studio.get(f"{base}/files", params={"path": "parts"}))
    assert [(e["path"], e["size"]) for e in sub["entries"]] == [("parts/notes.txt", 11)]
    got = studio.get(f"{base}/download", params={"path": "table.csv"})
    assert got.status_code == 200 and got.content.startswith(b"id,fruit,price\n0,apple,0.0\n")
    assert len(got.content) == size and "table.csv" in got.headers["content-disposition"]
    assert studio.get(f"{base}/download", params={"path": "parts"}).status_code == 400
    assert studio.get(f"{base}/download", params={"path": "nope.csv"}).status_code == 404
    refused = studio.get(f"{base}/preview", params={"path": "parts/notes.txt"})
    assert refused.status_code == 400 and "not a CSV" in refused.json()["detail"]


def test_paths_cannot_leave_the_output_folder(world):
    studio, _, _, _, step = world
    base = f"/api/v1/page/runs/{step}/outputs/table"
    for path in ("../..", "parts/../../..", "..\\..\\x", "C:/Windows"):
        for what in ("files", "preview", "download"):
            answer = studio.get(f"{base}/{what}", params={"path": path})
            assert answer.status_code == 400, (path, what, answer.text)
            assert answer.json()["detail"]
    root = Path(_local_folder(step))
    os.symlink("/etc", root / "escape")                    # a link planted inside the folder
    try:
        for what in ("files", "download"):
            answer = studio.get(f"{base}/{what}", params={"path": "escape/passwd"})
            assert answer.status_code == 400 and "outside" in answer.json()["detail"]
    finally:
        (root / "escape").unlink()


def _local_folder(step_id: str) -> str:
    from amlocal.store import open_store
    return open_store().get_run(step_id).definition["outputs"]["table"]["local"]


def test_unknown_things_are_4xx(world):
    studio, _, first, _, step = world
    assert studio.get(f"/api/v1/page/runs/{step}/outputs/nope/files").status_code == 404
    pipeline = studio.get(f"/api/v1/page/runs/{first.id}/outputs/table/files")
    assert pipeline.status_code == 400 and "steps" in pipeline.json()["detail"]
    assert studio.get("/api/v1/page/runs/missing-run/outputs/table/files").status_code == 404
    assert studio.get("/api/v1/page/compare", params={"a": first.id}).status_code == 422
    assert studio.get("/api/v1/page/compare", params={"a": first.id, "b": "x"}).status_code == 404


def test_the_runs_own_files(world):
    studio, _, first, _, _ = world
    listing = _ok(studio.get(f"/api/v1/page/runs/{first.id}/artifacts/files"))
    assert [e["name"] for e in listing["entries"]] == ["logs"]
    deeper = _ok(studio.get(f"/api/v1/page/runs/{first.id}/artifacts/files",
                            params={"path": "logs/amlocal"}))
    assert [e["path"] for e in deeper["entries"]] == ["logs/amlocal/pipeline.log"]
    assert deeper["entries"][0]["size"] > 0
    bad = studio.get(f"/api/v1/page/runs/{first.id}/artifacts/files", params={"path": "../x"})
    assert bad.status_code == 400


def test_a_tabular_file_of_a_script_run(world, tmp_path):
    from amlocal.core import Experiment
    studio, ws, *_ = world
    table = tmp_path / "scores.tsv"
    table.write_text("name\tscore\nann\t3\nbob\t\n")
    run = Experiment(ws, "page-files").start_logging(snapshot_directory=None)
    run.upload_file("outputs/scores.tsv", str(table))
    run.complete()
    listing = _ok(studio.get(f"/api/v1/page/runs/{run.id}/artifacts/files",
                             params={"path": "outputs"}))
    assert [(e["path"], e["tabular"]) for e in listing["entries"]] == [
        ("outputs/scores.tsv", "tsv")]
    preview = _ok(studio.get(f"/api/v1/page/runs/{run.id}/artifacts/preview",
                             params={"path": "outputs/scores.tsv"}))
    assert preview["rows"] == [["ann", 3.0], ["bob", None]]
    assert [(c["name"], c["missing"]) for c in preview["columns"]] == [("name", 0), ("score", 1)]


def test_compare_two_runs_with_different_parameters(world):
    studio, _, first, second, _ = world
    c = _ok(studio.get("/api/v1/page/compare", params={"a": first.id, "b": second.id}))
    assert c["a"]["runId"] == first.id and c["b"]["status"] == "Finished"
    assert c["parameters"] == [{"name": "rows", "a": 20, "b": 30, "differs": True}]
    assert c["differingSteps"] == ["make"]
    (step,) = c["steps"]
    assert step["a"]["reuseKey"] != step["b"]["reuseKey"]
    assert step["a"]["environmentDigest"] == step["b"]["environmentDigest"]
    assert "parameters.AML_PARAMETER_rows" in step["changed"]
    assert "environment" not in step["changed"]
    part = {p["name"]: p for p in step["components"]}["parameters.AML_PARAMETER_rows"]
    assert (part["a"], part["b"], part["differs"]) == ("20", "30", True)
    metrics = {(m["step"], m["name"]): m for m in c["metrics"]}
    rows = metrics[("make", "rows")]
    assert (rows["a"], rows["b"], rows["differs"]) == (20, 30, True)
    loss = metrics[("make", "loss")]
    assert loss["a"] == pytest.approx(1 / 22) and loss["chart"].startswith("#/run/")
    same = _ok(studio.get("/api/v1/page/compare", params={"a": first.id, "b": first.id}))
    assert same["differingSteps"] == [] and not any(p["differs"] for p in same["parameters"])


def test_the_result_dataset_of_an_execute_python_script_step(world):
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import ExecutePythonScriptStep
    studio, ws, *_ = world
    code = ("import pandas as pd\n"
            "def azureml_main(dataframe1=None, dataframe2=None):\n"
            "    return pd.DataFrame({'x': [1.5, None, 3.0], 'kind': ['u', 'v', 'u']}),\n")
    run = Pipeline(ws, [ExecutePythonScriptStep(code, name="score")]).submit("page-studio")
    assert run.wait_for_completion(show_output=False) == "Finished"
    step = run.find_step_run("score")[0].id
    preview = _ok(studio.get(f"/api/v1/page/runs/{step}/outputs/score_result_dataset/preview"))
    assert preview["format"] == "parquet" and preview["files"] == ["result.parquet"]
    assert preview["rows"] == [[1.5, "u"], [None, "v"], [3.0, "u"]]
    x, kind = preview["columns"]
    assert (x["kind"], x["missing"], kind["unique"]) == ("numeric", 1, 2)


def test_an_output_on_azure_blob(world, azurite, tmp_path):
    from amlocal.core.datastore import Datastore
    studio, ws, *_ = world
    blob = Datastore.register_azure_blob_container(
        ws, "pageblob", "page-blob", azurite.account, account_key=azurite.key,
        endpoint=azurite.endpoint, create_if_not_exists=True)
    (run,) = submit_runs(ws, tmp_path / "src", rows=(12,), datastore=blob, experiment="page-blob")
    step = run.find_step_run("make")[0].id
    base = f"/api/v1/page/runs/{step}/outputs/table"
    listing = _ok(studio.get(f"{base}/files"))
    assert listing["datastore"] == "pageblob"
    assert [e["name"] for e in listing["entries"]] == ["parts", "table.csv"]
    preview = _ok(studio.get(f"{base}/preview"))
    assert preview["totalRows"] == 12 and preview["rows"][1] == [1, "banana", 1.5]
    got = studio.get(f"{base}/download", params={"path": "parts/notes.txt"})
    assert got.status_code == 200 and got.content == b"not a table"
    assert studio.get(f"{base}/files", params={"path": "../x"}).status_code == 400


# -- the tabular reader's limits, on files made here --------------------------------------------
def test_parquet_folders_and_the_limits(tmp_path, monkeypatch):
    import fsspec
    import pandas as pd

    from amlocal.server import page_tabular
    fs = fsspec.filesystem("file")
    frame = pd.DataFrame({"n": range(1000), "when": pd.date_range("2024-01-01", periods=1000,
                                                                    freq="h"),
                          "flag": [True, False] * 500, "cat": pd.Categorical(["u", "v"] * 500)})
    folder = tmp_path / "result"
    folder.mkdir()
    frame.iloc[:600].to_parquet(folder / "part-0.parquet", row_group_size=100)
    frame.iloc[600:].to_parquet(folder / "part-1.parquet", row_group_size=100)
    (folder / "ignored.csv").write_text("a\n1\n")          # Parquet files win, as Studio reads
    found = page_tabular.tabular_files([str(p) for p in folder.iterdir()])
    assert [Path(p).name for p in found] == ["part-0.parquet", "part-1.parquet"]
    result = page_tabular.preview(fs, found, ["part-0.parquet", "part-1.parquet"])
    assert result["totalRows"] == 1000 and result["rowsRead"] == 1000 and not result["truncated"]
    kinds = {c["name"]: c["kind"] for c in result["columns"]}
    assert kinds == {"n": "numeric", "when": "datetime", "flag": "boolean", "cat": "category"}
    when = result["columns"][1]
    assert when["histogram"][0]["low"].startswith("2024-01-01")

    monkeypatch.setattr(page_tabular, "MAX_ROWS", 250)     # rows: stops within the limit
    cut = page_tabular.preview(fs, found, ["part-0.parquet", "part-1.parquet"])
    assert cut["rowsRead"] == 250 and cut["truncated"] and cut["rowsShown"] == 100

    wide = tmp_path / "wide.csv"                           # columns and bytes
    wide.write_text(",".join(f"c{i}" for i in range(150)) + "\n"
                    + "".join(",".join(str(r) for _ in range(150)) + "\n" for r in range(200)))
    monkeypatch.setattr(page_tabular, "MAX_BYTES", 5000)
    bounded = page_tabular.preview(fs, [str(wide)], ["wide.csv"])
    assert len(bounded["columns"]) == page_tabular.MAX_COLUMNS == 100
    assert bounded["columnsTotal"] == 150 and bounded["truncated"]
    assert 0 < bounded["rowsRead"] < 200 and bounded["totalRows"] is None
    assert any("columns" in note for note in bounded["notes"])
