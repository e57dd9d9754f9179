"""MySQL datastores against a real MySQL-compatible server: Debian's MariaDB, started by the
tests (``mariadb``/``mysql_url`` in conftest.py, tests/mariadb.py). ``register_azure_my_sql``
really connects (host mapping, driver, password kept out of the URL and masked in a refused
sign-in), ``from_sql_query`` reads typed rows and names a broken query or a timeout,
``write_table`` appends and replaces with MySQL's side of the type mapping (no digit, microsecond,
time zone or byte lost), a schema mismatch names the column, and DataTransferStep moves a file
into a table and a stored procedure's rows (parameters bound by name) out to a datastore CSV.
No container is involved: the runner moves the data itself."""
from __future__ import annotations

import datetime as dt
import decimal

import pytest


def _admin(url: str, database: bool = True):
    """A pymysql connection to the test database (autocommit)."""
    import pymysql
    from sqlalchemy.engine import make_url
    u = make_url(url)
    return pymysql.connect(host=u.host, port=u.port, user=u.username, password=u.password,
                           database=u.database if database else None, autocommit=True)


def _execute(url: str, *statements: str) -> None:
    conn = _admin(url)
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
    finally:
        conn.close()


@pytest.fixture
def db(workspace, mysql_url):
    """An AzureMySql datastore 'db' over a fresh database."""
    from sqlalchemy.engine import make_url

    from amlocal.core import Datastore
    u = make_url(mysql_url)
    return Datastore.register_azure_my_sql(workspace, "db", u.host, u.database, u.username,
                                           u.password, port_number=u.port)


def _rows(db, query: str):
    from amlocal.datastores.sql import read_query
    return read_query(db._info, query)


def _run(workspace, steps, experiment="mysql"):
    from amlocal.pipeline.core import Pipeline
    run = Pipeline(workspace, steps).submit(experiment)
    status = run.wait_for_completion(show_output=False, raise_on_error=False)
    return run, status, {s.name: s for s in run.get_steps()}


def test_register_azure_my_sql_connects_and_never_shows_the_password(workspace, mysql_url):
    from sqlalchemy.engine import make_url

    from amlocal.core import Datastore
    from amlocal.data.azure_my_sql_datastore import AzureMySqlDatastore
    u = make_url(mysql_url)
    ds = Datastore.register_azure_my_sql(workspace, "my", "127.0.0.1", u.database, u.username,
                                         u.password, port_number=u.port, endpoint=None)
    assert isinstance(ds, AzureMySqlDatastore) and ds.datastore_type == "AzureMySql"
    # endpoint=None: server_name is the host as given (Azure would append its suffix)
    assert ds.url == f"mysql+pymysql://{u.username}@127.0.0.1:{u.port}/{u.database}"
    assert (ds.server_name, ds.database_name, ds.user_id, ds.port_number) == (
        "127.0.0.1", u.database, u.username, u.port)
    stored = workspace._store.get_datastore(workspace._id, "my")
    assert stored.options["password"] == u.password and u.password not in stored.url
    assert u.password not in repr(ds) and ds._display_dict()["storage_options"]["password"] == "***"
    # the connection is real: the server says who and where we are
    who = _rows(ds, "SELECT CURRENT_USER() AS who, DATABASE() AS db, VERSION() AS v")
    assert who["who"][0] == f"{u.username}@%" and who["db"][0] == u.database
    assert "MariaDB" in who["v"][0]

    # amlocal's register_sql: mysql:// gets pymysql, the password leaves the URL
    generic = Datastore.register_sql(workspace, "my_url", mysql_url)
    assert generic.url == f"mysql+pymysql://{u.username}@127.0.0.1:{u.port}/{u.database}"
    assert _rows(generic, "SELECT 1 AS one")["one"].tolist() == [1]

    # a password URLs would have to quote works as given
    odd = "p@ss:w/rd%1?"
    _execute(mysql_url, f"CREATE USER 'odd'@'%' IDENTIFIED BY '{odd}'",
             f"GRANT SELECT ON `{u.database}`.* TO 'odd'@'%'")
    odd_ds = Datastore.register_azure_my_sql(workspace, "odd", "127.0.0.1", u.database, "odd",
                                             odd, port_number=u.port)
    assert _rows(odd_ds, "SELECT CURRENT_USER() AS who")["who"][0] == "odd@%"
    assert odd not in odd_ds.url

    # a wrong password is named by the server, the password masked, nothing registered
    with pytest.raises(Exception) as info:
        Datastore.register_azure_my_sql(workspace, "my_bad", "127.0.0.1", u.database,
                                        u.username, "Wrong-Secret-123", port_number=u.port)
    message = str(info.value)
    assert "SQL datastore 'my_bad'" in message and "Access denied for user" in message
    assert "Wrong-Secret-123" not in message
    assert workspace._store.get_datastore(workspace._id, "my_bad") is None
    # a database that does not exist is named too
    with pytest.raises(Exception, match=r"SQL datastore 'my_none'.*Unknown database 'nowhere'"):
        Datastore.register_azure_my_sql(workspace, "my_none", "127.0.0.1", "nowhere",
                                        u.username, u.password, port_number=u.port)


