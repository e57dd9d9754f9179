"""Types of SQL tables written from pandas frames, and the checks made before writing.

Type mapping (pandas/Arrow dtype of a column -> SQLAlchemy type -> what the database makes it):

=============================================  ======================  =========================
pandas / Arrow                                 SQLAlchemy              PostgreSQL / SQLite
=============================================  ======================  =========================
bool, boolean[pyarrow]                         Boolean                 boolean / INTEGER 0-1
int8, int16, int32 (and nullable Int*)         Integer                 integer / INTEGER
int64, uint8-32 (and nullable Int64)           BigInteger              bigint / INTEGER
uint64                                         Numeric(20, 0)          numeric(20,0) / NUMERIC
float16, float32, float64 (and Float*)         Float(53)               double precision / FLOAT
decimal.Decimal values                         Numeric                 numeric / NUMERIC
datetime64[ns] (naive)                         DateTime                timestamp / DATETIME
datetime64[ns, tz]                             DateTime(timezone)      timestamptz / DATETIME
datetime.date values                           Date                    date / DATE
timedelta64, datetime.timedelta values         Interval                interval / DATETIME
str / string / category of str                 Text                    text / TEXT
bytes values                                   LargeBinary             bytea / BLOB
=============================================  ======================  =========================

MySQL / MariaDB (tested against MariaDB 10.11, Debian's package) get variants where the generic
type would lose data: Boolean is TINYINT(1); Integer/BigInteger are INTEGER/BIGINT; Float(53) is
DOUBLE; Numeric is DECIMAL(65, 30) (a bare DECIMAL is DECIMAL(10, 0)); DateTime, with or without
a time zone, is DATETIME(6) (microseconds kept; MySQL keeps no offset, so time zone aware values
are written in UTC); Date is DATE; an interval is DATETIME(6) holding 1970-01-01 + the interval;
Text is LONGTEXT and LargeBinary LONGBLOB (TEXT and BLOB hold at most 64 KB).

An object column whose values are of mixed kinds (e.g. numbers and text) is refused, naming the
column (convert it first, e.g. ``frame[col].astype(str)``). A column with no value at all is
written as Text. Reading back (``read_query``) gives what the driver answers: on PostgreSQL the
same kinds as above, except that every integer comes back as int64 and numeric as float64; on
SQLite booleans come back as 0/1 integers and dates, timestamps and intervals as text (SQLite
has no such types); on MySQL booleans come back as 0/1 integers, timestamps naive (UTC for
those written time zone aware), intervals as timestamps and decimals as float64.

Compatibility with an existing table (append): each frame column must exist in the table and be
of a compatible family: integer -> integer, numeric or float columns; float -> float or numeric
(or integer when every value is a whole number: pandas holds integers with missing values as
floats); bool -> bool or integer; datetime -> datetime; date -> date or datetime; text -> text;
binary -> binary; interval -> interval (or datetime on MySQL and SQLite, which have no interval
type). An all-missing frame column fits any column. A NOT NULL table column without a default
that the frame lacks, or missing values in one, are refused too.
"""
from __future__ import annotations

import datetime as dt
import functools
import re

from amlocal.errors import UserErrorException

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$ ]{0,127}$")

# families of values
INTEGER, FLOAT, NUMERIC, BOOL, DATETIME, DATE, INTERVAL, TEXT, BINARY, NULL = (
    "integer", "float", "numeric", "bool", "datetime", "date", "interval", "text", "binary",
    "null")
# frame family -> table families it may be written into
_FITS = {INTEGER: {INTEGER, NUMERIC, FLOAT}, FLOAT: {FLOAT, NUMERIC}, NUMERIC: {NUMERIC, FLOAT},
         BOOL: {BOOL, INTEGER}, DATETIME: {DATETIME}, DATE: {DATE, DATETIME},
         INTERVAL: {INTERVAL}, TEXT: {TEXT}, BINARY: {BINARY}}


def split_table(table) -> tuple[str | None, str]:
    """``(schema, name)`` of ``"table"`` or ``"schema.table"``. Raises UserErrorException."""
    if not isinstance(table, str) or not table.strip():
        raise UserErrorException("a table name is needed, such as 'results' or 'dbo.results'")
    parts = table.strip().split(".")
    if len(parts) > 2 or not all(_IDENT.match(p) for p in parts):
        raise UserErrorException(
            f"table name {table!r} is not valid: use letters, digits and '_' (optionally "
            "'schema.table')")
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])


