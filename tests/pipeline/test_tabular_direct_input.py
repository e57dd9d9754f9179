"""Datasets passed to a step in direct mode, read inside its container: run.input_datasets and
Dataset.get_by_name read the rows the runner bound (file datastore and Azure Blob on Azurite),
the step's environment gets pandas without declaring it, missing sources fail the step naming
them, and a step never sees a datastore's credentials."""
from __future__ import annotations

import textwrap

import pytest

pytestmark = pytest.mark.usefixtures("docker_engine")


def _src(tmp_path, **scripts):
    folder = tmp_path / "src"
    folder.mkdir(exist_ok=True)
    for name, text in scripts.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(text))
    return str(folder)


READ = """
    import os
    from azureml.core import Dataset, Run
    run = Run.get_context()
    ws = run.experiment.workspace
    table = run.input_datasets["sales"]
    frame = table.to_pandas_dataframe().sort_values("id")
    print("ROWS", len(frame), frame["id"].tolist(), frame["country"].tolist(),
          str(frame["amount"].dtype), frame["day"].dt.year.tolist())
    print("ID", table.id == os.environ["sales"], table.name, table.version)
    again = Dataset.get_by_name(ws, "sales").to_pandas_dataframe().sort_values("id")
    print("BY NAME", again.equals(frame))
    print("TAKE", Dataset.get_by_name(ws, "sales").take(1).to_pandas_dataframe()["id"].tolist())
    print("KEYS", table.get_partition_key_values(["country"]))
    # not an input: the host copies its files in through the run service (no credentials here)
    copies = Dataset.get_by_name(ws, "unused").download(target_path="unused_copy", overwrite=True)
    print("UNUSED", [open(path).read() for path in copies])
    bound = sorted(os.path.join(d, f) for d, _, fs in os.walk("/amlocal/inputs/sales") for f in fs)
    print("BOUND", [b[len("/amlocal/inputs/sales"):] for b in bound])
    try:
        open(bound[0], "a").write("9,90")
    except OSError as exc:
        print("READ ONLY", type(exc).__name__)
    if "notes" in run.input_datasets:   # a mounted input: get_by_name reads the mounted copy
        got = Dataset.get_by_name(ws, "notes").download(target_path="dl")
        print("NOTES", [os.path.basename(g) for g in got], open(got[0]).read())
    mark = os.environ.get("SECRET_MARK")
    if mark:
        print("SECRET IN", sorted(k for k, v in os.environ.items() if mark in v and k != "SECRET_MARK"))
"""


def _lake(tmp_path):
    root = tmp_path / "lake"
    for country, day, text in [("US", "2020/01/02", "id,amount\n1,10\n2,20\n"),
                               ("DE", "2021/12/31", "id,amount\n3,30\n")]:
        (root / "sales" / country / day).mkdir(parents=True)
        (root / "sales" / country / day / "data.csv").write_text(text)
    (root / "unused.txt").write_text("not an input")
    (root / "notes.txt").write_text("mounted notes")
    return root


def test_direct_tabular_input_reads_its_rows_in_the_container(workspace, tmp_path):
    from amlocal.core import Dataset, Datastore
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import PythonScriptStep

    lake = Datastore.register(workspace, "lake", url=str(_lake(tmp_path)))
    sales = Dataset.Tabular.from_delimited_files(
        (lake, "sales/**/data.csv"), set_column_types={"amount": float},
        partition_format="/{country}/{day:yyyy/MM/dd}/data.csv").register(workspace, "sales")
    Dataset.File.from_files((lake, "unused.txt")).register(workspace, "unused")
    notes = Dataset.File.from_files((lake, "notes.txt")).register(workspace, "notes")
    gone = Dataset.Tabular.from_delimited_files((lake, "gone/*.csv"), validate=False)
    src = _src(tmp_path, read=READ, missing="""
        from azureml.core import Run
        Run.get_context().input_datasets["gone"].to_pandas_dataframe()
        print("NEVER")
    """)
    # no runconfig: the default environment declares no pandas; reading a table adds it
    read = PythonScriptStep("read.py", name="read", source_directory=src,
                            inputs=[sales.as_named_input("sales")],
                            arguments=[notes.as_named_input("notes").as_mount()])
    missing = PythonScriptStep("missing.py", name="missing", source_directory=src,
                               arguments=[gone.as_named_input("gone")])
    run = Pipeline(workspace, [read, missing]).submit("direct", continue_on_step_failure=True)
    assert run.wait_for_completion(show_output=False, raise_on_error=False) == "Failed"
    steps = {s.name: s for s in run.get_steps()}
    assert steps["read"].get_status() == "Finished"
    log = steps["read"].get_job_log()
    assert "ROWS 3 [1, 2, 3] ['US', 'US', 'DE'] float64 [2020, 2020, 2021]" in log
    assert "ID True sales 1" in log
    assert "BY NAME True" in log and "TAKE [3]" in log   # files in path order: DE first
    assert "KEYS [{'country': 'DE'}, {'country': 'US'}]" in log
    assert "UNUSED ['not an input']" in log
    assert "BOUND ['/DE/2021/12/31/data.csv', '/US/2020/01/02/data.csv']" in log
    assert "READ ONLY" in log
    assert "NOTES ['notes.txt'] mounted notes" in log
    # the failing step names the source that matched nothing, not an empty frame
    assert steps["missing"].get_status() == "Failed"
    bad = steps["missing"].get_job_log()
    assert "No file matches ('lake', 'gone/*.csv')" in bad and "NEVER" not in bad


def test_direct_tabular_input_on_azure_blob_is_bound_without_credentials(
        workspace, azurite, tmp_path):
    import uuid
    from amlocal.core import Dataset, Datastore
    from amlocal.core.environment import Environment
    from amlocal.core.runconfig import RunConfiguration
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import PythonScriptStep

    blob = Datastore.register_azure_blob_container(
        workspace, "lake", f"direct-{uuid.uuid4().hex[:12]}", azurite.account, account_key=azurite.key,
        endpoint=azurite.endpoint, create_if_not_exists=True)
    blob.upload(str(_lake(tmp_path)), show_progress=False)
    sales = Dataset.Tabular.from_delimited_files(
        (blob, "sales/**/data.csv"), set_column_types={"amount": float},
        partition_format="/{country}/{day:yyyy/MM/dd}/data.csv").register(workspace, "sales")
    Dataset.File.from_files((blob, "unused.txt")).register(workspace, "unused")
    rc = RunConfiguration()
    rc.environment = Environment("reader")
    rc.environment_variables = {"SECRET_MARK": azurite.key[:24]}
    src = _src(tmp_path, read=READ)
    step = PythonScriptStep("read.py", name="read", source_directory=src, runconfig=rc,
                            inputs=[sales.as_named_input("sales")])
    run = Pipeline(workspace, [step]).submit("direct_blob")
    assert run.wait_for_completion(show_output=False) == "Finished"
    log = next(run.get_steps()).get_job_log()
    assert "ROWS 3 [1, 2, 3] ['US', 'US', 'DE'] float64 [2020, 2020, 2021]" in log
    assert "BY NAME True" in log and "KEYS [{'country': 'DE'}, {'country': 'US'}]" in log
    assert "UNUSED ['not an input']" in log
    # no variable but the marker the test set holds (a part of) the account key
    assert "SECRET IN []" in log and azurite.key not in log
