"""Writing tables (amlocal.datastores.sql.write_table) on SQLite and a real PostgreSQL: the
documented type mapping round trips, append adds rows and replace recreates the table, and a
frame that does not fit an existing table (a column the table lacks, an incompatible type, a
NOT NULL column left empty) raises naming the column before anything is written."""
from __future__ import annotations

import datetime as dt
import decimal

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def info(request, workspace, tmp_path):
    """The stored info of a SQL datastore over an empty database."""
    from amlocal.core import Datastore
    if request.param == "sqlite":
        Datastore.register_sql(workspace, "db", f"sqlite:///{tmp_path / 'out.db'}")
    else:
        Datastore.register_sql(workspace, "db", request.getfixturevalue("postgres_url"))
    return workspace._store.get_datastore(workspace._id, "db")


def _frame():
    import pandas as pd
    return pd.DataFrame({
        "small": pd.array([1, 2], dtype="int32"), "big": [2 ** 40, -3],
        "ratio": [1.5, None], "name": ["a", "b"], "flag": [True, False],
        "stamp": pd.to_datetime(["2024-01-01 10:00", "2024-02-01 11:30"]),
        "day": [dt.date(2024, 1, 1), dt.date(2024, 1, 2)],
        "amount": [decimal.Decimal("1.25"), decimal.Decimal("2.50")],
        "blob": [b"\x00ab", b"cd"]})


def test_types_round_trip_and_modes(info):
    from amlocal.datastores.sql import read_query, write_table
    frame = _frame()
    assert write_table(info, "results", frame, mode="append") == 2    # created
    assert write_table(info, "results", frame, mode="append") == 2
    back = read_query(info, "SELECT * FROM results")
    assert len(back) == 4 and list(back.columns) == list(frame.columns)
    assert back["small"].tolist() == [1, 2, 1, 2] and back["big"].tolist()[:2] == [2 ** 40, -3]
    assert back["ratio"].tolist()[0] == 1.5 and back["ratio"].isna().tolist() == [
        False, True, False, True]
    assert back["name"].tolist() == ["a", "b", "a", "b"]
    assert [float(v) for v in back["amount"]][:2] == [1.25, 2.5]
    assert bytes(back["blob"].iloc[0]) == b"\x00ab"
    if info.url.startswith("postgresql"):   # typed columns come back typed
        assert back["flag"].tolist() == [True, False, True, False]
        assert str(back["stamp"].dtype).startswith("datetime64")
        assert back["day"].tolist()[:2] == [dt.date(2024, 1, 1), dt.date(2024, 1, 2)]
    else:                                    # SQLite: booleans as 0/1, dates as text
        assert back["flag"].tolist() == [1, 0, 1, 0]
        assert str(back["stamp"].iloc[0]).startswith("2024-01-01 10:00")
        assert str(back["day"].iloc[0]) == "2024-01-01"

    assert write_table(info, "results", frame.head(1), mode="replace") == 1
    assert len(read_query(info, "SELECT * FROM results")) == 1
    # replace may change the columns: the table is recreated from the frame
    write_table(info, "results", frame[["name"]].assign(extra=[1, 2]), mode="replace")
    assert list(read_query(info, "SELECT * FROM results").columns) == ["name", "extra"]


def test_schema_mismatch_names_the_column_and_writes_nothing(info):
    import pandas as pd
    from amlocal.datastores.sql import read_query, write_table
    write_table(info, "models", pd.DataFrame({"coef": [0.5], "flag_use": [True],
                                              "label": ["m1"]}))
    with pytest.raises(Exception, match=r"table 'models' has no column 'extra'.*mode='replace'"):
        write_table(info, "models", pd.DataFrame({"coef": [1.0], "extra": [1]}))
    with pytest.raises(Exception, match=r"column 'coef' is float .* but text .* in the data"):
        write_table(info, "models", pd.DataFrame({"coef": ["high"], "label": ["m2"]}))
    with pytest.raises(Exception, match=r"column 'mixed' holds values of mixed"):
        write_table(info, "models", pd.DataFrame({"mixed": [1, "a"]}))
    assert len(read_query(info, "SELECT * FROM models")) == 1     # nothing written
    # compatible: ints into a float column, a missing nullable column, NULLs
    write_table(info, "models", pd.DataFrame({"coef": [2], "label": [None]}))
    assert len(read_query(info, "SELECT * FROM models")) == 2
    with pytest.raises(Exception, match="write mode 'upsert' is not valid"):
        write_table(info, "models", pd.DataFrame({"coef": [1.0]}), mode="upsert")
    with pytest.raises(Exception, match="table name 'a;drop' is not valid"):
        write_table(info, "a;drop", pd.DataFrame({"coef": [1.0]}))


def test_not_null_columns_are_checked_before_writing(info):
    import pandas as pd
    from amlocal.datastores.sql import check_query, read_query, write_table
    from sqlalchemy import text
    from amlocal.datastores.sql import engine_for
    engine = engine_for(info)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE strict (id integer NOT NULL, note text)"))
    engine.dispose()
    check_query(info, "SELECT * FROM strict")
    with pytest.raises(Exception, match=r"column 'id' is NOT NULL without a default"):
        write_table(info, "strict", pd.DataFrame({"note": ["x"]}))
    with pytest.raises(Exception, match=r"column 'id' is NOT NULL .* missing values"):
        write_table(info, "strict", pd.DataFrame({"id": [1, None], "note": ["x", "y"]}))
    with pytest.raises(Exception, match=r"column 'id' is integer .* but float"):
        write_table(info, "strict", pd.DataFrame({"id": [1.5], "note": ["x"]}))
    assert read_query(info, "SELECT count(*) AS n FROM strict")["n"].tolist() == [0]
    write_table(info, "strict", pd.DataFrame({"id": [1], "note": ["x"]}))
    assert read_query(info, "SELECT id FROM strict")["id"].tolist() == [1]