def family_of_series(series) -> str:
    """The value family of a pandas column. Raises UserErrorException for mixed object values."""
    import pandas as pd
    from pandas.api import types as t
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return family_of_series(series.astype(dtype.categories.dtype)) \
            if dtype.categories.dtype != object else _object_family(series.astype(object))
    if t.is_bool_dtype(dtype):
        return BOOL
    if t.is_integer_dtype(dtype):
        return INTEGER
    if t.is_float_dtype(dtype):
        return FLOAT
    if t.is_datetime64_any_dtype(dtype):
        return DATETIME
    if t.is_timedelta64_dtype(dtype):
        return INTERVAL
    if t.is_string_dtype(dtype) and dtype != object:
        return TEXT
    return _object_family(series)


def _object_family(series) -> str:
    from pandas.api.types import infer_dtype
    kind = infer_dtype(series, skipna=True)
    mapping = {"string": TEXT, "bytes": BINARY, "integer": INTEGER, "floating": FLOAT,
               "mixed-integer-float": FLOAT, "decimal": NUMERIC, "boolean": BOOL,
               "datetime64": DATETIME, "datetime": DATETIME, "date": DATE,
               "timedelta64": INTERVAL, "timedelta": INTERVAL, "empty": NULL}
    if kind in mapping:
        return mapping[kind]
    raise UserErrorException(
        f"column {series.name!r} holds values of mixed or unsupported kinds ({kind}); "
        f"convert it before writing, e.g. frame[{series.name!r}] = "
        f"frame[{series.name!r}].astype(str)")


def _sql_type(series, family: str):
    import sqlalchemy as sa
    from pandas.api import types as t
    if family == INTEGER:
        dtype = series.dtype
        if t.is_unsigned_integer_dtype(dtype) and dtype.itemsize >= 8:
            return sa.Numeric(20, 0)
        if getattr(dtype, "itemsize", 8) <= 4 and not t.is_unsigned_integer_dtype(dtype):
            return sa.Integer()
        return sa.BigInteger()
    if family == DATETIME:
        tz = getattr(series.dtype, "tz", None)
        if tz is None and series.dtype == object:
            tz = next((v.tzinfo for v in series.dropna() if isinstance(v, dt.datetime)), None)
        return _for_mysql(sa.DateTime(timezone=tz is not None), family)
    return _for_mysql({FLOAT: sa.Float(53), NUMERIC: sa.Numeric(), BOOL: sa.Boolean(),
                       DATE: sa.Date(), INTERVAL: sa.Interval(), TEXT: sa.Text(),
                       BINARY: sa.LargeBinary(), NULL: sa.Text()}[family], family)


MYSQL_DIALECTS = ("mysql", "mariadb")


def _for_mysql(generic, family: str):
    """``generic`` with a MySQL/MariaDB variant where the generic type loses data there: a bare
    DECIMAL is DECIMAL(10, 0) (1.25 would be stored as 1), a bare DATETIME drops microseconds,
    TEXT and BLOB hold at most 64 KB (a pickled model is often more)."""
    from sqlalchemy.dialects import mysql
    variant = {NUMERIC: lambda: mysql.DECIMAL(65, 30), DATETIME: lambda: mysql.DATETIME(fsp=6),
               INTERVAL: lambda: _epoch_interval()(), TEXT: mysql.LONGTEXT,
               NULL: mysql.LONGTEXT, BINARY: mysql.LONGBLOB}.get(family)
    return generic if variant is None else generic.with_variant(variant(), *MYSQL_DIALECTS)


@functools.cache
def _epoch_interval():
    """MySQL has no interval type: SQLAlchemy's Interval stores 1970-01-01 + the interval in a
    DATETIME; this one in a DATETIME(6), keeping microseconds."""
    import sqlalchemy as sa
    from sqlalchemy.dialects import mysql

    class EpochInterval(sa.Interval):
        cache_ok = True

        def __init__(self):
            super().__init__()
            self.impl = mysql.DATETIME(fsp=6)

    return EpochInterval


def sql_types_for(frame, doing: str) -> dict:
    """``{column: SQLAlchemy type}`` for every column of ``frame`` (see the module's table).
    Raises UserErrorException naming a column that cannot be mapped or a bad column name."""
    result = {}
    seen = set()
    for column in frame.columns:
        if not isinstance(column, str) or not column:
            raise UserErrorException(
                f"{doing}: column name {column!r} is not a non-empty string; rename the "
                "columns first (frame.columns = [...])")
        if column.lower() in seen:
            raise UserErrorException(f"{doing}: column {column!r} appears twice (names are "
                                     "compared without case by databases); rename one")
        seen.add(column.lower())
        series = frame[column]
        result[column] = _sql_type(series, family_of_series(series))
    return result


