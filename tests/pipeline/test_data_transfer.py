"""DataTransferStep on the host against real databases (SQLite and a real PostgreSQL the tests
start): files into a table (append, replace, types), a query or a table out to a datastore path
and to a PipelineData, one step's output into a table, a schema mismatch naming the column,
reuse, and what is refused at construction. No container is involved: the runner moves the
data itself."""
from __future__ import annotations

import json

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, workspace, tmp_path):
    from amlocal.core import Datastore
    url = (f"sqlite:///{tmp_path}/transfer.db" if request.param == "sqlite"
           else request.getfixturevalue("postgres_url"))
    return Datastore.register_sql(workspace, "db", url)


@pytest.fixture
def lake(workspace):
    """The default (file://) datastore and its host folder."""
    from pathlib import Path

    from amlocal.datastores.fs import local_path
    store = workspace.get_default_datastore()
    return store, Path(local_path(store.url))


def _rows(db, query: str):
    from amlocal.datastores.sql import read_query
    return read_query(db._info, query)


def _run(workspace, steps, experiment="transfer"):
    from amlocal.pipeline.core import Pipeline
    run = Pipeline(workspace, steps).submit(experiment)
    status = run.wait_for_completion(show_output=False, raise_on_error=False)
    return run, status, {s.name: s for s in run.get_steps()}


def _pipeline_log(run) -> str:
    from amlocal._status import PIPELINE_LOG
    return run._store.read_artifact(run.id, PIPELINE_LOG).decode()


def test_files_into_a_table_append_reuse_and_replace(db, lake):
    from amlocal.data.data_reference import DataReference
    from amlocal.data.sql_data_reference import SqlDataReference
    from amlocal.pipeline.steps import DataTransferStep
    store, root = lake
    (root / "raw").mkdir()
    (root / "raw" / "flats.csv").write_text("surface,price,city\n30,120000.5,Lyon\n55,230000,Nice\n")

    def load(mode="append", allow_reuse=True):
        return DataTransferStep(
            "load", source_data_reference=DataReference(store, path_on_datastore="raw/flats.csv"),
            destination_data_reference=SqlDataReference(db, sql_table="flats", write_mode=mode),
            compute_target="my-data-factory", allow_reuse=allow_reuse)

    run, status, steps = _run(db.workspace, [load()])
    assert status == "Finished"
    log = steps["load"].get_job_log()
    assert "read 2 row(s) from ('workspaceblobstore', 'raw/flats.csv')" in log
    assert "appended 2 row(s): table 'flats' on SQL datastore 'db'" in log
    assert "compute_target 'my-data-factory' (Azure Data Factory) is not used locally" in log
    assert _rows(db, "SELECT count(*) AS n FROM flats")["n"][0] == 2
    # the step's output (for later steps to depend on) says what was written
    summary = steps["load"].get_output_data("load_data_transfer_output")
    assert json.loads((root / summary.path_on_datastore / "transfer.json").read_text()) == {
        "datastore": "db", "table": "flats", "mode": "append", "rows": 2,
        "source": "('workspaceblobstore', 'raw/flats.csv')"}

    # the same file again: reused, nothing appended twice
    again, status, steps = _run(db.workspace, [load()])
    assert status == "Finished"
    assert "reused the outputs of step run" in _pipeline_log(again)
    assert _rows(db, "SELECT count(*) AS n FROM flats")["n"][0] == 2
    # ... unless allow_reuse=False
    _, status, steps = _run(db.workspace, [load(allow_reuse=False)])
    assert status == "Finished" and "allow_reuse=False on this step" in steps["load"].get_job_log()
    assert _rows(db, "SELECT count(*) AS n FROM flats")["n"][0] == 4

    # a changed file is appended
    (root / "raw" / "flats.csv").write_text("surface,price,city\n80,310000,Paris\n")
    _, status, _ = _run(db.workspace, [load()])
    assert status == "Finished"
    frame = _rows(db, "SELECT surface, price, city FROM flats ORDER BY surface")
    assert frame["surface"].tolist() == [30, 30, 55, 55, 80]
    assert frame["city"].tolist() == ["Lyon", "Lyon", "Nice", "Nice", "Paris"]
    assert frame["price"].tolist() == [120000.5, 120000.5, 230000.0, 230000.0, 310000.0]

    # replace recreates the table from the data
    (root / "raw" / "flats.csv").write_text("surface,price\n20,90000\n")
    _, status, steps = _run(db.workspace, [load("replace")])
    assert status == "Finished"
    assert "replaced the table with 1 row(s)" in steps["load"].get_job_log()
    assert _rows(db, "SELECT * FROM flats").to_dict("list") == {"surface": [20], "price": [90000]}


