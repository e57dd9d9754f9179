"""What the SQL store does differently on PostgreSQL (``AMLOCAL_STORE_URL=postgresql://...``).

- ``postgresql://`` and ``postgres://`` URLs use the psycopg 3 driver
  (``postgresql+psycopg://``); the URL's password never appears in an error message
  (:func:`safe_url`), nor do statement parameters (the engine hides them).
- Isolation: transactions run at PostgreSQL's READ COMMITTED. A read-modify-write of one row
  reads it with ``SELECT ... FOR UPDATE`` (a no-op on SQLite, where every transaction is
  ``BEGIN IMMEDIATE`` and so already serialized); a write that depends on rows that may not
  exist yet (the next version of a name, replacing a datastore, a schedule's watched files)
  first takes a transaction-scoped advisory lock on what it writes (:func:`lock`), so two
  processes or machines never both take the same number or both insert the same key.
- Migrations take one advisory lock, so several machines opening a new database at once
  apply them once.
"""
from __future__ import annotations

import sqlalchemy as sa

#: the lock that serializes migrations across processes and machines
MIGRATION_LOCK = ("amlocal", "migrations")


def is_postgres(url: str) -> bool:
    return url.split(":", 1)[0].split("+", 1)[0] in ("postgresql", "postgres")


def driver_url(url: str) -> str:
    """``url`` with the psycopg 3 driver when it names none (``postgresql://``,
    ``postgres://``)."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    return url


def safe_url(url: str) -> str:
    """``url`` fit for a message: the password masked."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL: show only its scheme
        return url.split("://", 1)[0] + "://..."


def make_engine(url: str) -> sa.Engine:
    import importlib.util
    if importlib.util.find_spec("psycopg") is None:   # a clear message, not a driver trace
        from ..errors import StoreError
        raise StoreError("a PostgreSQL store needs the psycopg driver: "
                         "pip install 'psycopg[binary]'")
    return sa.create_engine(driver_url(url), pool_pre_ping=True, pool_size=4, max_overflow=16,
                            hide_parameters=True)


def lock(conn: sa.Connection, *key: str) -> None:
    """Hold a lock on ``key`` until the transaction of ``conn`` ends (PostgreSQL: an advisory
    transaction lock on a 64-bit hash of the key; other databases: nothing, SQLite's write
    transactions are serialized already)."""
    if conn.dialect.name != "postgresql":
        return
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                 {"key": "\x1f".join(str(k) for k in key)})
