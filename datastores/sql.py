"""SQL datastores: a registered database reached through SQLAlchemy, on the host only.

Public API (stable; other modules build on it):

- ``SQL_KINDS``: the ``datastore_type`` values of SQL datastores (``"AzureSqlDatabase"``,
  ``"AzurePostgreSql"``, ``"AzureMySql"`` as Azure names them, and amlocal's ``"Sql"`` for any
  SQLAlchemy URL); ``is_sql(kind)``.
- ``split_url(url) -> (stored_url, options)``: a SQLAlchemy URL as a SQL datastore keeps it: the
  URL without its password (``postgresql://`` and ``postgres://`` become
  ``postgresql+psycopg://``, ``mysql://`` becomes ``mysql+pymysql://``) and ``{"password": ...}``
  (the datastore's secret, kept in its storage options like every datastore credential).
- ``server_url(dialect, host, database, user, password, port=None, query=None)``: the same for
  the Azure registrations.
- ``shown_url(info)``: the URL without any password (for messages, listings and digests).
- ``engine_for(info, timeout=None)``: a SQLAlchemy engine (password included); raises
  UserErrorException naming ``pip install ...`` when the driver is missing.
- ``read_query(info, query, timeout=30) -> pandas.DataFrame`` and
  ``query_to_parquet(info, query, path, timeout=30) -> int`` (rows written);
- ``check_query(info, query, timeout=30)``: runs the query and reads nothing back (validation);
- ``write_table(info, table, frame, mode="append"|"replace") -> int`` (rows written), with the
  type mapping and schema checks of :mod:`.sql_types`;
- ``query_digest(info, query) -> str``: the reuse key of a query input (datastore name, URL
  without password, query text); ``frame_digest(frame) -> str``: a digest of a result.

``info`` is a datastore as the store keeps it (``amlocal.store.entities.DatastoreInfo``: ``name``,
``url``, ``kind``, ``options``) or any object with those attributes.

Every error names the datastore and the database's own message, with the password replaced by
``***``; no password is ever logged. Drivers and their packages: PostgreSQL ``psycopg``
(``pip install 'psycopg[binary]'``), MySQL ``pymysql`` (``pip install pymysql``), SQL Server
``pymssql`` (``pip install pymssql``) or ``pyodbc`` (``pip install pyodbc`` and an ODBC driver),
SQLite: Python's own ``sqlite3``. The tests run against real SQLite, PostgreSQL and MySQL
(MariaDB 10.11, Debian's ``mariadb-server``) databases.

Query timeouts: PostgreSQL through ``statement_timeout``, MySQL through the driver's read
timeout, SQL Server through the driver's query timeout, SQLite by interrupting the statement
when the time is up. A timed out query raises UserErrorException naming the timeout.
"""
from __future__ import annotations

import hashlib
import json
import re
import time
from contextlib import contextmanager
from typing import Any

from amlocal.errors import UserErrorException

from .fs import REDACTED

AZURE_SQL_DATABASE = "AzureSqlDatabase"
AZURE_POSTGRESQL = "AzurePostgreSql"
AZURE_MYSQL = "AzureMySql"
GENERIC_SQL = "Sql"
SQL_KINDS = (AZURE_SQL_DATABASE, AZURE_POSTGRESQL, AZURE_MYSQL, GENERIC_SQL)
DEFAULT_TIMEOUT = 30

# driver module -> what to install
_DRIVER_PACKAGES = {
    "psycopg": "pip install 'psycopg[binary]'",
    "psycopg2": "pip install psycopg2-binary (or use postgresql+psycopg:// with "
                "pip install 'psycopg[binary]')",
    "pg8000": "pip install pg8000",
    "asyncpg": "pip install asyncpg",
    "pymysql": "pip install pymysql",
    "MySQLdb": "pip install mysqlclient (or use mysql+pymysql:// with pip install pymysql)",
    "mysqlclient": "pip install mysqlclient",
    "mysqlconnector": "pip install mysql-connector-python",
    "mysql": "pip install mysql-connector-python",
    "pymssql": "pip install pymssql",
    "pyodbc": "pip install pyodbc (and an ODBC driver for SQL Server, such as Microsoft's "
              "msodbcsql18)",
    "oracledb": "pip install oracledb",
}
# default SQLAlchemy driver of each dialect that has no driver named in the URL
_DEFAULT_DRIVER = {"postgresql": "psycopg2", "mysql": "mysqldb", "mariadb": "mysqldb",
                   "mssql": "pyodbc", "oracle": "oracledb", "sqlite": "pysqlite"}
