"""The runtime of ApplySqlTransformationStep: runs INSIDE the step's container, as Studio's
"Apply SQL Transformation" module did (SQLite over the module's input tables).

``main(argv)`` is what the generated launcher calls, from the step's working directory: the
input tables are read as the Execute Python Script module reads its frames
(:func:`amlocal._runtime.studio.read_input`), loaded into a new in-memory SQLite database
(Python's ``sqlite3``) as ``t1``, ``t2``, ``t3``, the script's statements run one by one in
order (:mod:`amlocal._engine.sql_script` splits them; one ``execute`` each rather than one
``executescript`` for those before the output, so that an error names its statement; the
database is in autocommit, so a script's own BEGIN/COMMIT work), and the rows of its last SELECT are
written as ``result.parquet`` in the ``result_dataset`` output, translated as Execute Python
Script's output is (index dropped, unique string column names). A failing statement makes the
step fail (exit status 1) with ``Error: statement N of M (line L: ...): <SQLite's message>`` in
its log. The database is in memory; ATTACH and DETACH are refused.

Types, pandas -> SQLite (the column's declared type, then each value):

- integers (nullable ``Int64`` too) -> ``INTEGER``; a value beyond SQLite's signed 64 bits is an
  error naming the column;
- floats -> ``REAL`` (NaN is NULL); booleans -> ``BOOLEAN`` (stored 1/0);
- datetimes -> ``DATETIME``, stored as ISO 8601 text ``YYYY-MM-DD HH:MM:SS[.ffffff]`` (what
  SQLite's date functions read; timezone-aware values converted to UTC first); timedeltas ->
  ``TIMEDELTA``, stored as REAL seconds;
- strings -> ``TEXT``; bytes (e.g. a pickled model in a cell) -> ``BLOB``;
- an ``object`` column is typed by its values: all strings ``TEXT``, all bytes ``BLOB``, all
  ``datetime.date`` ``DATE`` (ISO text) ... and a column of mixed values gets no declared type
  (each value keeps its own); a value SQLite cannot hold (a dict, a list ...) is an error naming
  the column and the way out (``json.dumps``/``pickle.dumps`` it first);
- missing values (None, NaN, NA, NaT) are NULL; a category column is read as its values;
- column names are unique strings as Execute Python Script makes them; names differing only in
  case, which SQLite takes as one, are renamed as duplicates are (``A``, ``a (2)``).

SQLite -> pandas, per result column: a column taken as it is from an input (or any column
declared ``BOOLEAN``, ``DATETIME``/``TIMESTAMP``, ``DATE`` or ``TIMEDELTA``) comes back with its
type; a computed column (``MAX(d)``, ``b AND 1``) comes back as SQLite's value (a date as ISO
text: ``datetime(...)`` and pandas ``to_datetime`` read it). Then by the values: all integers ->
``int64`` (``Int64`` with NULLs), integers and reals -> ``float64`` (NULL is NaN), booleans ->
``bool`` (``boolean`` with NULLs), text -> strings, blobs -> bytes, datetimes ->
``datetime64[ns]``; a column holding values of different SQLite types (SQLite allows it) is an
error naming the column and the fix (``CAST(x AS TEXT)``). An empty result keeps its column
names and is typed by the columns' declared types (``INTEGER`` int64, ``REAL`` float64,
``BOOLEAN`` bool, ``DATETIME`` datetime64, ``TIMEDELTA`` timedelta64; a computed column, text
and blobs ``object``). Column names come from SQLite
(``AS`` names them), made unique as Execute Python Script's are (``id``, ``id (2)``).

Only the standard library is imported at module level; pandas inside the functions.
"""
from __future__ import annotations

import argparse
import datetime as dt
import decimal
import math
import os
import sqlite3
import sys
from pathlib import Path

from .._engine.sql_script import (ATTACH_REFUSED, PORTS, QUERY, SqlScript, SqlScriptError,
                                  deny_attach, missing_input_hint, parse_script)
from . import studio

SCRIPT_FILE = "apply_sql_script.sql"
_INT64 = (-2 ** 63, 2 ** 63 - 1)
_TYPE_NAMES = {int: "INTEGER", float: "REAL", str: "TEXT", bytes: "BLOB", bool: "BOOLEAN",
               dt.datetime: "DATETIME", dt.date: "DATE", dt.timedelta: "TIMEDELTA"}