def test_types_are_mapped(db, lake):
    import pandas as pd
    import sqlalchemy as sa

    from amlocal.data.data_reference import DataReference
    from amlocal.data.sql_data_reference import SqlDataReference
    from amlocal.datastores.sql import engine_for
    from amlocal.pipeline.steps import DataTransferStep
    store, root = lake
    (root / "typed").mkdir()
    pd.DataFrame({
        "n": pd.Series([1, 2], dtype="int64"), "small": pd.Series([3, 4], dtype="int32"),
        "x": [0.5, 1.5], "ok": [True, False], "label": ["a", "b"],
        "at": pd.to_datetime(["2026-01-02 03:04:05", "2026-02-03 04:05:06"]),
        "at_utc": pd.to_datetime(["2026-01-02 03:04:05", "2026-02-03 04:05:06"], utc=True),
    }).to_parquet(root / "typed" / "part-0.parquet", index=False)
    step = DataTransferStep("types", source_data_reference=DataReference(store, path_on_datastore="typed"),
                            destination_data_reference=SqlDataReference(db, sql_table="typed"))
    _, status, _ = _run(db.workspace, [step])
    assert status == "Finished"
    engine = engine_for(db._info)
    try:
        columns = {c["name"]: c["type"] for c in sa.inspect(engine).get_columns("typed")}
    finally:
        engine.dispose()
    assert isinstance(columns["n"], sa.BigInteger) or "INT" in str(columns["n"]).upper()
    assert isinstance(columns["small"], sa.Integer)
    assert isinstance(columns["x"], sa.Float)
    assert isinstance(columns["label"], (sa.Text, sa.String))
    back = _rows(db, "SELECT * FROM typed ORDER BY n")
    assert back["n"].tolist() == [1, 2] and back["x"].tolist() == [0.5, 1.5]
    assert back["label"].tolist() == ["a", "b"]
    if db._info.url.startswith("postgresql"):
        assert isinstance(columns["ok"], sa.Boolean)
        assert isinstance(columns["at"], sa.DateTime) and not columns["at"].timezone
        assert isinstance(columns["at_utc"], sa.DateTime) and columns["at_utc"].timezone
        assert back["ok"].tolist() == [True, False]
        assert str(back["at"][0]) == "2026-01-02 03:04:05"
        assert back["at_utc"][1] == pd.Timestamp("2026-02-03 04:05:06", tz="UTC")
    else:   # SQLite has no boolean or timestamp: 0/1 and text, as the mapping table says
        assert back["ok"].tolist() == [1, 0]
        assert str(back["at"][0]).startswith("2026-01-02 03:04:05")