def test_from_sql_query_reads_typed_rows_and_names_problems(db, mysql_url, workspace):
    from amlocal.core import Dataset
    from amlocal.data import DataType
    from amlocal.data.datapath import DataPath
    _execute(mysql_url,
             "CREATE TABLE flats (surface INT, price DOUBLE, city VARCHAR(40), built DATE, "
             "seen DATETIME(6), fee DECIMAL(10, 2), furnished BOOLEAN, plan BLOB)",
             "INSERT INTO flats VALUES "
             "(50, 100.5, 'Lyon', '2020-01-02', '2024-05-06 07:08:09.123456', 12.25, TRUE, "
             "x'00ff'), (70, 150, 'Nice', '2021-05-06', '2024-06-07 08:09:10', 0.5, FALSE, "
             "NULL), (90, 190.25, 'Lyon', '2022-07-08', NULL, NULL, NULL, NULL)")
    table = Dataset.Tabular.from_sql_query((db, "SELECT * FROM flats ORDER BY surface"))
    frame = table.to_pandas_dataframe()
    assert frame["surface"].tolist() == [50, 70, 90] and str(frame["surface"].dtype) == "int64"
    assert str(frame["price"].dtype) == "float64" and frame["price"].tolist() == [
        100.5, 150.0, 190.25]
    assert frame["city"].tolist() == ["Lyon", "Nice", "Lyon"]
    assert frame["built"].tolist() == [dt.date(2020, 1, 2), dt.date(2021, 5, 6),
                                       dt.date(2022, 7, 8)]
    assert str(frame["seen"].dtype).startswith("datetime64")
    assert frame["seen"][0] == dt.datetime(2024, 5, 6, 7, 8, 9, 123456)
    assert frame["seen"].isna().tolist() == [False, False, True]
    assert frame["fee"].tolist()[:2] == [12.25, 0.5]
    assert frame["furnished"].tolist()[:2] == [1, 0]   # BOOLEAN is TINYINT(1) in MySQL
    assert bytes(frame["plan"][0]) == b"\x00\xff"

    typed = Dataset.Tabular.from_sql_query(
        DataPath(db, "SELECT surface, built FROM flats WHERE city = 'Lyon' ORDER BY surface"),
        set_column_types={"surface": DataType.to_float(), "built": DataType.to_datetime()},
        query_timeout=10)
    frame = typed.to_pandas_dataframe()
    assert frame["surface"].tolist() == [50.0, 90.0] and frame["built"].dt.year.tolist() == [
        2020, 2022]
    typed.register(workspace, "lyon")
    assert Dataset.get_by_name(workspace, "lyon").to_pandas_dataframe()["surface"].tolist() == [
        50.0, 90.0]

    # a broken query: MariaDB's own message, naming the datastore, before anything is created
    with pytest.raises(Exception) as info:
        Dataset.Tabular.from_sql_query((db, "SELECT nope FROM flats"))
    message = str(info.value)
    assert "SQL datastore 'db'" in message and "Unknown column 'nope'" in message
    lazy = Dataset.Tabular.from_sql_query((db, "SELECT * FROM missing_table"), validate=False)
    with pytest.raises(Exception, match=r"SQL datastore 'db'.*missing_table' doesn't exist"):
        lazy.to_pandas_dataframe()
    # the query timeout (pymysql's read timeout) stops a long query
    slow = Dataset.Tabular.from_sql_query((db, "SELECT SLEEP(5) AS s"), validate=False,
                                          query_timeout=1)
    with pytest.raises(Exception, match=r"did not finish within 1 s \(query_timeout\)"):
        slow.to_pandas_dataframe()