class SqlUserError(studio.StudioUserError):
    """The script or an input table cannot be run; the message names which and why."""


# -- SQLite values back to Python ------------------------------------------------------------
def _plain(raw: bytes):
    """A value a converter could not read as its declared type: as SQLite's own."""
    text = raw.decode("utf-8", "replace")
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _to_bool(raw: bytes):
    if raw in (b"1", b"0", b"1.0", b"0.0"):
        return raw[:1] == b"1"
    return _plain(raw)


def _to_datetime(raw: bytes):
    import pandas as pd
    try:
        value = pd.Timestamp(raw.decode("utf-8"))
    except ValueError:
        return _plain(raw)
    return _plain(raw) if value is pd.NaT else value


def _to_date(raw: bytes):
    try:
        return dt.date.fromisoformat(raw.decode("utf-8"))
    except ValueError:
        return _plain(raw)


def _to_timedelta(raw: bytes):
    try:
        return dt.timedelta(seconds=float(raw))
    except (ValueError, OverflowError):
        return _plain(raw)


CONVERTERS = {"BOOLEAN": _to_bool, "DATETIME": _to_datetime, "TIMESTAMP": _to_datetime,
              "DATE": _to_date, "TIMEDELTA": _to_timedelta}


def connect() -> sqlite3.Connection:
    """A new in-memory database that reads the declared types of :data:`CONVERTERS` back,
    in autocommit (a script's own BEGIN/COMMIT work) and refusing ATTACH/DETACH. The
    converters are registered in this process's ``sqlite3`` (the step's own process)."""
    for name, convert in CONVERTERS.items():
        sqlite3.register_converter(name, convert)
    conn = sqlite3.connect(":memory:", detect_types=sqlite3.PARSE_DECLTYPES,
                           isolation_level=None, check_same_thread=False)
    conn.set_authorizer(deny_attach)
    return conn


# -- pandas -> SQLite ----------------------------------------------------------------------------
def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _iso(value) -> str:
    if getattr(value, "tzinfo", None) is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value.isoformat(sep=" ")


def _object_value(value, port: str, column: str):
    """``(declared type, SQLite value)`` of one value of an object column."""
    if hasattr(value, "item") and type(value).__module__ == "numpy":
        value = value.item()
    if isinstance(value, bool):
        return "BOOLEAN", int(value)
    if isinstance(value, int):
        return "INTEGER", _check_int(value, port, column)
    if isinstance(value, float):
        return "REAL", None if math.isnan(value) else value
    if isinstance(value, str):
        return "TEXT", value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "BLOB", bytes(value)
    if isinstance(value, dt.datetime):
        return "DATETIME", _iso(value)
    if isinstance(value, dt.date):
        return "DATE", value.isoformat()
    if isinstance(value, dt.time):
        return "TEXT", value.isoformat()
    if isinstance(value, dt.timedelta):
        return "TIMEDELTA", value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return "TEXT", str(value)
    raise SqlUserError(
        f"input {port} column '{column}' holds a {type(value).__name__} value ({str(value)[:60]}); "
        "SQLite holds numbers, text, bytes and NULL: convert the column before this step "
        "(e.g. json.dumps or pickle.dumps each value)")


def _check_int(value: int, port: str, column: str) -> int:
    if not _INT64[0] <= value <= _INT64[1]:
        raise SqlUserError(f"input {port} column '{column}' holds {value}, beyond SQLite's 64-bit "
                           "integers; cast the column to float or str before this step")
    return value


def column_values(series, port: str, column: str) -> tuple[str, list]:
    """``(declared type, values)`` of one input column (see the module docstring)."""
    import pandas as pd
    from pandas.api import types as t
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    values = series.astype(object).tolist()
    na = series.isna().tolist()
    if not t.is_object_dtype(series.dtype) and not t.is_string_dtype(series.dtype):
        for test, declared, convert in (
                (t.is_bool_dtype, "BOOLEAN", int),
                (t.is_integer_dtype, "INTEGER", lambda v: _check_int(int(v), port, column)),
                (t.is_float_dtype, "REAL", float),
                (t.is_datetime64_any_dtype, "DATETIME", _iso),
                (t.is_timedelta64_dtype, "TIMEDELTA", lambda v: v.total_seconds())):
            if test(series.dtype):
                return declared, [None if m else convert(v) for v, m in zip(values, na)]
    typed = [(None, None) if m else _object_value(v, port, column) for v, m in zip(values, na)]
    kinds = {k for k, _ in typed if k is not None}
    if kinds == {"INTEGER", "REAL"}:
        kinds = {"REAL"}
    declared = kinds.pop() if len(kinds) == 1 else ""
    if t.is_string_dtype(series.dtype) and not declared:
        declared = "TEXT" if not typed or all(k in (None, "TEXT") for k, _ in typed) else ""
    return declared, [v for _, v in typed]


