"""ApplySqlTransformationStep without containers: the checks made on the host before anything
runs, and the runtime's SQLite work (the same code the step's container runs) on real SQLite:
statements, the output statement, types pandas -> SQLite -> pandas, empty results and errors."""
from __future__ import annotations

import datetime as dt

import pytest


def _step(script, **inputs):
    from amlocal.pipeline.steps import ApplySqlTransformationStep
    return ApplySqlTransformationStep(script, **inputs)


def _table(workspace, tmp_path):
    from amlocal.core import Dataset, Datastore
    (tmp_path / "flats.csv").write_text("id,surface\n1,20\n")
    store = Datastore.register(workspace, "lake", url=str(tmp_path))
    return Dataset.Tabular.from_delimited_files((store, "flats.csv"))


def test_bad_scripts_are_refused_on_the_host_naming_the_statement(workspace, tmp_path):
    from amlocal.errors import UserErrorException
    flats = _table(workspace, tmp_path)
    cases = [
        ("", {}, "script must be the SQLite script itself"),
        ("-- nothing\n/* at all */", {}, "holds only comments"),
        ("CREATE TABLE x AS SELECT * FROM t1; UPDATE x SET id = 2;", {"t1": flats},
         r"has no SELECT statement \(it has CREATE, UPDATE\).*end the script with one"),
        ("SELECT * FROM t1;\nSELECT id FROM t1 WHERE (", {"t1": flats},
         r"statement 2 of 2 \(line 2: SELECT id FROM t1 WHERE \(\): incomplete input"),
        ("SELEKT 1;\nSELECT 2", {}, r'statement 1 of 2 \(line 1: SELEKT 1\): near "SELEKT": syntax error'),
        ("SELECT * FROM t1 JOIN t2 USING (id)", {"t1": flats},
         r"no such table: t2; the step's input t2 is not connected: pass t2= to "
         "ApplySqlTransformationStep"),
        ("ATTACH 'other.db' AS o; SELECT 1", {}, "ATTACH and DETACH are refused"),
    ]
    for script, inputs, message in cases:
        with pytest.raises(UserErrorException, match=message):
            _step(script, **inputs)
    with pytest.raises(UserErrorException, match="script file 'missing.sql' was not found"):
        _step("missing.sql")
    with pytest.raises(UserErrorException, match="t1 .* is not a table input"):
        _step("SELECT * FROM t1", t1=42)
    # a table the script makes itself under an input's name is no missing input
    step = _step("CREATE TABLE t2 AS SELECT 1 AS one; SELECT * FROM t1 JOIN t2", t1=flats)
    assert step.name == "Apply SQL Transformation"
    assert step.result_dataset.name == "Apply_SQL_Transformation_result_dataset"
    assert step.sandbox == {"network": False}