def test_query_and_table_out_to_paths_and_pipeline_data(db, lake):
    import pandas as pd

    from amlocal.data.data_reference import DataReference
    from amlocal.data.datapath import DataPath, DataPathComputeBinding
    from amlocal.data.sql_data_reference import SqlDataReference
    from amlocal.datastores.sql import write_table
    from amlocal.pipeline.core import PipelineData
    from amlocal.pipeline.steps import DataTransferStep
    store, root = lake
    write_table(db._info, "src", pd.DataFrame({"k": [2, 1, 3], "v": ["b", "a", "c"]}))
    ordered = SqlDataReference(db, sql_query="SELECT k, v FROM src ORDER BY k")
    to_csv = DataTransferStep("to csv", source_data_reference=ordered,
                              destination_data_reference=DataReference(
                                  store, path_on_datastore="exports/src.csv"))
    to_folder = DataTransferStep(
        "to folder", source_data_reference=SqlDataReference(db, sql_table="src"),
        destination_data_reference=(DataPath(store, "exports/folder"), DataPathComputeBinding()),
        destination_reference_type="directory")
    rows = PipelineData("rows", datastore=store)
    to_data = DataTransferStep("to data", source_data_reference=ordered,
                               destination_data_reference=rows)
    back = DataTransferStep("back", source_data_reference=to_data.get_output(),
                            destination_data_reference=SqlDataReference(db, sql_table="copy"))
    subset = DataTransferStep(
        "subset", source_data_reference=SqlDataReference(db, sql_query="SELECT k FROM src "
                                                                         "WHERE k > 1"),
        destination_data_reference=SqlDataReference(db, sql_table="subset", write_mode="replace"))
    run, status, steps = _run(db.workspace, [to_csv, to_folder, back, subset])
    assert status == "Finished", _pipeline_log(run)
    assert to_data.get_output() is rows
    assert (root / "exports" / "src.csv").read_text() == "k,v\n1,a\n2,b\n3,c\n"
    folder = pd.read_parquet(root / "exports" / "folder" / "data.parquet")
    assert sorted(folder["k"].tolist()) == [1, 2, 3]
    assert "wrote 3 row(s) to ('workspaceblobstore', 'exports/src.csv') as csv" in \
        steps["to csv"].get_job_log()
    produced = steps["to data"].get_output_data("rows")
    assert pd.read_parquet(root / produced.path_on_datastore / "data.parquet")["k"].tolist() == [1, 2, 3]
    assert _rows(db, "SELECT k, v FROM copy ORDER BY k").to_dict("list") == \
        {"k": [1, 2, 3], "v": ["a", "b", "c"]}
    assert sorted(_rows(db, "SELECT k FROM subset")["k"].tolist()) == [2, 3]
    # a SQL source is read afresh on every run (the database may have changed)
    write_table(db._info, "src", pd.DataFrame({"k": [4], "v": ["d"]}))
    again, status, steps = _run(db.workspace, [to_csv])
    assert status == "Finished"
    assert "the source is a SQL table or query, read afresh on every run" in \
        steps["to csv"].get_job_log()
    assert (root / "exports" / "src.csv").read_text() == "k,v\n1,a\n2,b\n3,c\n4,d\n"


def test_a_schema_mismatch_names_the_column_and_writes_nothing(db, lake):
    import pandas as pd

    from amlocal.data.data_reference import DataReference
    from amlocal.data.sql_data_reference import SqlDataReference
    from amlocal.datastores.sql import write_table
    from amlocal.pipeline.steps import DataTransferStep
    store, root = lake
    write_table(db._info, "flats", pd.DataFrame({"surface": [30], "price": [100000.0]}))
    (root / "bad.csv").write_text("surface,price\n40,cheap\n")
    step = DataTransferStep("load", source_data_reference=DataReference(store, path_on_datastore="bad.csv"),
                            destination_data_reference=SqlDataReference(db, sql_table="flats"))
    run, status, steps = _run(db.workspace, [step])
    assert status == "Failed"
    error = steps["load"].get_details()["error"]["message"]
    assert "'price'" in error and "flats" in error
    assert "'price'" in steps["load"].get_job_log()
    assert _rows(db, "SELECT count(*) AS n FROM flats")["n"][0] == 1

    (root / "extra.csv").write_text("surface,price,rooms\n40,1.0,3\n")
    step = DataTransferStep("load", source_data_reference=DataReference(store, path_on_datastore="extra.csv"),
                            destination_data_reference=SqlDataReference(db, sql_table="flats"))
    _, status, steps = _run(db.workspace, [step])
    assert status == "Failed"
    assert "no column 'rooms'" in steps["load"].get_details()["error"]["message"]


