"""A SQL query as a step input, on a real PostgreSQL server and in real containers: the host runs
the query when the step starts and the step reads the rows as a TabularDataset (Parquet) through
``run.input_datasets``, ``Dataset.get_by_name`` and a DataPath parameter; the step's environment,
its log and its stored record hold no password; reuse follows the query and the rows it answers
(only the query with ``_amlocal_cache_result``); a broken query is refused at submit, and one
broken after it fails its step before the container starts, naming the datastore and the
database's message."""
from __future__ import annotations

import json
import textwrap

import pytest

pytestmark = pytest.mark.usefixtures("docker_engine")

READ = """
    import os, sys
    from azureml.core import Dataset, Run
    run = Run.get_context()
    table = run.input_datasets["flats"]
    frame = table.to_pandas_dataframe()
    print("ROWS", len(frame), sorted(frame["surface"].tolist()), str(frame["surface"].dtype),
          list(frame.columns))
    again = Dataset.get_by_name(run.experiment.workspace, "flats").to_pandas_dataframe()
    print("BY NAME", sorted(again["surface"].tolist()))
    password = os.environ["PG_PASSWORD_MARK"]
    print("PASSWORD IN ENV", sorted(k for k, v in os.environ.items()
                                    if password in v and k != "PG_PASSWORD_MARK"))
    print("MARKER", sys.argv[1:])
"""


def _src(tmp_path, **scripts):
    folder = tmp_path / "src"
    folder.mkdir(exist_ok=True)
    for name, text in scripts.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(text))
    return str(folder)


@pytest.fixture
def pg(workspace, postgres_url):
    """A PostgreSQL datastore 'flatsdb' over a fresh database holding table ``flats``."""
    import psycopg
    from sqlalchemy.engine import make_url
    from amlocal.core import Datastore
    url = make_url(postgres_url)
    with psycopg.connect(host=url.host, port=url.port, user=url.username, password=url.password,
                         dbname=url.database, autocommit=True) as conn:
        conn.execute("CREATE TABLE flats (surface integer, price double precision, city text)")
        conn.execute("INSERT INTO flats VALUES (50, 100.5, 'A'), (70, 150, 'B'), (90, 190, 'A')")
    store = Datastore.register_azure_postgre_sql(
        workspace, "flatsdb", url.host, url.database, url.username, url.password,
        port_number=url.port)
    return store, url


def _add_row(url, surface: int) -> None:
    import psycopg
    with psycopg.connect(host=url.host, port=url.port, user=url.username, password=url.password,
                         dbname=url.database, autocommit=True) as conn:
        conn.execute("INSERT INTO flats VALUES (%s, 1, 'C')", (surface,))


def _pipeline(workspace, src, dataset, password, name="read", sandbox=False):
    from amlocal.core.runconfig import RunConfiguration
    from amlocal.pipeline.core import Pipeline, PipelineData
    from amlocal.pipeline.steps import PythonScriptStep
    rc = RunConfiguration()
    rc.environment_variables = {"PG_PASSWORD_MARK": password}
    rc.docker.sandbox = sandbox   # no network, non-root: the rows come in as a file
    out = PipelineData("out", datastore=workspace.get_default_datastore())
    step = PythonScriptStep("read.py", name=name, source_directory=src, runconfig=rc,
                            arguments=["--out", out], inputs=[dataset.as_named_input("flats")],
                            outputs=[out])
    return Pipeline(workspace, [step])


def _step(run):
    status = run.wait_for_completion(show_output=False, raise_on_error=False)
    step = next(run.get_steps())
    return status, step


def test_query_input_is_read_in_a_sandboxed_container_without_credentials_and_reused_by_rows(
        workspace, pg, tmp_path):
    from amlocal.core import Dataset
    store, url = pg
    flats = Dataset.Tabular.from_sql_query(
        (store, "SELECT surface, price FROM flats WHERE city <> 'Z'"),
        set_column_types={"surface": float}).register(workspace, "flats")
    src = _src(tmp_path, read=READ)
    pipeline = _pipeline(workspace, src, flats, url.password, sandbox=True)

    status, step = _step(pipeline.submit("sql_input"))
    log = step.get_job_log()
    assert status == "Finished", log
    assert "ROWS 3 [50.0, 70.0, 90.0] float64 ['surface', 'price']" in log
    assert "BY NAME [50.0, 70.0, 90.0]" in log
    # only the variable the test set itself carries the password; nothing else the step sees
    assert "PASSWORD IN ENV []" in log
    record = json.dumps(step._info.definition) + json.dumps(step._info.properties)
    assert url.password not in record
    assert url.password not in log.replace(f"'{url.password}'", "")   # bar the test's own mark

    # the same query answering the same rows: reused
    status, again = _step(pipeline.submit("sql_input"))
    assert status == "Finished"
    assert again._info.reused_from == step.id
    # the same query on a changed table: runs again (the rows are part of the key)
    _add_row(url, 110)
    status, changed = _step(pipeline.submit("sql_input"))
    assert status == "Finished" and changed._info.reused_from is None
    assert "ROWS 4 [50.0, 70.0, 90.0, 110.0]" in changed.get_job_log()

    # another query: runs again and sees the new row
    other = Dataset.Tabular.from_sql_query(
        (store, "SELECT surface, price FROM flats"), set_column_types={"surface": float})
    other = other.register(workspace, "flats", create_new_version=True)
    status, third = _step(_pipeline(workspace, src, other, url.password, sandbox=True)
                          .submit("sql_input"))
    assert status == "Finished" and third._info.reused_from is None
    assert "ROWS 4 [50.0, 70.0, 90.0, 110.0]" in third.get_job_log()


