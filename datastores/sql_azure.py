"""Azure's SQL datastore arguments as SQLAlchemy URLs (``Datastore.register_azure_*``).

Each function answers ``(url, options)`` as a SQL datastore keeps them (:mod:`.sql`): the URL
without password, and storage options ``{"password": ..., "settings": {...}}`` where
``settings`` are the non-secret arguments as given (shown by listings and the datastore's
attributes).

Host: ``server_name`` when ``endpoint`` is None (deliberate difference: Azure then appends its
default suffix, ``database.windows.net``, ``postgres.database.azure.com`` or
``mysql.database.azure.com``; locally a server is usually ``localhost`` or a container's name),
else ``<server_name>.<endpoint>`` (a ``server_name`` already ending with ``.<endpoint>`` is kept).
Port: ``port_number`` (PostgreSQL, MySQL); SQL Server takes a ``,1433`` or ``:1433`` suffix of
``server_name``; else the driver's default. Drivers: ``mssql+pymssql`` (``pip install pymssql``),
``postgresql+psycopg`` (``pip install 'psycopg[binary]'``), ``mysql+pymysql``
(``pip install pymysql``).
"""
from __future__ import annotations

import warnings

from amlocal.errors import UserErrorException

from .sql import server_url


def _host(server_name, endpoint, what: str) -> str:
    if not isinstance(server_name, str) or not server_name.strip():
        raise UserErrorException(f"server_name is required for {what} (e.g. 'localhost', or "
                                 "'myserver' with endpoint='postgres.database.azure.com')")
    server = server_name.strip()
    if endpoint:
        suffix = str(endpoint).strip().lstrip(".")
        if not server.endswith("." + suffix):
            server = f"{server}.{suffix}"
    return server


def _require(value, name: str, what: str) -> None:
    if value is None or (isinstance(value, str) and not value):
        raise UserErrorException(f"{name} is required for {what}")


def _with_settings(options: dict, settings: dict) -> dict:
    return {**options, "settings": {k: v for k, v in settings.items() if v is not None}}


def skip_validation(kwargs: dict, where: str) -> bool:
    """``skip_validation`` from Azure's ``**kwargs``; any other keyword raises."""
    kwargs = dict(kwargs)
    skip = bool(kwargs.pop("skip_validation", False))
    if kwargs:
        raise UserErrorException(f"{where}: unexpected arguments {sorted(kwargs)}; the only "
                                 "keyword argument read locally is skip_validation")
    return skip


def azure_sql_database(server_name, database_name, tenant_id=None, client_id=None,
                       client_secret=None, endpoint=None, username=None, password=None,
                       resource_url=None, authority_url=None) -> tuple[str, dict]:
    """SQL Server through pymssql. Only SQL authentication (``username``/``password``) reaches
    a database locally: a service principal alone is refused with the fix, and ignored with one
    warning when a username and password are given too."""
    what = "an Azure SQL database datastore"
    _require(database_name, "database_name", what)
    principal = bool(tenant_id or client_id or client_secret)
    if not (username and password):
        if principal:
            raise UserErrorException(
                "a service principal (tenant_id, client_id, client_secret) cannot sign in to a "
                "database locally: give username= and password= of a database user instead")
        raise UserErrorException(f"username and password are required for {what} locally "
                                 "(SQL authentication)")
    if principal:
        warnings.warn("register_azure_sql_database: the service principal (tenant_id, "
                      "client_id, client_secret) is ignored locally; the datastore signs in "
                      "with username and password", UserWarning, stacklevel=4)
    host = _host(server_name, endpoint, what)
    port = None
    for sep in (",", ":"):
        if sep in host:
            host, _, port = host.rpartition(sep)
            break
    url, options = server_url("mssql+pymssql", host, database_name, username, password, port)
    return url, _with_settings(options, {
        "server_name": server_name, "database_name": database_name, "endpoint": endpoint,
        "username": username, "resource_url": resource_url, "authority_url": authority_url,
        "tenant_id": tenant_id, "client_id": client_id})


def loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def azure_postgre_sql(server_name, database_name, user_id, user_password, port_number=None,
                      endpoint=None, enforce_ssl=True) -> tuple[str, dict]:
    """PostgreSQL through psycopg 3. ``enforce_ssl=True`` is ``sslmode=require``, except on a
    loopback host (``localhost``, ``127.x``, ``::1``: a local server seldom has a certificate),
    where it is ``prefer``, as is ``enforce_ssl=False``."""
    what = "an Azure PostgreSQL datastore"
    for value, label in ((user_id, "user_id"), (user_password, "user_password"),
                         (database_name, "database_name")):
        _require(value, label, what)
    host = _host(server_name, endpoint, what)
    sslmode = "require" if enforce_ssl and not loopback(host) else "prefer"
    url, options = server_url("postgresql+psycopg", host, database_name, user_id, user_password,
                              port_number, {"sslmode": sslmode})
    return url, _with_settings(options, {
        "server_name": server_name, "database_name": database_name, "endpoint": endpoint,
        "user_id": user_id, "port_number": port_number, "enforce_ssl": bool(enforce_ssl)})


def azure_my_sql(server_name, database_name, user_id, user_password, port_number=None,
                 endpoint=None) -> tuple[str, dict]:
    """MySQL through pymysql (tested against MariaDB 10.11, Debian's package)."""
    what = "an Azure MySQL datastore"
    for value, label in ((user_id, "user_id"), (user_password, "user_password"),
                         (database_name, "database_name")):
        _require(value, label, what)
    host = _host(server_name, endpoint, what)
    url, options = server_url("mysql+pymysql", host, database_name, user_id, user_password,
                              port_number)
    return url, _with_settings(options, {
        "server_name": server_name, "database_name": database_name, "endpoint": endpoint,
        "user_id": user_id, "port_number": port_number})
