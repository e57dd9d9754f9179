"""SQL datastores: the base class of AzureSqlDatabaseDatastore, AzurePostgreSqlDatastore,
AzureMySqlDatastore (their azureml modules define them) and amlocal's SqlDatastore.

``Datastore(ws, name)`` answers the class whose ``_KIND`` is the datastore's ``datastore_type``
(``amlocal.data`` loads these modules with the package). How ``Datastore.register_azure_*`` map
Azure's arguments onto SQLAlchemy URLs: :mod:`amlocal.datastores.sql_azure`; reading and writing:
:mod:`amlocal.datastores.sql`.

Credentials: only user name and password sign in to a database locally. The password is kept in
the datastore's storage options in the store (like every datastore secret), never in its URL,
never shown (``repr``, ``amlocal datastore list/show``, the server's API) and never given to a
step: steps get query results as Parquet files (:mod:`amlocal.datastores.sql_input`).
Deliberate difference: Azure's classes have ``password``/``user_password`` attributes; here they
do not exist. A SQL datastore has no files: upload, download and mounts raise, naming what to
use instead.
"""
from __future__ import annotations

from ..errors import UserErrorException
from .abstract_datastore import Datastore

_NO_FILES = ("'{name}' is a SQL datastore ({kind}): it holds tables, not files, so {what} is "
             "not available. Read a query with Dataset.Tabular.from_sql_query((datastore, "
             "'SELECT ...')) or DataPath(datastore, 'SELECT ...'); write a table with "
             "DataTransferStep")


class AbstractSqlDatastore(Datastore):
    """The base of SQL datastores (amlocal's; Azure derives each from ``AbstractDatastore``)."""

    def _settings(self) -> dict:
        return dict(self._info.options.get("settings") or {})

    def _describe(self) -> dict:
        from amlocal.datastores.sql import describe
        return describe(self._info)

    @property
    def server_name(self) -> str | None:
        return self._settings().get("server_name") or self._describe()["host"]

    @property
    def database_name(self) -> str | None:
        return self._settings().get("database_name") or self._describe()["database"]

    @property
    def endpoint(self) -> str | None:
        return self._settings().get("endpoint")

    @property
    def url(self) -> str:
        """The SQLAlchemy URL without password."""
        from amlocal.datastores.sql import shown_url
        return shown_url(self._info)

    def _display_dict(self) -> dict:
        """What listings show: the URL without password, the non-secret settings, and the
        password (in the storage options) as ``***``."""
        shown = super()._display_dict()
        shown["url"] = self.url
        shown.update({k: v for k, v in self._describe().items() if k not in ("driver",)})
        return shown

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name='{self.name}', datastore_type="
                f"'{self.datastore_type}', url='{self.url}')")

    # -- no files ---------------------------------------------------------------------------
    def _no_files(self, what: str):
        raise UserErrorException(_NO_FILES.format(name=self.name, kind=self.datastore_type,
                                                  what=what))

    def upload(self, *args, **kwargs):
        """Raises UserErrorException: a SQL datastore holds no files."""
        self._no_files("upload()")

    def upload_files(self, *args, **kwargs):
        """Raises UserErrorException: a SQL datastore holds no files."""
        self._no_files("upload_files()")

    def download(self, *args, **kwargs):
        """Raises UserErrorException: a SQL datastore holds no files."""
        self._no_files("download()")

    def as_mount(self):
        """Raises UserErrorException: a SQL datastore cannot be mounted."""
        self._no_files("as_mount()")

    def as_download(self, path_on_compute=None):
        """Raises UserErrorException: a SQL datastore holds no files."""
        self._no_files("as_download()")

    def as_upload(self, path_on_compute=None):
        """Raises UserErrorException: a SQL datastore holds no files."""
        self._no_files("as_upload()")

    def path(self, path=None, data_reference_name=None):
        """Raises UserErrorException: use ``DataPath(datastore, 'SELECT ...')``."""
        self._no_files("path()")


class _ServerSqlDatastore(AbstractSqlDatastore):
    """A database server reached as a user on a port (PostgreSQL, MySQL): Azure's attributes."""

    @property
    def user_id(self) -> str | None:
        return self._settings().get("user_id") or self._describe()["username"]

    @property
    def port_number(self):
        return self._settings().get("port_number", self._describe()["port"])


class SqlDatastore(AbstractSqlDatastore):
    """amlocal's SQL datastore over any SQLAlchemy URL (``Datastore.register_sql``);
    ``datastore_type`` is ``"Sql"``."""

    _KIND = "Sql"