def test_result_cache_opt_in_reuses_a_result_of_the_same_query(workspace, pg, tmp_path):
    from amlocal.core import Dataset
    store, url = pg
    flats = Dataset.Tabular.from_sql_query((store, "SELECT surface, price FROM flats"))
    flats._amlocal_cache_result = True
    flats = flats.register(workspace, "flats")
    pipeline = _pipeline(workspace, _src(tmp_path, read=READ), flats, url.password)
    status, first = _step(pipeline.submit("sql_cache"))
    assert status == "Finished", first.get_job_log()
    status, same = _step(pipeline.submit("sql_cache"))
    assert status == "Finished" and same._info.reused_from == first.id
    _add_row(url, 130)      # cached by the user's choice: the changed table is not looked at
    status, cached = _step(pipeline.submit("sql_cache"))
    assert status == "Finished" and cached._info.reused_from == first.id


def test_broken_query_is_named_at_submit_before_anything_runs(workspace, pg, tmp_path):
    from amlocal.core import Dataset, Experiment
    from amlocal.errors import UserErrorException
    store, url = pg
    broken = Dataset.Tabular.from_sql_query((store, "SELECT nope FROM flats"), validate=False)
    broken = broken.register(workspace, "flats")
    pipeline = _pipeline(workspace, _src(tmp_path, read=READ), broken, url.password)
    with pytest.raises(UserErrorException) as caught:
        pipeline.submit("sql_broken")
    text = str(caught.value)
    assert "step 'read', input 'flats'" in text and "flatsdb" in text
    assert 'column "nope" does not exist' in text and "fix the query" in text
    assert url.password not in text
    assert not list(Experiment(workspace, "sql_broken").get_runs())     # nothing recorded


def test_a_query_broken_after_submit_fails_its_step_before_its_container_starts(
        workspace, pg, tmp_path):
    """The table changes between the submission (where the query ran) and the step's start:
    the step reading it fails, naming the input and the database's message; its script never
    runs."""
    import psycopg
    from amlocal.core import Dataset
    from amlocal.pipeline.core import Pipeline, PipelineData
    from amlocal.pipeline.steps import PythonScriptStep
    store, url = pg
    flats = Dataset.Tabular.from_sql_query((store, "SELECT surface, city FROM flats"))
    flats = flats.register(workspace, "flats")
    src = _src(tmp_path, read=READ, hold="import time; time.sleep(4)\n")
    gate = PipelineData("gate", datastore=workspace.get_default_datastore())
    hold = PythonScriptStep("hold.py", name="hold", source_directory=src, outputs=[gate],
                            allow_reuse=False)
    read = PythonScriptStep("read.py", name="read", source_directory=src,
                            inputs=[flats.as_named_input("flats"), gate])
    run = Pipeline(workspace, [hold, read]).submit("sql_changed")
    with psycopg.connect(host=url.host, port=url.port, user=url.username, password=url.password,
                         dbname=url.database, autocommit=True) as conn:
        conn.execute("ALTER TABLE flats RENAME COLUMN city TO town")
    assert run.wait_for_completion(show_output=False, raise_on_error=False) == "Failed"
    steps = {s.name: s for s in run.get_steps()}
    assert steps["hold"].get_status() == "Finished"
    step = steps["read"]
    text = step.get_job_log() + json.dumps(step._info.error or {})
    assert "input 'flats'" in text and "flatsdb" in text
    assert 'column "city" does not exist' in text
    assert "MARKER" not in text             # the script never ran
    assert url.password not in text


def test_datapath_parameter_on_a_sql_datastore_gives_the_step_a_parquet_file(
        workspace, pg, tmp_path):
    from amlocal.core import Experiment
    from amlocal.core.conda_dependencies import CondaDependencies
    from amlocal.core.runconfig import RunConfiguration
    from amlocal.data.datapath import DataPath, DataPathComputeBinding
    from amlocal.pipeline.core import Pipeline, PipelineData, PipelineParameter
    from amlocal.pipeline.steps import PythonScriptStep
    store, url = pg
    query = PipelineParameter(name="query",
                              default_value=DataPath(store, "SELECT surface FROM flats",
                                                     name="rows"))
    pair = (query, DataPathComputeBinding(mode="mount"))
    out = PipelineData("out", datastore=workspace.get_default_datastore())
    src = _src(tmp_path, read="""
        import sys
        import pandas as pd
        path = sys.argv[2]
        print("FILE", path, sorted(pd.read_parquet(path)["surface"].tolist()))
    """)
    # a data reference is a file: the step declares what reads it (as for any file input)
    rc = RunConfiguration()
    rc.environment.python.conda_dependencies = CondaDependencies.create(
        pip_packages=["pandas", "pyarrow"])
    step = PythonScriptStep("read.py", name="read", source_directory=src, runconfig=rc,
                            arguments=["--rows", pair, "--out", out], inputs=[pair],
                            outputs=[out])
    pipeline = Pipeline(workspace, [step])
    status, first = _step(pipeline.submit("sql_datapath"))
    assert status == "Finished", first.get_job_log()
    assert "FILE /amlocal/inputs/rows/query.parquet [50, 70, 90]" in first.get_job_log()
    run = Experiment(workspace, "sql_datapath").submit(pipeline, pipeline_parameters={
        "query": DataPath(store, "SELECT surface FROM flats WHERE surface > 60")})
    status, second = _step(run)
    assert status == "Finished" and second._info.reused_from is None, second.get_job_log()
    assert "[70, 90]" in second.get_job_log()