_DRIVER_MODULE = {"mysqldb": "MySQLdb", "pysqlite": "sqlite3", "mysqlconnector": "mysqlconnector"}


def is_sql(kind: str | None) -> bool:
    """Whether a datastore of ``kind`` (its ``datastore_type``) is a SQL datastore."""
    return kind in SQL_KINDS


# -- URLs ----------------------------------------------------------------------------------------
def _parse(url):
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError
    try:
        return make_url(url)
    except (ArgumentError, ValueError, TypeError) as exc:
        raise UserErrorException(
            f"{_mask(str(url), None)!r} is not a SQLAlchemy URL ({_mask(str(exc), None)}); use "
            "dialect+driver://user:password@host:port/database, e.g. "
            "'postgresql+psycopg://user:pw@localhost:5432/db' or 'sqlite:///path/to/file.db'"
        ) from None


def split_url(url: str) -> tuple[str, dict]:
    """``(stored_url, options)``: ``url`` without its password, and ``{"password": ...}`` when it
    had one. ``postgresql://``/``postgres://`` get the psycopg (3) driver and ``mysql://`` the
    pymysql driver (amlocal's choice: both are pure pip installs); other URLs keep their driver.
    Raises UserErrorException for text that is not a SQLAlchemy URL."""
    if not isinstance(url, str) or not url.strip():
        raise UserErrorException(
            "a SQLAlchemy URL is needed, e.g. 'postgresql+psycopg://user:pw@localhost/db' or "
            "'sqlite:///path/to/file.db'")
    text = url.strip()
    if text.startswith("postgres://"):
        text = "postgresql://" + text[len("postgres://"):]
    parsed = _parse(text)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.drivername in ("mysql", "mariadb"):
        parsed = parsed.set(drivername=parsed.drivername + "+pymysql")
    if parsed.drivername.startswith("sqlite") and parsed.database not in (None, "", ":memory:") \
            and not parsed.database.startswith("file:"):
        from pathlib import Path
        parsed = parsed.set(database=str(Path(parsed.database).expanduser().resolve()))
    options = {"password": parsed.password} if parsed.password else {}
    stored = parsed._replace(password=None).render_as_string(hide_password=False)
    return stored, options


def server_url(dialect: str, host: str, database: str, user: str | None,
               password: str | None, port=None, query: dict | None = None) -> tuple[str, dict]:
    """``(stored_url, options)`` for a database server (the Azure registrations), as
    :func:`split_url` answers them. ``dialect`` is ``"postgresql+psycopg"``,
    ``"mysql+pymysql"`` or ``"mssql+pymssql"``."""
    from sqlalchemy.engine import URL
    try:
        port_number = int(port) if port not in (None, "") else None
    except (TypeError, ValueError):
        raise UserErrorException(f"port number {port!r} is not a number; give e.g. 5432") from None
    url = URL.create(dialect, username=user or None, password=None, host=host,
                     port=port_number, database=database, query=dict(query or {}))
    options = {"password": password} if password else {}
    return url.render_as_string(hide_password=False), options


def shown_url(info) -> str:
    """The datastore's URL without any password."""
    return _parse(info.url)._replace(password=None).render_as_string(hide_password=False)


def sql_url(info):
    """The SQLAlchemy URL object with the password (never show it: ``shown_url`` for that)."""
    url = _parse(info.url)
    password = (info.options or {}).get("password")
    return url.set(password=password) if password else url


def _password(info) -> str | None:
    password = (getattr(info, "options", None) or {}).get("password")
    if password:
        return password
    try:
        return _parse(info.url).password
    except UserErrorException:
        return None


def _mask(text: str, password: str | None) -> str:
    """``text`` with the password (raw and URL-quoted) and any ``user:secret@`` replaced."""
    from urllib.parse import quote, quote_plus
    if password:
        for form in {password, quote(password, safe=""), quote_plus(password)}:
            text = text.replace(form, REDACTED)
    return re.sub(r"(://[^:/@\s]*):[^@/\s]+@", rf"\1:{REDACTED}@", text)