def _frame():
    import pandas as pd
    return pd.DataFrame({
        "small": pd.array([1, 2], dtype="int32"), "big": [2 ** 40, -3],
        "ratio": [1.5, None], "name": ["a", "é" * 3], "flag": [True, False],
        "stamp": pd.to_datetime(["2024-01-01 10:00:00.123456", "2024-02-01 11:30:00.000000"]),
        "paris": pd.to_datetime(["2024-01-01 10:00", "2024-07-01 10:00"]).tz_localize(
            "Europe/Paris"),
        "day": [dt.date(2024, 1, 1), dt.date(2024, 1, 2)],
        "amount": [decimal.Decimal("1.25"), decimal.Decimal("123456789012.000001")],
        "wait": pd.to_timedelta(["1 days 00:00:00.5", "2 hours"]),
        "blob": [b"\x00ab", b"cd"]})


def test_write_table_types_round_trip_in_both_modes(db):
    import pandas as pd
    import sqlalchemy as sa

    from amlocal.datastores.sql import engine_for, write_table
    frame = _frame()
    assert write_table(db._info, "results", frame, mode="append") == 2    # created
    assert write_table(db._info, "results", frame, mode="append") == 2
    engine = engine_for(db._info)
    try:
        columns = {c["name"]: c["type"] for c in sa.inspect(engine).get_columns("results")}
    finally:
        engine.dispose()
    # MySQL's side of the mapping (sql_types): no digit, microsecond or byte lost
    assert {k: str(v) for k, v in columns.items()} == {
        "small": "INTEGER", "big": "BIGINT", "ratio": "DOUBLE", "name": "LONGTEXT",
        "flag": "TINYINT", "stamp": "DATETIME", "paris": "DATETIME", "day": "DATE",
        "amount": "DECIMAL(65, 30)", "wait": "DATETIME", "blob": "LONGBLOB"}
    assert [columns[c].fsp for c in ("stamp", "paris", "wait")] == [6, 6, 6]
    assert columns["flag"].display_width == 1                    # BOOLEAN is TINYINT(1)
    back = _rows(db, "SELECT * FROM results")
    assert len(back) == 4 and list(back.columns) == list(frame.columns)
    assert back["small"].tolist() == [1, 2, 1, 2] and back["big"].tolist()[:2] == [2 ** 40, -3]
    assert back["ratio"].isna().tolist() == [False, True, False, True]
    assert back["name"].tolist()[:2] == ["a", "ééé"]
    assert back["flag"].tolist() == [1, 0, 1, 0]                  # TINYINT(1): 0/1
    assert back["stamp"][0] == pd.Timestamp("2024-01-01 10:00:00.123456")
    # time zone aware: stored in UTC (MySQL keeps no offset), read back naive
    assert back["paris"].tolist()[:2] == [pd.Timestamp("2024-01-01 09:00"),
                                          pd.Timestamp("2024-07-01 08:00")]
    assert back["day"].tolist()[:2] == [dt.date(2024, 1, 1), dt.date(2024, 1, 2)]
    amounts = _rows(db, "SELECT CAST(amount AS CHAR) AS a FROM results")["a"].tolist()
    assert [decimal.Decimal(a) for a in amounts[:2]] == [decimal.Decimal("1.25"),
                                                         decimal.Decimal("123456789012.000001")]
    # an interval is 1970-01-01 + it (MySQL has no interval type)
    assert back["wait"].tolist()[:2] == [pd.Timestamp("1970-01-02 00:00:00.5"),
                                         pd.Timestamp("1970-01-01 02:00")]
    assert bytes(back["blob"].iloc[0]) == b"\x00ab"

    # replace recreates the table from the frame (its columns may change)
    assert write_table(db._info, "results", frame.head(1), mode="replace") == 1
    assert len(_rows(db, "SELECT * FROM results")) == 1
    write_table(db._info, "results", frame[["name"]].assign(extra=[1, 2]), mode="replace")
    assert list(_rows(db, "SELECT * FROM results").columns) == ["name", "extra"]

    # values beyond TEXT's and BLOB's 64 KB (a pickled model often is)
    big = pd.DataFrame({"model": [bytes(range(256)) * 1000], "note": ["x" * 100_000]})
    write_table(db._info, "models", big, mode="replace")
    sizes = _rows(db, "SELECT LENGTH(model) AS m, LENGTH(note) AS n FROM models")
    assert (sizes["m"][0], sizes["n"][0]) == (256_000, 100_000)
    assert bytes(_rows(db, "SELECT model FROM models")["model"][0]) == bytes(range(256)) * 1000


