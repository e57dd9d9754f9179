"""AzurePostgreSqlDatastore (``azureml.data.azure_postgre_sql_datastore``): a PostgreSQL
database registered with ``Datastore.register_azure_postgre_sql``; ``datastore_type`` is
``"AzurePostgreSql"``. Read through SQLAlchemy's ``postgresql+psycopg`` driver (``pip install
'psycopg[binary]'``); how the arguments map onto a URL (and ``enforce_ssl`` onto ``sslmode``):
:mod:`amlocal.datastores.sql_azure`.

Deliberate difference from Azure: ``user_password`` is not an attribute (it stays in the store
and is never shown).
"""
from __future__ import annotations

from ._sql_datastore import _ServerSqlDatastore


class AzurePostgreSqlDatastore(_ServerSqlDatastore):
    """A PostgreSQL database (``Datastore.register_azure_postgre_sql``)."""

    _KIND = "AzurePostgreSql"

    @property
    def enforce_ssl(self) -> bool:
        return bool(self._settings().get("enforce_ssl", True))


__all__ = ["AzurePostgreSqlDatastore"]