def _label(info) -> str:
    return f"SQL datastore '{getattr(info, 'name', '?')}' ({_mask(shown_url(info), None)})"


# -- engines -------------------------------------------------------------------------------------
def _driver_of(url) -> tuple[str, str]:
    """``(dialect, driver module)`` of a SQLAlchemy URL."""
    dialect, _, driver = url.drivername.partition("+")
    driver = driver or _DEFAULT_DRIVER.get(dialect, dialect)
    return dialect, _DRIVER_MODULE.get(driver, driver)


def install_hint(info) -> str | None:
    """None when the datastore's driver imports; else the ``pip install ...`` that fixes it."""
    import importlib.util
    dialect, module = _driver_of(_parse(info.url))
    if module == "sqlite3":
        return None
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if found:
        return None
    return _DRIVER_PACKAGES.get(module, f"pip install {module}")


def _connect_args(url, timeout: float | None) -> dict:
    dialect, module = _driver_of(url)
    if not timeout:
        return {}
    seconds = max(1, int(timeout))
    if dialect == "postgresql" and module in ("psycopg", "psycopg2"):
        return {"connect_timeout": seconds, "options": f"-c statement_timeout={seconds * 1000}"}
    if dialect in ("mysql", "mariadb") and module == "pymysql":
        return {"connect_timeout": seconds, "read_timeout": seconds, "write_timeout": seconds}
    if dialect == "mssql" and module == "pymssql":
        return {"login_timeout": seconds, "timeout": seconds}
    if dialect == "sqlite":
        return {"timeout": seconds}   # waiting for a lock; statements: see _sqlite_deadline
    return {}


def engine_for(info, timeout: float | None = None):
    """A SQLAlchemy engine for the datastore (no pooling: one connection per use). Raises
    UserErrorException naming ``pip install ...`` when the driver is missing."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import NoSuchModuleError
    from sqlalchemy.pool import NullPool
    url = sql_url(info)
    hint = install_hint(info)
    if hint:
        raise UserErrorException(
            f"{_label(info)} needs the {_driver_of(url)[1]!r} driver, which is not installed: "
            f"{hint}")
    try:
        return create_engine(url, poolclass=NullPool, connect_args=_connect_args(url, timeout))
    except NoSuchModuleError as exc:
        raise UserErrorException(
            f"{_label(info)}: SQLAlchemy does not know the dialect/driver "
            f"'{url.drivername}' ({exc}); use e.g. postgresql+psycopg, mysql+pymysql, "
            "mssql+pymssql or sqlite") from None
    except ImportError as exc:
        raise UserErrorException(
            f"{_label(info)} cannot load its driver ({exc}): "
            f"{_DRIVER_PACKAGES.get(_driver_of(url)[1], 'install the driver')}") from None


def database_error(info, exc: BaseException, doing: str) -> UserErrorException:
    """A UserErrorException naming the datastore, what was done and the database's message
    (password masked)."""
    original = _root_error(exc)
    message = " ".join(str(original).split()) or type(original).__name__
    message = re.sub(r"\s*\(Background on this error at: \S+\)", "", message)
    message = re.sub(r"\s*\[SQL: .*$", "", message)
    return UserErrorException(
        f"{_label(info)}: {doing} failed: {_mask(message, _password(info))[:2000]}")


def _root_error(exc: BaseException) -> BaseException:
    """The driver's own error behind SQLAlchemy's (and pandas') wrappers."""
    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, "orig", None) or exc.__cause__
        if inner is None or not isinstance(inner, BaseException):
            break
        exc = inner
    return exc


class _Deadline:
    """SQLite has no statement timeout: interrupt the statement when ``timeout`` is up."""

    def __init__(self, connection, url, timeout):
        self.raw = None
        self.expired = False
        if timeout and _driver_of(url)[0] == "sqlite":
            self.raw = connection.connection.driver_connection
            self.until = time.monotonic() + float(timeout)
            self.raw.set_progress_handler(self._check, 10_000)

    def _check(self) -> int:
        if time.monotonic() > self.until:
            self.expired = True
            return 1
        return 0

    def close(self) -> None:
        if self.raw is not None:
            self.raw.set_progress_handler(None, 0)