def test_a_schema_mismatch_names_the_column_and_writes_nothing(db, mysql_url):
    import pandas as pd

    from amlocal.datastores.sql import write_table
    write_table(db._info, "models", pd.DataFrame({"coef": [0.5], "flag_use": [True],
                                                  "label": ["m1"]}))
    with pytest.raises(Exception, match=r"table 'models' has no column 'extra'.*mode='replace'"):
        write_table(db._info, "models", pd.DataFrame({"coef": [1.0], "extra": [1]}))
    with pytest.raises(Exception, match=r"column 'coef' is float .* but text .* in the data"):
        write_table(db._info, "models", pd.DataFrame({"coef": ["high"], "label": ["m2"]}))
    assert len(_rows(db, "SELECT * FROM models")) == 1     # nothing written
    # compatible: ints into a DOUBLE column, bools into the TINYINT one, a NULL label
    write_table(db._info, "models", pd.DataFrame({"coef": [2], "flag_use": [False],
                                                  "label": [None]}))
    assert _rows(db, "SELECT flag_use FROM models ORDER BY coef")["flag_use"].tolist() == [1, 0]

    # a table made by hand: NOT NULL and VARCHAR columns are checked as well
    _execute(mysql_url, "CREATE TABLE strict (id INT NOT NULL, note VARCHAR(20), "
                        "at DATETIME)")
    with pytest.raises(Exception, match=r"column 'id' is NOT NULL without a default"):
        write_table(db._info, "strict", pd.DataFrame({"note": ["x"]}))
    with pytest.raises(Exception, match=r"column 'id' is NOT NULL .* missing values"):
        write_table(db._info, "strict", pd.DataFrame({"id": [1, None], "note": ["x", "y"]}))
    with pytest.raises(Exception, match=r"column 'at' is datetime .* but integer"):
        write_table(db._info, "strict", pd.DataFrame({"id": [1], "at": [3]}))
    # what MySQL itself refuses is named with its message (strict mode: no silent cut)
    with pytest.raises(Exception, match=r"table 'strict' failed: .*Data too long for column "
                                        r"'note'"):
        write_table(db._info, "strict", pd.DataFrame({"id": [1], "note": ["y" * 30]}))
    assert _rows(db, "SELECT count(*) AS n FROM strict")["n"].tolist() == [0]
    write_table(db._info, "strict", pd.DataFrame({"id": [1], "note": ["x"]}))
    assert _rows(db, "SELECT id, note FROM strict").to_dict("list") == {"id": [1],
                                                                        "note": ["x"]}


@pytest.fixture
def lake(workspace):
    """The default (file://) datastore and its host folder."""
    from pathlib import Path

    from amlocal.datastores.fs import local_path
    store = workspace.get_default_datastore()
    return store, Path(local_path(store.url))