def column_names(names) -> list[str]:
    """Input column names as SQLite takes them: unique strings as Execute Python Script makes
    them (``a``, ``a (2)``), and names differing only in case (one name to SQLite) renamed the
    same way (``A``, ``a (2)``)."""
    texts = [str(n) for n in names]
    taken = {t.lower() for t in texts}
    seen: dict[str, int] = {}
    out = []
    for text in texts:
        count = seen[text.lower()] = seen.get(text.lower(), 0) + 1
        if count > 1:
            while f"{text} ({count})".lower() in taken:
                count += 1
            seen[text.lower()] = count
            text = f"{text} ({count})"
            taken.add(text.lower())
        out.append(text)
    return out


def load_table(conn: sqlite3.Connection, port: str, frame) -> None:
    """Create table ``port`` from ``frame`` (its index dropped, names from :func:`column_names`)."""
    frame = studio.prepare_input(frame)
    if len(frame.columns) == 0:
        raise SqlUserError(f"input {port} has no columns; SQLite tables need at least one")
    names = column_names(frame.columns)
    columns = [column_values(frame.iloc[:, i], port, name) for i, name in enumerate(names)]
    spec = ", ".join(f"{_quote(n)} {declared}".rstrip() for n, (declared, _) in zip(names, columns))
    marks = ", ".join("?" * len(names))
    try:
        conn.execute(f"CREATE TABLE {_quote(port)} ({spec})")
        conn.execute("BEGIN")
        conn.executemany(f"INSERT INTO {_quote(port)} VALUES ({marks})",
                         zip(*[values for _, values in columns]))
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        raise SqlUserError(f"input {port} cannot be loaded into SQLite: {exc}") from None


# -- running the script ---------------------------------------------------------------------------
def _failure(script: SqlScript, statement, exc: Exception, connected) -> SqlUserError:
    message = str(exc)
    if "not authorized" in message and statement.kind in ("attach", "detach"):
        message = ATTACH_REFUSED
    hint = ""
    for port in PORTS:
        if port not in connected and message.rstrip().endswith(f"no such table: {port}"):
            hint = f"; {missing_input_hint(port)}"
    return SqlUserError(f"{script.where(statement)}: {message}{hint}")


def run_statements(conn: sqlite3.Connection, script: SqlScript, connected) -> tuple[list, list]:
    """Run the script's statements in order; ``(column names, rows)`` of its output statement.
    SqlUserError names the first statement SQLite fails and SQLite's message."""
    names, rows, declared = [], [], []
    for index, statement in enumerate(script.statements):
        try:
            cursor = conn.execute(statement.text)
            if index == script.output:
                rows = cursor.fetchall()
                names = [d[0] for d in cursor.description or ()]
                declared = [] if rows else _declared_types(conn, statement.text)
            elif statement.kind == QUERY or cursor.description is not None:
                for _ in cursor:      # run it to its end, as executescript would
                    pass
        except (sqlite3.Error, OverflowError, ValueError) as exc:
            raise _failure(script, statement, exc, connected) from None
    return names, rows, declared


_VIEW = "amlocal_apply_sql_output"
_EMPTY_DTYPES = {"INTEGER": "int64", "REAL": "float64", "BOOLEAN": "bool",
                 "DATETIME": "datetime64[ns]", "TIMESTAMP": "datetime64[ns]",
                 "TIMEDELTA": "timedelta64[ns]"}


def _declared_types(conn: sqlite3.Connection, query: str) -> list:
    """The declared types of a query's columns (those taken as they are from a table; "" for
    a computed one), read through a temporary view; [] when the view cannot be made."""
    try:
        conn.execute(f"CREATE TEMP VIEW {_VIEW} AS {query}")
    except sqlite3.Error:
        return []
    try:
        return [row[2].upper() for row in conn.execute(f"PRAGMA temp.table_info({_VIEW})")]
    finally:
        conn.execute(f"DROP VIEW temp.{_VIEW}")