def for_insert(frame, dialect: str | None = None):
    """``frame`` as pandas' ``to_sql`` needs it: timedelta columns as Python timedeltas (pandas
    would send them as integers of nanoseconds); on MySQL/MariaDB (``dialect``), time zone
    aware timestamps converted to UTC (the driver would drop their offset)."""
    import pandas as pd
    from pandas.api import types as t
    columns = [c for c in frame.columns if t.is_timedelta64_dtype(frame[c].dtype)]
    aware = [c for c in frame.columns if dialect in MYSQL_DIALECTS
             and family_of_series(frame[c]) == DATETIME and _aware(frame[c])]
    if not columns and not aware:
        return frame
    frame = frame.copy()
    for column in columns:
        frame[column] = pd.Series([None if pd.isna(v) else v.to_pytimedelta()
                                   for v in frame[column]], index=frame.index, dtype=object)
    for column in aware:
        frame[column] = pd.to_datetime(frame[column], utc=True).dt.tz_localize(None)
    return frame


def _aware(series) -> bool:
    if getattr(series.dtype, "tz", None) is not None:
        return True
    return series.dtype == object and any(
        isinstance(v, dt.datetime) and v.tzinfo is not None for v in series.dropna())


def family_of_sql(sql_type) -> str | None:
    """The family of a column type of an existing table (None: unknown, anything fits)."""
    import sqlalchemy as sa
    checks = ((sa.Boolean, BOOL), (sa.Integer, INTEGER), (sa.Float, FLOAT),
              (sa.Numeric, NUMERIC), (sa.DateTime, DATETIME), (sa.Date, DATE),
              (sa.Interval, INTERVAL), (sa.LargeBinary, BINARY), (sa.types._Binary, BINARY),
              (sa.String, TEXT), (sa.Enum, TEXT))
    for klass, family in checks:
        if isinstance(sql_type, klass):
            if family == NUMERIC and getattr(sql_type, "scale", None) == 0:
                return INTEGER   # numeric(p, 0): integers
            return family
    name = type(sql_type).__name__.upper()
    if "TIMESTAMP" in name:
        return DATETIME
    if "CHAR" in name or "TEXT" in name or "UUID" in name:
        return TEXT
    return None


def existing_columns(conn, schema: str | None, name: str) -> list[dict] | None:
    """The columns of the existing table (SQLAlchemy's inspector entries), or None."""
    from sqlalchemy import inspect
    inspector = inspect(conn)
    if not inspector.has_table(name, schema=schema):
        return None
    return inspector.get_columns(name, schema=schema)


def check_against(frame, columns: list[dict], where: str, dialect: str | None = None) -> None:
    """Raise UserErrorException naming the first column of ``frame`` that does not fit the
    table's ``columns``, or a NOT NULL column without default the frame lacks. On databases
    without an interval type (``dialect`` MySQL, MariaDB, SQLite) intervals fit datetime
    columns (where they are written as 1970-01-01 + the interval)."""
    by_name = {c["name"].lower(): c for c in columns}
    for column in frame.columns:
        entry = by_name.get(str(column).lower())
        if entry is None:
            raise UserErrorException(
                f"{where} has no column {column!r} (its columns: "
                f"{', '.join(c['name'] for c in columns)}); drop or rename the column, or write "
                "with mode='replace' to recreate the table")
        family = family_of_series(frame[column])
        target = family_of_sql(entry["type"])
        if family == NULL or target is None:
            continue
        if family == FLOAT and target == INTEGER and _integral(frame[column]):
            family = INTEGER   # integers with missing values: pandas holds them as floats
        if family == INTERVAL and target == DATETIME and dialect in (*MYSQL_DIALECTS, "sqlite"):
            continue
        if target not in _FITS.get(family, {family}):
            raise UserErrorException(
                f"{where}: column {column!r} is {target} ({entry['type']}) in the table but "
                f"{family} ({frame[column].dtype}) in the data; convert the column, or write "
                "with mode='replace' to recreate the table")
        if not entry.get("nullable", True) and frame[column].isna().any():
            raise UserErrorException(
                f"{where}: column {column!r} is NOT NULL in the table but the data has missing "
                "values in it; fill them first (frame[col].fillna(...))")
    present = {str(c).lower() for c in frame.columns}
    for entry in columns:
        if entry["name"].lower() in present or entry.get("nullable", True):
            continue
        if entry.get("default") is None and not entry.get("autoincrement") is True \
                and not _is_identity(entry):
            raise UserErrorException(
                f"{where}: column {entry['name']!r} is NOT NULL without a default and the data "
                "has no such column; add it to the data")


def _integral(series) -> bool:
    values = series.dropna()
    return bool((values == values.round()).all())


def _is_identity(entry: dict) -> bool:
    return bool(entry.get("identity")) or bool(entry.get("computed"))


__all__ = ["split_table", "sql_types_for", "family_of_series", "family_of_sql",
           "existing_columns", "check_against", "for_insert"]