def test_construction_refuses_what_cannot_be_transferred(workspace, tmp_path):
    from amlocal.data.stored_procedure_parameter import (StoredProcedureParameter,
                                                         StoredProcedureParameterType)
    from amlocal.core import Dataset, Datastore
    from amlocal.data.data_reference import DataReference
    from amlocal.data.sql_data_reference import SqlDataReference
    from amlocal.errors import UserErrorException
    from amlocal.pipeline.steps import DataTransferStep
    db = Datastore.register_sql(workspace, "db", f"sqlite:///{tmp_path}/v.db")
    files = workspace.get_default_datastore()
    table = SqlDataReference(db, sql_table="t")
    path = DataReference(files, path_on_datastore="x.csv")
    with pytest.raises(ValueError, match="name is required"):
        DataTransferStep(None, path, table)
    with pytest.raises(ValueError, match="source_data_reference is required"):
        DataTransferStep("s", destination_data_reference=table)
    with pytest.raises(ValueError, match="destination_data_reference is required"):
        DataTransferStep("s", source_data_reference=path)
    with pytest.raises(ValueError, match="Possible values include: file, directory"):
        DataTransferStep("s", path, table, destination_reference_type="table")
    with pytest.raises(UserErrorException, match="not a SQL database"):
        SqlDataReference(files, sql_table="t")
    with pytest.raises(UserErrorException, match="exactly one of sql_table, sql_query"):
        SqlDataReference(db, sql_table="t", sql_query="SELECT 1")
    with pytest.raises(UserErrorException, match="write_mode 'upsert' is not valid"):
        SqlDataReference(db, sql_table="t", write_mode="upsert")
    with pytest.raises(UserErrorException, match="has no sql_table"):   # a procedure as sink
        DataTransferStep("s", path, SqlDataReference(db, sql_stored_procedure="refresh"))
    with pytest.raises(UserErrorException, match="give StoredProcedureParameter"):
        SqlDataReference(db, sql_stored_procedure="refresh", sql_stored_procedure_params=[3])
    with pytest.raises(UserErrorException, match="'n': 'x' is not a valid Int value"):
        SqlDataReference(db, sql_stored_procedure="refresh", sql_stored_procedure_params=[
            StoredProcedureParameter("n", "x", StoredProcedureParameterType.Int)])
    with pytest.raises(UserErrorException, match="has no sql_table"):
        DataTransferStep("s", path, SqlDataReference(db, sql_query="SELECT 1"))
    with pytest.raises(UserErrorException, match="names SQL datastore 'db' as a path"):
        DataTransferStep("s", DataReference(db, path_on_datastore="t"), path)
    with pytest.raises(UserErrorException, match="a dataset .* is not a transfer source"):
        DataTransferStep("s", Dataset.File.from_files((files, "x.csv"), validate=False), table)
    for method in ("as_mount", "as_download", "as_upload", "to_config", "path"):
        with pytest.raises(NotImplementedError, match="SqlDataReference does not support"):
            getattr(table, method)()
    assert str(table).startswith("$AZUREML_DATAREFERENCE_")
    step = DataTransferStep("s", path, table)
    assert step.get_output().name == "s_data_transfer_output"
    assert step._output._producer is step
    # a datastore unregistered since is named when the pipeline is validated (or submitted)
    from amlocal.pipeline.core import Pipeline
    db.unregister()
    problems = Pipeline(workspace, [step]).validate()
    assert any("datastore 'db' is not registered in workspace" in p for p in problems), problems


