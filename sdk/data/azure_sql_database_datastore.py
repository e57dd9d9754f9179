"""AzureSqlDatabaseDatastore (``azureml.data.azure_sql_database_datastore``): a SQL Server
database registered with ``Datastore.register_azure_sql_database``; ``datastore_type`` is
``"AzureSqlDatabase"``. Read through SQLAlchemy's ``mssql+pymssql`` driver (``pip install
pymssql``); how the arguments map onto a URL: :mod:`amlocal.datastores.sql_azure`.

Deliberate difference from Azure: ``password`` and ``client_secret`` are not attributes (the
password stays in the store and is never shown); a service principal cannot sign in locally.
"""
from __future__ import annotations

from ._sql_datastore import AbstractSqlDatastore


class AzureSqlDatabaseDatastore(AbstractSqlDatastore):
    """A SQL Server database (``Datastore.register_azure_sql_database``)."""

    _KIND = "AzureSqlDatabase"

    @property
    def username(self) -> str | None:
        return self._settings().get("username") or self._describe()["username"]

    @property
    def tenant_id(self) -> str | None:
        return self._settings().get("tenant_id")

    @property
    def client_id(self) -> str | None:
        return self._settings().get("client_id")

    @property
    def resource_url(self) -> str | None:
        return self._settings().get("resource_url")

    @property
    def authority_url(self) -> str | None:
        return self._settings().get("authority_url")

    @property
    def auth_type(self) -> str:
        """``"SqlAuthentication"``, as Azure names it (the only kind used locally)."""
        return "SqlAuthentication"


__all__ = ["AzureSqlDatabaseDatastore"]