def _check_query_text(info, query) -> str:
    if not isinstance(query, str) or not query.strip():
        raise UserErrorException(
            f"{_label(info)}: a SQL query is needed (a non-empty string such as "
            f"'SELECT * FROM my_table'), not {query!r}")
    return query.strip()


def _is_timeout(exc: BaseException) -> bool:
    text = str(_root_error(exc)).lower()
    return any(k in text for k in ("statement timeout", "canceling statement",
                                   "during query", "read timed out", "query timeout"))


@contextmanager
def _connection(info, query: str, timeout):
    """A connection to the datastore's database, with ``timeout`` on its statements; errors
    become UserErrorException naming the datastore, the query and the database's message
    (a pandas DatabaseError is an OSError)."""
    from sqlalchemy.exc import SQLAlchemyError
    engine = engine_for(info, timeout)
    deadline = None
    try:
        with engine.connect() as conn:
            deadline = _Deadline(conn, engine.url, timeout)
            try:
                yield conn
            finally:
                deadline.close()
    except (SQLAlchemyError, OSError) as exc:
        if (deadline is not None and deadline.expired) or (timeout and _is_timeout(exc)):
            raise UserErrorException(
                f"{_label(info)}: the query did not finish within {timeout} s "
                "(query_timeout); raise query_timeout or make the query cheaper") from None
        raise database_error(info, exc, f"the query {_shorten(query)!r}") from None
    finally:
        engine.dispose()


def read_query(info, query: str, timeout: float | None = DEFAULT_TIMEOUT,
               params: dict | None = None):
    """Run ``query`` on the datastore's database and answer its rows as a pandas DataFrame;
    ``params`` are bound to the query's ``:name`` placeholders.

    Raises UserErrorException naming the datastore and the database's message for a broken
    query, a refused connection or a timeout (``timeout`` seconds; None: no limit)."""
    import pandas as pd
    from sqlalchemy import text
    query = _check_query_text(info, query)
    with _connection(info, query, timeout) as conn:
        return pd.read_sql_query(text(query), conn, params=params or None)


def check_query(info, query: str, timeout: float | None = DEFAULT_TIMEOUT) -> list[str]:
    """Run ``query`` and answer its column names (no rows are read back; anything it changed
    is rolled back); raises as :func:`read_query` does."""
    from sqlalchemy import text
    query = _check_query_text(info, query)
    with _connection(info, query, timeout) as conn:
        result = conn.execute(text(query))
        columns = list(result.keys()) if result.returns_rows else []
        result.close()
        conn.rollback()
        return columns


def query_to_parquet(info, query: str, path, timeout: float | None = DEFAULT_TIMEOUT) -> int:
    """Run ``query`` and write its rows to the Parquet file ``path``; answer the row count."""
    frame = read_query(info, query, timeout)
    write_parquet(frame, path)
    return len(frame)


def write_parquet(frame, path) -> None:
    """``frame`` as a Parquet file (no index); object columns of mixed values become text."""
    from pathlib import Path
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        frame.to_parquet(path, index=False)
    except Exception:  # noqa: BLE001 - pyarrow refuses mixed object columns: write them as text
        fixed = frame.copy()
        for column in fixed.columns:
            if fixed[column].dtype == object:
                fixed[column] = fixed[column].map(lambda v: v if v is None else str(v))
        fixed.to_parquet(path, index=False)


def write_table(info, table: str, frame, mode: str = "append") -> int:
    """Write ``frame`` into ``table`` (``"schema.table"`` allowed); answer the rows written.

    ``mode="append"`` adds rows (the table is created when missing); ``"replace"`` drops the
    table and creates it anew from the frame's types. Types are mapped as
    :mod:`.sql_types` documents. Before anything is written in append mode the frame is checked
    against the existing table: a column the table lacks, an incompatible type or a missing
    value for a NOT NULL column raises UserErrorException naming the column. Everything is
    written in one transaction (on databases with transactional DDL a failed replace leaves the
    old table)."""
    from sqlalchemy.exc import SQLAlchemyError
    from . import sql_types
    if mode not in ("append", "replace"):
        raise UserErrorException(f"write mode {mode!r} is not valid: use 'append' or 'replace'")
    schema, name = sql_types.split_table(table)
    dtypes = sql_types.sql_types_for(frame, f"writing to table {table!r}")
    frame = sql_types.for_insert(frame, _parse(info.url).get_backend_name())
    engine = engine_for(info)
    try:
        with engine.begin() as conn:
            if mode == "append":
                existing = sql_types.existing_columns(conn, schema, name)
                if existing is not None:
                    sql_types.check_against(frame, existing, f"{_label(info)}, table {table!r}",
                                            engine.dialect.name)
            method, chunk = _insert_batches(engine.url, len(frame.columns))
            frame.to_sql(name, conn, schema=schema, index=False, method=method,
                         chunksize=chunk, dtype=dtypes,
                         if_exists="replace" if mode == "replace" else "append")
        return len(frame)
    except UserErrorException:
        raise
    except (SQLAlchemyError, OSError, ValueError) as exc:
        raise database_error(info, exc, f"writing {len(frame)} rows to table {table!r}") \
            from None
    finally:
        engine.dispose()