def test_datapath_parameters_choose_source_and_destination(workspace, lake):
    import pandas as pd

    from amlocal.data.datapath import DataPath, DataPathComputeBinding
    from amlocal.pipeline.core import Pipeline, PipelineParameter
    from amlocal.pipeline.steps import DataTransferStep
    store, root = lake
    (root / "in").mkdir()
    (root / "in" / "a.csv").write_text("k\n1\n")
    (root / "in" / "b.csv").write_text("k\n2\n")
    source = PipelineParameter("source", default_value=DataPath(store, "in/a.csv"))
    target = PipelineParameter("target", default_value=DataPath(store, "out/a.parquet"))
    step = DataTransferStep("convert", source_data_reference=(source, DataPathComputeBinding()),
                            destination_data_reference=(target, DataPathComputeBinding()))
    pipeline = Pipeline(workspace, [step])
    assert pipeline.submit("params").wait_for_completion(show_output=False) == "Finished"
    assert pd.read_parquet(root / "out" / "a.parquet")["k"].tolist() == [1]
    run = pipeline.submit("params", pipeline_parameters={
        "source": DataPath(store, "in/b.csv"), "target": DataPath(store, "out/b.csv")})
    assert run.wait_for_completion(show_output=False) == "Finished"
    assert (root / "out" / "b.csv").read_text() == "k\n2\n"   # same format: copied as it is
    (step_run,) = list(run.get_steps())
    assert "copied 1 file(s)" in step_run.get_job_log()


def test_a_stored_procedure_source_is_called_with_its_parameters(workspace, lake, postgres_url):
    """PostgreSQL: a function returning rows, called with parameters bound by name (typed as
    StoredProcedureParameterType says); its result set lands in a datastore file. SQLite has
    no procedures: the step fails naming the fix."""
    import psycopg
    from sqlalchemy.engine import make_url

    from amlocal.core import Datastore
    from amlocal.data.data_reference import DataReference
    from amlocal.data.sql_data_reference import SqlDataReference
    from amlocal.data.stored_procedure_parameter import (StoredProcedureParameter,
                                                         StoredProcedureParameterType as T)
    from amlocal.pipeline.steps import DataTransferStep
    url = make_url(postgres_url)
    with psycopg.connect(host=url.host, port=url.port, user=url.username, password=url.password,
                         dbname=url.database, autocommit=True) as conn:
        conn.execute("CREATE TABLE flats (surface integer, city text, furnished boolean)")
        conn.execute("INSERT INTO flats VALUES (30, 'Lyon', true), (55, 'Nice', false), "
                     "(80, 'Lyon', false), (95, 'Lyon', true)")
        conn.execute("CREATE FUNCTION big_flats(min_surface integer, in_city text, "
                     "is_furnished boolean) RETURNS TABLE(surface integer, city text) AS $$ "
                     "SELECT surface, city FROM flats WHERE surface >= min_surface "
                     "AND city = in_city AND furnished = is_furnished ORDER BY surface $$ "
                     "LANGUAGE sql")
    db = Datastore.register_sql(workspace, "pg", postgres_url)
    store, root = lake
    procedure = SqlDataReference(db, sql_stored_procedure="big_flats", sql_stored_procedure_params=[
        StoredProcedureParameter("in_city", "Lyon"),
        StoredProcedureParameter("min_surface", "50", T.Int),
        StoredProcedureParameter("is_furnished", "true", T.Boolean)])
    out = DataReference(store, path_on_datastore="exports/big.csv")
    _, status, steps = _run(workspace, [DataTransferStep("export", procedure, out)])
    assert status == "Finished", steps["export"].get_job_log()
    assert (root / "exports" / "big.csv").read_text().splitlines() == ["surface,city", "95,Lyon"]
    assert "stored procedure 'big_flats'" in steps["export"].get_job_log()

    lite = Datastore.register_sql(workspace, "lite", f"sqlite:///{root / 'lite.db'}")
    _, status, steps = _run(workspace, [DataTransferStep(
        "export2", SqlDataReference(lite, sql_stored_procedure="anything"), out)])
    assert status == "Failed"
    assert "sqlite databases have no stored procedures" in steps["export2"].get_job_log()
