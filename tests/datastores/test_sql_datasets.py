"""Datasets read by a SQL query, on SQLite and a real PostgreSQL: from_sql_query with a tuple or a
DataPath, to_pandas_dataframe on the host (database types, set_column_types, take/filter),
validation naming the datastore and the database's message, registration and get_by_name, the
query timeout, the reuse digest (datastore and query, never the password) and the arguments
refused before anything runs."""
from __future__ import annotations

import sqlite3

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, workspace, tmp_path):
    """A SQL datastore 'db' whose database has table ``flats`` (surface, price, city, built)."""
    from amlocal.core import Datastore
    rows = [(50, 100.5, "A", "2020-01-02"), (70, 150.0, "B", "2021-05-06"),
            (90, 190.25, "A", "2022-07-08")]
    if request.param == "sqlite":
        path = tmp_path / "flats.db"
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE flats (surface INTEGER, price REAL, city TEXT, built TEXT)")
            conn.executemany("INSERT INTO flats VALUES (?, ?, ?, ?)", rows)
        return Datastore.register_sql(workspace, "db", f"sqlite:///{path}")
    import psycopg
    from sqlalchemy.engine import make_url
    url = make_url(request.getfixturevalue("postgres_url"))
    with psycopg.connect(host=url.host, port=url.port, user=url.username, password=url.password,
                         dbname=url.database, autocommit=True) as conn:
        conn.execute("CREATE TABLE flats (surface integer, price double precision, city text, "
                     "built date)")
        for row in rows:
            conn.execute("INSERT INTO flats VALUES (%s, %s, %s, %s)", row)
    return Datastore.register_azure_postgre_sql(workspace, "db", url.host, url.database,
                                                url.username, url.password,
                                                port_number=url.port)


def test_from_sql_query_reads_rows_on_the_host(db, workspace):
    from amlocal.core import Dataset
    from amlocal.data import DataType
    from amlocal.data.datapath import DataPath
    table = Dataset.Tabular.from_sql_query((db, "SELECT * FROM flats ORDER BY surface"))
    frame = table.to_pandas_dataframe()
    assert frame["surface"].tolist() == [50, 70, 90]
    assert str(frame["surface"].dtype) == "int64" and str(frame["price"].dtype) == "float64"
    assert frame["city"].tolist() == ["A", "B", "A"]
    assert str(table.to_pandas_dataframe()["built"].iloc[0]) == "2020-01-02"

    typed = Dataset.Tabular.from_sql_query(
        DataPath(db, "SELECT surface, built FROM flats ORDER BY surface"),
        set_column_types={"surface": DataType.to_float(), "built": DataType.to_datetime()},
        query_timeout=10)
    frame = typed.to_pandas_dataframe()
    assert str(frame["surface"].dtype) == "float64" and frame["built"].dt.year.tolist() == [
        2020, 2021, 2022]
    assert typed.take(2).to_pandas_dataframe()["surface"].tolist() == [50.0, 70.0]
    assert typed.filter(typed["surface"] > 60).to_pandas_dataframe()["surface"].tolist() == [
        70.0, 90.0]
    assert "('db', 'SELECT surface, built FROM flats ORDER BY surface')" in repr(typed)

    registered = typed.register(workspace, "flats")
    again = Dataset.get_by_name(workspace, "flats")
    assert again.version == 1 and again.id == typed.id
    assert again.to_pandas_dataframe()["surface"].tolist() == [50.0, 70.0, 90.0]
    assert registered.to_pandas_dataframe().equals(frame)


def test_a_broken_query_is_named_with_the_database_message(db):
    from amlocal.core import Dataset
    with pytest.raises(Exception) as info:
        Dataset.Tabular.from_sql_query((db, "SELECT nope FROM flats"))
    message = str(info.value)
    assert 'using the SQL query "SELECT nope FROM flats"' in message
    assert "SQL datastore 'db'" in message and "nope" in message
    assert "validate=False" in message
    # validate=False creates it; reading it raises the database's error
    lazy = Dataset.Tabular.from_sql_query((db, "SELECT * FROM missing_table"), validate=False)
    with pytest.raises(Exception, match="SQL datastore 'db'.*missing_table"):
        lazy.to_pandas_dataframe()


def test_the_query_timeout_stops_a_long_query(db):
    from amlocal.core import Dataset
    slow = ("SELECT pg_sleep(5)" if db.datastore_type == "AzurePostgreSql" else
            "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) "
            "SELECT count(*) FROM r")
    dataset = Dataset.Tabular.from_sql_query((db, slow), validate=False, query_timeout=1)
    with pytest.raises(Exception, match=r"did not finish within 1 s \(query_timeout\)"):
        dataset.to_pandas_dataframe()


def test_arguments_are_checked_before_anything_runs(db, workspace, tmp_path):
    from amlocal.core import Dataset
    files = workspace.get_default_datastore()
    with pytest.raises(Exception, match="not a SQL datastore"):
        Dataset.Tabular.from_sql_query((files, "SELECT 1"))
    with pytest.raises(Exception, match="Invalid tuple"):
        Dataset.Tabular.from_sql_query((db, "SELECT 1", "extra"))
    with pytest.raises(Exception, match="query for datastore 'db' is empty"):
        Dataset.Tabular.from_sql_query((db, "  "))
    with pytest.raises(Exception, match="query_timeout must be a positive number"):
        Dataset.Tabular.from_sql_query((db, "SELECT 1"), query_timeout=0)
    with pytest.raises(Exception, match="Invalid argument value or type"):
        Dataset.Tabular.from_sql_query("SELECT 1")
    table = Dataset.Tabular.from_sql_query((db, "SELECT 1 AS one"))
    with pytest.raises(Exception, match="is a SQL query, which has no files"):
        table.data_changed_time   # noqa: B018 - a property that reads the files
    with pytest.raises(Exception, match="Only FileDataset supports mount"):
        table.as_named_input("x").as_mount()


def test_query_digest_names_datastore_and_query_but_not_the_password(db, workspace):
    from amlocal.datastores.sql import query_digest
    info = workspace._store.get_datastore(workspace._id, "db")
    digest = query_digest(info, "SELECT * FROM flats")
    assert digest == query_digest(info, "  SELECT * FROM flats\n")
    assert digest != query_digest(info, "SELECT surface FROM flats")
    if info.options.get("password"):   # rotating the password keeps the key
        rotated = type(info)(**{**info.__dict__, "options": {**info.options,
                                                              "password": "rotated"}})
        assert query_digest(rotated, "SELECT * FROM flats") == digest