def test_data_transfer_a_file_into_a_table_append_and_replace(db, lake):
    from amlocal.data.data_reference import DataReference
    from amlocal.data.sql_data_reference import SqlDataReference
    from amlocal.pipeline.steps import DataTransferStep
    store, root = lake
    (root / "raw").mkdir()
    (root / "raw" / "flats.csv").write_text(
        "surface,price,city\n30,120000.5,Lyon\n55,230000,Nice\n")

    def load(mode="append", path="raw/flats.csv"):
        return DataTransferStep(
            "load", source_data_reference=DataReference(store, path_on_datastore=path),
            destination_data_reference=SqlDataReference(db, sql_table="flats", write_mode=mode),
            allow_reuse=False)

    _, status, steps = _run(db.workspace, [load()])
    assert status == "Finished", steps["load"].get_job_log()
    assert "appended 2 row(s): table 'flats' on SQL datastore 'db'" in \
        steps["load"].get_job_log()
    _, status, _ = _run(db.workspace, [load()])
    assert status == "Finished"
    frame = _rows(db, "SELECT surface, price, city FROM flats ORDER BY surface, price")
    assert frame.to_dict("list") == {"surface": [30, 30, 55, 55],
                                     "price": [120000.5, 120000.5, 230000.0, 230000.0],
                                     "city": ["Lyon", "Lyon", "Nice", "Nice"]}

    (root / "raw" / "bad.csv").write_text("surface,price\n40,cheap\n")
    _, status, steps = _run(db.workspace, [load(path="raw/bad.csv")])
    assert status == "Failed"
    error = steps["load"].get_details()["error"]["message"]
    assert "'price'" in error and "flats" in error
    assert _rows(db, "SELECT count(*) AS n FROM flats")["n"][0] == 4

    (root / "raw" / "new.csv").write_text("surface,price\n20,90000\n")
    _, status, steps = _run(db.workspace, [load("replace", "raw/new.csv")])
    assert status == "Finished"
    assert "replaced the table with 1 row(s)" in steps["load"].get_job_log()
    assert _rows(db, "SELECT * FROM flats").to_dict("list") == {"surface": [20],
                                                                "price": [90000]}


def test_data_transfer_a_stored_procedure_out_to_a_csv(db, lake, mysql_url):
    """A MySQL procedure's result set lands in a datastore file; CALL is positional, so the
    parameters (given here in another order than declared) are bound by their names."""
    from amlocal.data.data_reference import DataReference
    from amlocal.data.sql_data_reference import SqlDataReference
    from amlocal.data.stored_procedure_parameter import (StoredProcedureParameter,
                                                         StoredProcedureParameterType as T)
    from amlocal.pipeline.steps import DataTransferStep
    _execute(mysql_url,
             "CREATE TABLE flats (surface INT, city VARCHAR(40), furnished BOOLEAN, "
             "since DATE)",
             "INSERT INTO flats VALUES (30, 'Lyon', TRUE, '2020-01-01'), "
             "(55, 'Nice', FALSE, '2021-01-01'), (80, 'Lyon', FALSE, '2022-01-01'), "
             "(95, 'Lyon', TRUE, '2023-01-01'), (99, 'Lyon', TRUE, '2019-01-01')",
             "CREATE PROCEDURE big_flats(IN min_surface INT, IN in_city VARCHAR(40), "
             "IN is_furnished BOOLEAN, IN after DATE) "
             "SELECT surface, city FROM flats WHERE surface >= min_surface AND city = in_city "
             "AND furnished = is_furnished AND since > after ORDER BY surface")
    store, root = lake
    out = DataReference(store, path_on_datastore="exports/big.csv")

    def export(params):
        return DataTransferStep("export", SqlDataReference(
            db, sql_stored_procedure="big_flats", sql_stored_procedure_params=params), out)

    _, status, steps = _run(db.workspace, [export([
        StoredProcedureParameter("in_city", "Lyon"),
        StoredProcedureParameter("after", "2020-06-01", T.Date),
        StoredProcedureParameter("is_furnished", "true", T.Boolean),
        StoredProcedureParameter("min_surface", "50", T.Int)])])
    assert status == "Finished", steps["export"].get_job_log()
    assert (root / "exports" / "big.csv").read_text().splitlines() == ["surface,city",
                                                                       "95,Lyon"]
    assert "stored procedure 'big_flats'" in steps["export"].get_job_log()

    # a parameter the procedure lacks, or one left out, is named with the declared ones
    _, status, steps = _run(db.workspace, [export([
        StoredProcedureParameter("in_city", "Lyon"),
        StoredProcedureParameter("min_size", "50", T.Int)])])
    assert status == "Failed"
    assert ("stored procedure 'big_flats' has no parameter 'min_size' (its parameters: "
            "min_surface, in_city, is_furnished, after)") in steps["export"].get_job_log()
    _, status, steps = _run(db.workspace, [export([
        StoredProcedureParameter("in_city", "Lyon")])])
    assert status == "Failed"
    assert "stored procedure 'big_flats' needs parameter 'min_surface'" in \
        steps["export"].get_job_log()