def _kind(value) -> type:
    for kind in (bool, int, float, str, bytes, dt.datetime, dt.date, dt.timedelta):
        if isinstance(value, kind):
            return kind
    return type(value)


def result_frame(names: list, rows: list, declared: list | None = None):
    """The output frame of the result's ``names`` and ``rows`` (see the module docstring);
    an empty result's columns are typed by their ``declared`` types where known."""
    import pandas as pd
    columns = list(zip(*rows)) if rows else [() for _ in names]
    declared = declared if declared and len(declared) == len(names) else [""] * len(names)
    series = []
    for name, values, decl in zip(names, columns, declared):
        if not values:
            series.append(pd.Series([], dtype=_EMPTY_DTYPES.get(decl, object)))
            continue
        present = [v for v in values if v is not None]
        kinds = {_kind(v) for v in present}
        missing = len(present) < len(values)
        if kinds == {bool}:
            s = pd.Series(values, dtype="boolean" if missing else bool)
        elif kinds == {int}:
            s = pd.Series(values, dtype="Int64" if missing else "int64")
        elif kinds and kinds <= {int, float}:
            s = pd.Series([math.nan if v is None else float(v) for v in values], dtype="float64")
        elif kinds == {dt.datetime}:
            s = pd.Series(pd.to_datetime(list(values))).astype("datetime64[ns]")
        elif kinds == {dt.timedelta}:
            s = pd.Series(pd.to_timedelta(list(values))).astype("timedelta64[ns]")
        elif len(kinds) > 1:
            found = " and ".join(sorted(_TYPE_NAMES.get(k, k.__name__) for k in kinds))
            raise SqlUserError(
                f"result column '{name}' mixes {found} values (SQLite keeps each value's own "
                f"type); give it one type in the SELECT, e.g. CAST({_quote(str(name))} AS TEXT)")
        else:
            s = pd.Series(list(values), dtype=object)
        series.append(s)
    frame = pd.concat(series, axis=1) if series else pd.DataFrame(index=pd.RangeIndex(0))
    frame.columns = studio.unique_names(names)
    return frame


def run_script(script, tables: dict, conn: sqlite3.Connection | None = None):
    """The output frame of ``script`` (text or SqlScript) over ``tables`` (``{"t1": frame or
    None, ...}``); ``conn``: a database already holding some of the tables (its tables are not
    loaded again). SqlUserError for a script or table that cannot run."""
    try:
        script = script if isinstance(script, SqlScript) else parse_script(script)
    except SqlScriptError as exc:
        raise SqlUserError(str(exc)) from None
    own = conn is None
    conn = connect() if own else conn
    try:
        present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        for port in PORTS:
            if tables.get(port) is not None and port not in present:
                load_table(conn, port, tables[port])
        connected = [p for p in PORTS if tables.get(p) is not None or p in present]
        return result_frame(*run_statements(conn, script, connected))
    finally:
        if own:
            conn.close()


# -- the command -----------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="amlocal-apply-sql-transformation")
    parser.add_argument("--script", default=SCRIPT_FILE)
    for port in PORTS:
        parser.add_argument(f"--{port}")
        parser.add_argument(f"--{port}-kind", default="folder")
    parser.add_argument("--result", required=True)
    return parser


def read_tables(args, ports=PORTS) -> dict:
    """The input frames of ``ports`` given in ``args`` (None for a port not connected)."""
    return {port: studio.read_input(getattr(args, port), getattr(args, f"{port}_kind"))
            if getattr(args, port) else None for port in ports}


def _shape(frame) -> str:
    return f"{len(frame)} rows x {len(frame.columns)} columns"


def main(argv: list[str] | None = None, *, workdir: str | os.PathLike = ".") -> int:
    """Run the module; returns the exit status (0 ok, 1 the script or its inputs failed)."""
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        text = (Path(workdir) / args.script).read_text(encoding="utf-8")
        tables = read_tables(args)
        for port, frame in tables.items():
            if frame is not None:
                print(f"Apply SQL Transformation: {port}: {_shape(frame)}")
        frame = run_script(text, tables)
        studio.write_result(frame, args.result)
    except studio.StudioUserError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    print(f"Apply SQL Transformation: result: {_shape(frame)}")
    return 0