def test_the_step_is_a_content_addressed_studio_module(workspace, tmp_path):
    import subprocess
    import sys
    from pathlib import Path
    script = tmp_path / "join flats.sql"
    script.write_text("SELECT * FROM t1;")
    flats = _table(workspace, tmp_path)
    step = _step(str(script), t1=flats)
    again = _step("SELECT * FROM t1;", t1=flats)
    assert step.name == "join flats" and step.result_dataset.name == "join_flats_result_dataset"
    assert step.source_directory == again.source_directory           # same script, same snapshot
    assert (Path(step.source_directory) / "apply_sql_script.sql").read_text() == "SELECT * FROM t1;"
    assert set(step.runconfig.environment.python.conda_dependencies.pip_packages) >= {
        "pandas==2.2.3", "pyarrow==18.1.0"}
    assert step.runconfig.environment.name == "AzureML-Studio-Anaconda"
    # and through the azureml alias
    out = subprocess.run([sys.executable, "-c", "from amlocal import compat; compat.install(); "
                          "from azureml.pipeline.steps import ApplySqlTransformationStep as S; "
                          "print(S.__module__)"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "amlocal.pipeline.steps.apply_sql_transformation_step"


def test_statements_and_the_output_statement():
    from amlocal._engine.sql_script import QUERY, parse_script
    script = parse_script(
        "-- make a table\nCREATE TABLE x AS SELECT * FROM t1; /* ; */\n"
        "INSERT INTO x VALUES ('a;b', \"q;\");\n"
        "CREATE TRIGGER tr AFTER INSERT ON x BEGIN UPDATE x SET id = 1; END;\n"
        "WITH c AS (SELECT 1) INSERT INTO x SELECT * FROM c;\n"
        "WITH RECURSIVE c(n) AS (VALUES(1) UNION ALL SELECT n + 1 FROM c WHERE n < 3) SELECT * FROM c;\n"
        "PRAGMA table_info(x)")
    kinds = [(s.number, s.line, s.kind) for s in script.statements]
    assert kinds == [(1, 2, "create"), (2, 3, "insert"), (3, 4, "create"), (4, 5, "insert"),
                     (5, 6, QUERY), (6, 7, "pragma")]
    assert script.statements[2].text.endswith("SET id = 1; END")
    assert script.output == 4            # the last SELECT, not the PRAGMA after it


def test_types_cross_pandas_sqlite_pandas():
    import pandas as pd
    from amlocal._runtime.apply_sql import run_script
    t1 = pd.DataFrame({
        "id": [1, 2, 3], "surface": [20.5, None, 40.0], "ok": [True, False, True],
        "when": pd.to_datetime(["2024-01-01", "2024-02-01 10:00:00.5", None], format="ISO8601"),
        "name": ["a", None, "c"], "model": [b"\x00pickle", b"\x01", None],
        "n": pd.array([1, None, 3], dtype="Int64"),
        "day": [dt.date(2024, 1, 1), None, dt.date(2024, 1, 3)],
        "took": pd.to_timedelta([1.5, 2, 3], unit="s")}, index=[5, 6, 7])
    t2 = pd.DataFrame({"id": [1, 3], "price": [100, 300]})
    out = run_script("SELECT t1.*, t2.price, t2.id, julianday(t1.\"when\") > 0 AS later "
                     "FROM t1 LEFT JOIN t2 ON t1.id = t2.id ORDER BY t1.id", {"t1": t1, "t2": t2})
    assert list(out.columns) == ["id", "surface", "ok", "when", "name", "model", "n", "day",
                                 "took", "price", "id (2)", "later"]
    assert {c: str(t) for c, t in out.dtypes.items()} == {
        "id": "int64", "surface": "float64", "ok": "bool", "when": "datetime64[ns]",
        "name": "object", "model": "object", "n": "Int64", "day": "object",
        "took": "timedelta64[ns]", "price": "Int64", "id (2)": "Int64", "later": "Int64"}
    assert list(out.index) == [0, 1, 2]
    assert out["surface"].isna().tolist() == [False, True, False]
    assert out["when"].tolist()[:2] == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-02-01 10:00:00.5")]
    assert out["model"].tolist() == [b"\x00pickle", b"\x01", None]
    assert out["day"].tolist() == [dt.date(2024, 1, 1), None, dt.date(2024, 1, 3)]
    assert out["took"].tolist()[0] == pd.Timedelta(seconds=1.5)
    assert out["price"].tolist()[0] == 100 and out["price"].isna().tolist() == [False, True, False]
    # names SQLite takes as one are renamed as duplicates are
    clash = run_script("SELECT * FROM t1", {"t1": pd.DataFrame([[1, 2, 3]], columns=["A", "a", "a"])})
    assert list(clash.columns) == ["A", "a (2)", "a (3)"] and clash.values.tolist() == [[1, 2, 3]]
    # an empty result keeps its columns, typed by what they were declared
    empty = run_script("SELECT id, surface, ok, name, id * 2 AS twice FROM t1 WHERE 0", {"t1": t1})
    assert len(empty) == 0
    assert {c: str(t) for c, t in empty.dtypes.items()} == {
        "id": "int64", "surface": "float64", "ok": "bool", "name": "object", "twice": "object"}


def test_runtime_errors_name_the_statement_and_sqlite_message():
    import pandas as pd
    from amlocal._runtime.apply_sql import SqlUserError, run_script
    t1 = pd.DataFrame({"id": [1, 2], "label": ["a", "b"]})
    cases = [
        ("SELECT 1;\nSELECT nope FROM t1", r"statement 2 of 2 \(line 2: SELECT nope FROM t1\): "
                                           "no such column: nope"),
        ("SELECT * FROM t3", "no such table: t3; the step's input t3 is not connected"),
        ("SELECT id FROM t1 UNION ALL SELECT label FROM t1",
         r"result column 'id' mixes INTEGER and TEXT values .* CAST\(\"id\" AS TEXT\)"),
        ("INSERT INTO t1 VALUES (1)", "has no SELECT statement"),
    ]
    for script, message in cases:
        with pytest.raises(SqlUserError, match=message):
            run_script(script, {"t1": t1})
    with pytest.raises(SqlUserError, match=r"input t1 column 'x' holds a dict value.*json.dumps"):
        run_script("SELECT * FROM t1", {"t1": pd.DataFrame({"x": [{"a": 1}]})})
    with pytest.raises(SqlUserError, match="beyond SQLite's 64-bit integers"):
        run_script("SELECT * FROM t1", {"t1": pd.DataFrame({"x": pd.Series([2 ** 64 - 1], dtype="uint64")})})
    # statements run in order, in autocommit: the script's own transactions work
    out = run_script("BEGIN; CREATE TABLE x (v INTEGER); INSERT INTO x VALUES (1), (2); COMMIT;\n"
                     "DELETE FROM x WHERE v = 1; SELECT v, typeof(v) AS t FROM x", {"t1": None})
    assert out.to_dict("list") == {"v": [2], "t": ["integer"]}
