"""AzureMySqlDatastore (``azureml.data.azure_my_sql_datastore``): a MySQL database registered
with ``Datastore.register_azure_my_sql``; ``datastore_type`` is ``"AzureMySql"``. Read through
SQLAlchemy's ``mysql+pymysql`` driver (``pip install pymysql``); how the arguments map onto a
URL: :mod:`amlocal.datastores.sql_azure`. Tested against MariaDB 10.11 (Debian's package);
MySQL's side of the type mapping: :mod:`amlocal.datastores.sql_types`.

Deliberate difference from Azure: ``user_password`` is not an attribute (it stays in the store
and is never shown).
"""
from __future__ import annotations

from ._sql_datastore import AbstractSqlDatastore


class AzureMySqlDatastore(AbstractSqlDatastore):
    """A MySQL database (``Datastore.register_azure_my_sql``)."""

    _KIND = "AzureMySql"

    @property
    def user_id(self) -> str | None:
        return self._settings().get("user_id") or self._describe()["username"]

    @property
    def port_number(self):
        return self._settings().get("port_number", self._describe()["port"])


__all__ = ["AzureMySqlDatastore"]
