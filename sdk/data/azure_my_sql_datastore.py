"""AzureMySqlDatastore (``azureml.data.azure_my_sql_datastore``): a MySQL database registered
with ``Datastore.register_azure_my_sql``; ``datastore_type`` is ``"AzureMySql"``. Read through
SQLAlchemy's ``mysql+pymysql`` driver (``pip install pymysql``); how the arguments map onto a
URL: :mod:`amlocal.datastores.sql_azure`. Tested against MariaDB 10.11 (Debian's package);
MySQL's side of the type mapping: :mod:`amlocal.datastores.sql_types`.

Deliberate difference from Azure: ``user_password`` is not an attribute (it stays in the store
and is never shown).
"""
from __future__ import annotations

from ._sql_datastore import _ServerSqlDatastore


class AzureMySqlDatastore(_ServerSqlDatastore):
    """A MySQL database (``Datastore.register_azure_my_sql``)."""

    _KIND = "AzureMySql"


__all__ = ["AzureMySqlDatastore"]