def _insert_batches(url, columns: int) -> tuple[str | None, int]:
    """pandas' insert ``method`` and rows per statement: multi-row INSERTs within the
    database's limit of bound parameters (SQL Server 2100, PostgreSQL/MySQL 65535); SQLite
    runs executemany, which is as fast there."""
    dialect = _driver_of(url)[0]
    if dialect == "sqlite":
        return None, 10_000
    limit = 2000 if dialect == "mssql" else 60_000
    return "multi", max(1, min(1000, limit // max(1, columns)))


# -- digests -------------------------------------------------------------------------------------
def query_digest(info, query: str) -> str:
    """sha256 of the datastore's name, its URL without password and the query (whitespace at
    the ends stripped): the reuse key of a query input. The result is NOT part of it."""
    payload = [getattr(info, "name", None), shown_url(info), str(query).strip()]
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()


def frame_digest(frame) -> str:
    """sha256 over a DataFrame's columns, dtypes and values (the opt-in result cache key)."""
    import pandas as pd
    digest = hashlib.sha256()
    digest.update(json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode())
    try:
        values = pd.util.hash_pandas_object(frame, index=False).values
        digest.update(values.tobytes())
    except TypeError:   # unhashable cells (lists, dicts): their text
        digest.update(frame.astype(str).to_csv(index=False).encode())
    return digest.hexdigest()


def _shorten(query: str, limit: int = 200) -> str:
    flat = " ".join(query.split())
    return flat if len(flat) <= limit else flat[:limit - 3] + "..."


def describe(info) -> dict[str, Any]:
    """What listings show of a SQL datastore: dialect, host, port, database, user (no secret)."""
    url = _parse(info.url)
    return {"dialect": url.get_backend_name(), "driver": url.get_driver_name(),
            "host": url.host, "port": url.port, "database": url.database,
            "username": url.username}


def probe_query(info, query: str, timeout: float | None = DEFAULT_TIMEOUT) -> None:
    """Check that ``query`` runs, reading no row where the database allows it: it is tried as
    ``SELECT * FROM (query) AS amlocal_probe WHERE 1 = 0`` (the database checks its tables,
    columns and types without reading them); a query that cannot be wrapped so (not a plain
    SELECT, or a dialect refusing the form) is run whole by :func:`check_query` instead, so the
    error raised is always the query's own. Raises as :func:`read_query`."""
    body = _check_query_text(info, query).rstrip().rstrip(";").rstrip()
    try:
        check_query(info, f"SELECT * FROM ({body}) AS amlocal_probe WHERE 1 = 0", timeout)
    except UserErrorException:
        check_query(info, body, timeout)


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


def procedure_call(info, name: str, params: list[tuple[str, object]]) -> str:
    """The statement calling stored procedure ``name`` with ``params`` (``(name, value)`` pairs,
    bound by name as ``:p0``, ``:p1`` ...) in the datastore's dialect, reading its result set:
    PostgreSQL ``SELECT * FROM name(param => :p0, ...)`` (a function returning rows: PostgreSQL
    procedures return none), SQL Server ``EXEC name @param = :p0, ...``, MySQL
    ``CALL name(:p1, :p0, ...)`` (CALL is positional: the parameters are put in the order the
    procedure declares them, read from information_schema). SQLite has no stored procedures.
    Raises UserErrorException for a name or parameter name that is not a plain identifier, or a
    database without procedures."""
    for what, value in [("stored procedure", name)] + [("parameter", p) for p, _ in params]:
        if not isinstance(value, str) or not _IDENTIFIER.match(value.lstrip("@")):
            raise UserErrorException(
                f"{_label(info)}: {what} name {value!r} is not a plain SQL identifier (letters, "
                "digits and _, optionally schema.name)")
    dialect = _parse(info.url).get_backend_name()
    names = [p.lstrip("@") for p, _ in params]
    if dialect == "postgresql":
        args = ", ".join(f"{p} => :p{i}" for i, p in enumerate(names))
        return f"SELECT * FROM {name}({args})"
    if dialect == "mssql":
        args = ", ".join(f"@{p} = :p{i}" for i, p in enumerate(names))
        return f"EXEC {name} {args}".rstrip()
    if dialect in ("mysql", "mariadb"):
        order = _declared_order(info, name, names)
        return f"CALL {name}({', '.join(f':p{i}' for i in order)})"
    raise UserErrorException(f"{_label(info)}: {dialect} databases have no stored procedures; "
                             "give the rows as sql_query='SELECT ...' instead")


def _declared_order(info, name: str, names: list[str]) -> list[int]:
    """MySQL's CALL binds by position: the indexes of ``names`` in the order the procedure
    declares its parameters (from information_schema), so parameters are bound by name as on
    the other databases. A name the procedure lacks, or a parameter left out (MySQL has no
    defaults), raises UserErrorException naming it. A procedure information_schema does not
    show: the order given (the CALL then reports what is wrong)."""
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError
    schema, _, routine = name.rpartition(".")
    engine = engine_for(info, DEFAULT_TIMEOUT)
    try:
        with engine.connect() as conn:
            declared = list(conn.execute(text(
                "SELECT parameter_name FROM information_schema.parameters WHERE "
                "specific_schema = COALESCE(:s, DATABASE()) AND LOWER(specific_name) = "
                "LOWER(:n) AND routine_type = 'PROCEDURE' AND parameter_name IS NOT NULL "
                "ORDER BY ordinal_position"), {"s": schema or None, "n": routine}).scalars())
    except SQLAlchemyError as exc:
        raise database_error(info, exc, f"reading the parameters of procedure {name!r}") \
            from None
    finally:
        engine.dispose()
    if not declared:
        return list(range(len(names)))
    given = {n.lower(): i for i, n in enumerate(names)}
    for problem, values in (("has no parameter", [n for n in names if n.lower() not in
                                                  {d.lower() for d in declared}]),
                            ("needs parameter", [d for d in declared
                                                 if d.lower() not in given])):
        if values:
            raise UserErrorException(
                f"{_label(info)}: stored procedure {name!r} {problem} {values[0]!r} (its "
                f"parameters: {', '.join(declared)}); give one StoredProcedureParameter for "
                "each of them")
    return [given[d.lower()] for d in declared]


_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


def procedure_value(name: str, kind: str, value):
    """A stored procedure parameter's ``value`` (a string, as Azure passes them, or a value of
    its type) as its ``kind`` says (StoredProcedureParameterType's names): String: str, Int: int,
    Decimal: decimal.Decimal, Guid: its canonical text, Boolean: bool (true/false/1/0/yes/no),
    Date: a date or datetime from ISO text. Raises UserErrorException naming the parameter."""
    import datetime
    import decimal
    import uuid
    try:
        if value is None or kind == "String":
            return value if value is None else str(value)
        if kind == "Int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError(value)
            return int(value)
        if kind == "Decimal":
            return decimal.Decimal(str(value))
        if kind == "Guid":
            return str(uuid.UUID(str(value)))
        if kind == "Boolean":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text not in _TRUE + _FALSE:
                raise ValueError(value)
            return text in _TRUE
        if kind == "Date":
            if isinstance(value, (datetime.date, datetime.datetime)):
                return value
            text = str(value).strip()
            return (datetime.date.fromisoformat(text) if len(text) == 10
                    else datetime.datetime.fromisoformat(text))
    except (ValueError, decimal.InvalidOperation, TypeError):
        raise UserErrorException(f"stored procedure parameter '{name}': {value!r} is not a "
                                 f"valid {kind} value") from None
    raise UserErrorException(f"stored procedure parameter '{name}': type {kind!r} is not one of "
                             "String, Int, Decimal, Guid, Boolean, Date")
