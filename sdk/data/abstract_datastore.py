"""Datastore: a named place for data in a workspace, registered as any fsspec URL.

Implemented in the data layer (this module, ``azureml.data.abstract_datastore``); the class is
named ``Datastore`` and is the same object as ``amlocal.core.datastore.Datastore``. Deliberate
difference from Azure: ``AbstractDatastore`` here IS ``Datastore``, the base of every datastore
class (Azure's ``Datastore`` is a separate factory and ``AbstractDatastore`` the base of the
concrete classes), so ``isinstance(ds, Datastore)`` holds for every datastore.

Every workspace has ``workspaceblobstore``, a folder under ``AMLOCAL_HOME`` registered by the
Workspace itself. ``Datastore.register`` adds any fsspec URL (``file://`` fully supported; other
protocols such as ``s3://`` work once their fsspec package is installed), and
``Datastore.register_azure_blob_container`` an Azure Blob container (on adlfs; Azurite works
through ``endpoint=``), which is an ``AzureBlobDatastore`` as in Azure.

Deliberate differences from Azure:

- ``datastore_type`` is ``"AzureBlob"`` for blob containers and the URL's protocol (``"file"``,
  ``"s3"`` ...) for the others; the default ``workspaceblobstore`` is ``"file"``.
- ``Datastore.register(workspace, datastore_name, url, storage_options=None, overwrite=False)``
  is amlocal's generic registration (Azure has one method per service, such as
  ``register_azure_blob_container``). Re-registering a name with the same URL and options
  returns it unchanged; a different URL without ``overwrite=True`` raises.
- Storage options (which may hold credentials) are kept in the store and never shown: ``repr``,
  ``_display_dict()`` and every listing redact them.
- SQL datastores (``register_azure_sql_database``, ``register_azure_postgre_sql``,
  ``register_azure_my_sql`` and amlocal's ``register_sql`` for any SQLAlchemy URL) are reached
  through SQLAlchemy on the host only (:mod:`amlocal.datastores.sql`); their classes are in
  :mod:`._sql_datastore` and the ``azureml.data.azure_*_datastore`` modules.
"""
from __future__ import annotations

import json
import re
import warnings

from ..errors import NotFoundError, UserErrorException

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,254}$")


def _check_name(name) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise UserErrorException(
            f"datastore name {name!r} is not valid: use letters, digits and '_', "
            "starting with a letter (e.g. 'training_data')")


def _check_options(name: str, storage_options) -> dict:
    options = dict(storage_options or {})
    try:
        json.dumps(options)
    except (TypeError, ValueError):
        raise UserErrorException(
            f"storage_options for '{name}' must be plain JSON data (str, numbers, "
            f"bools, lists, dicts); check the values of {sorted(options)}") from None
    return options


def _refuse_existing(existing, url: str, options: dict, name: str, overwrite: bool) -> None:
    """Raises UserErrorException when ``name`` is registered with other settings."""
    from amlocal.datastores import redact_url
    if existing is None or overwrite:
        return
    raise UserErrorException(
        f"datastore '{name}' is already registered with URL {redact_url(existing.url)}"
        + (" and other settings" if existing.url == url else "")
        + "; pass overwrite=True to replace it")


def _class_for(kind: str):
    """The class of a datastore of ``kind``: the blob class below, or the subclass whose
    ``_KIND`` is ``kind`` (the SQL datastores, loaded with the package), else Datastore."""
    if kind == "AzureBlob":
        return AzureBlobDatastore
    todo = list(Datastore.__subclasses__())
    while todo:
        cls = todo.pop(0)
        if cls.__dict__.get("_KIND") == kind:
            return cls
        todo.extend(cls.__subclasses__())
    return Datastore


def _lookup(workspace, name: str | None):
    """The DatastoreInfo named ``name`` (None: the workspace's default). Raises NotFoundError."""
    if name is None:
        name = workspace._refresh().default_datastore
    info = workspace._store.get_datastore(workspace._id, name)
    if info is None:
        known = [d.name for d in workspace._store.list_datastores(workspace._id)]
        raise NotFoundError(
            f"no datastore named '{name}' in workspace '{workspace.name}'. Known datastores: "
            f"{', '.join(known) or '(none)'}. Register one with Datastore.register(ws, "
            f"datastore_name='{name if isinstance(name, str) and _NAME.match(name) else 'my_data'}'"
            ", url='file:///path/to/folder')")
    return info


class Datastore:
    """``Datastore(workspace, name=None)``: the named datastore, or the workspace's default.

    Raises NotFoundError listing the registered datastores when ``name`` is unknown.
    """

    def __new__(cls, workspace=None, name: str | None = None):
        # As in Azure, ``Datastore(ws, name)`` is an instance of the datastore's own class.
        if cls is Datastore and workspace is not None:
            info = _lookup(workspace, name)
            obj = object.__new__(_class_for(info.kind))
            obj._bind(workspace, info)
            return obj
        return object.__new__(cls)

    def __init__(self, workspace, name: str | None = None):
        if getattr(self, "_info", None) is None:
            self._bind(workspace, _lookup(workspace, name))

    @classmethod
    def _from_info(cls, workspace, info) -> "Datastore":
        obj = object.__new__(_class_for(info.kind))
        obj._bind(workspace, info)
        return obj

    def _bind(self, workspace, info) -> None:
        self.workspace = workspace
        self._info = info

    # -- lookup and registration ------------------------------------------------------------
    @staticmethod
    def get(workspace, datastore_name: str) -> "Datastore":
        """The datastore named ``datastore_name``; raises NotFoundError listing the known ones."""
        return Datastore(workspace, datastore_name)

    @staticmethod
    def get_default(workspace) -> "Datastore":
        return Datastore(workspace, None)

    @staticmethod
    def register(workspace, datastore_name: str, url: str, storage_options: dict | None = None,
                 overwrite: bool = False) -> "Datastore":
        """Register the fsspec ``url`` (a local path becomes a ``file://`` URL of its absolute
        path) as ``datastore_name``.

        Raises UserErrorException for an invalid name, a protocol fsspec does not know, storage
        options that are not plain JSON data, or an existing name with a different URL or options
        and ``overwrite=False``. Warns with fsspec's install hint when the protocol's package is
        missing (the datastore is registered all the same).
        """
        from amlocal.datastores import install_hint, normalise_url, protocol_of
        _check_name(datastore_name)
        if isinstance(url, str) and url.split("://", 1)[0].split("+", 1)[0].lower() in (
                "postgresql", "postgres", "mysql", "mariadb", "mssql", "sqlite", "oracle"):
            raise UserErrorException(
                f"'{url.split('://', 1)[0]}://...' is a database URL, not a place for files: "
                f"register it with Datastore.register_sql(ws, '{datastore_name}', url)")
        options = _check_options(datastore_name, storage_options)
        url = normalise_url(url)
        hint = install_hint(url)  # raises for a protocol fsspec does not know
        if hint:
            warnings.warn(f"datastore '{datastore_name}' is registered, but cannot be used yet: "
                          f"{hint}", UserWarning, stacklevel=2)
        return Datastore._put(workspace, datastore_name, url, protocol_of(url), options, overwrite)

    @staticmethod
    def register_azure_blob_container(workspace, datastore_name: str, container_name: str,
                                      account_name: str, sas_token: str | None = None,
                                      account_key: str | None = None, protocol: str | None = None,
                                      endpoint: str | None = None, overwrite: bool = False,
                                      create_if_not_exists: bool = False,
                                      skip_validation: bool = False,
                                      blob_cache_timeout: int | None = None,
                                      grant_workspace_access: bool = False,
                                      subscription_id: str | None = None,
                                      resource_group: str | None = None):
        """Register an Azure Blob container; returns an AzureBlobDatastore.

        ``endpoint`` is Azure's storage suffix (default ``core.windows.net``) or, an amlocal
        addition, the blob service's URL, such as Azurite's
        ``http://127.0.0.1:10000/devstoreaccount1``. ``create_if_not_exists`` creates the
        container; unless ``skip_validation`` the container is checked with the credential
        before anything is registered. Without ``sas_token`` and ``account_key`` the container
        is read anonymously (Azure would use the workspace's identity). ``blob_cache_timeout``,
        ``grant_workspace_access``, ``subscription_id`` and ``resource_group`` are accepted and
        have no effect locally.

        Raises UserErrorException naming the problem: an invalid container or account name, an
        unknown container, refused credentials, an endpoint that does not answer, or an existing
        name with other settings and ``overwrite=False``.
        """
        from amlocal.datastores.azure import AZURE_BLOB, blob_datastore, check_container
        _check_name(datastore_name)
        url, options = blob_datastore(container_name, account_name, sas_token, account_key,
                                      protocol, endpoint)
        existing = workspace._store.get_datastore(workspace._id, datastore_name)
        unchanged = (existing is not None and existing.url == url and existing.options == options
                     and existing.kind == AZURE_BLOB)
        if not unchanged:   # nothing is checked or created for a name that would be refused
            _refuse_existing(existing, url, options, datastore_name, overwrite)
        check_container(url, options, create=bool(create_if_not_exists),
                        validate=not skip_validation)
        return Datastore._put(workspace, datastore_name, url, AZURE_BLOB, options, overwrite)

    @staticmethod
    def register_azure_data_lake_gen2(workspace, datastore_name: str, filesystem: str,
                                      account_name: str, tenant_id: str | None = None,
                                      client_id: str | None = None,
                                      client_secret: str | None = None,
                                      resource_url: str | None = None,
                                      authority_url: str | None = None,
                                      protocol: str | None = None, endpoint: str | None = None,
                                      overwrite: bool = False, subscription_id: str | None = None,
                                      resource_group: str | None = None,
                                      grant_workspace_access: bool = False):
        """Register an Azure Data Lake Storage Gen2 filesystem (read and written through adlfs,
        ``abfs://``); ``datastore_type`` is ``"AzureDataLakeGen2"``.

        With ``tenant_id``, ``client_id`` and ``client_secret`` the files are reached as that
        service principal; without them anonymously (Azure would use the workspace's identity).
        ``endpoint`` is the storage suffix or, an amlocal addition, a blob service URL.
        ``resource_url``, ``authority_url``, ``subscription_id``, ``resource_group`` and
        ``grant_workspace_access`` are accepted and have no effect locally. Nothing is checked
        against the service at registration (Azure does not check either)."""
        from amlocal.datastores.azure import AZURE_DATA_LAKE_GEN2, gen2_datastore
        _check_name(datastore_name)
        url, options = gen2_datastore(filesystem, account_name, tenant_id, client_id,
                                      client_secret, protocol, endpoint)
        return Datastore._put(workspace, datastore_name, url, AZURE_DATA_LAKE_GEN2, options,
                              overwrite)

    # -- SQL datastores (amlocal.datastores.sql; mapping: amlocal.datastores.sql_azure) -----
    @staticmethod
    def register_azure_sql_database(workspace, datastore_name: str, server_name: str,
                                    database_name: str, tenant_id: str | None = None,
                                    client_id: str | None = None,
                                    client_secret: str | None = None,
                                    resource_url: str | None = None,
                                    authority_url: str | None = None,
                                    endpoint: str | None = None, overwrite: bool = False,
                                    username: str | None = None, password: str | None = None,
                                    subscription_id: str | None = None,
                                    resource_group: str | None = None,
                                    grant_workspace_access: bool = False, **kwargs):
        """Register a SQL Server database (read through ``mssql+pymssql``: ``pip install
        pymssql``); returns an AzureSqlDatabaseDatastore (``datastore_type``
        ``"AzureSqlDatabase"``).

        The host is ``server_name``, or ``<server_name>.<endpoint>`` when ``endpoint`` is given
        (deliberate difference: Azure defaults ``endpoint`` to ``database.windows.net``); a
        port goes as ``server_name='host,1433'``. Only ``username``/``password`` sign in
        locally: a service principal alone raises, and is ignored with a warning next to
        them. ``resource_url``, ``authority_url``, ``subscription_id``, ``resource_group`` and
        ``grant_workspace_access`` have no effect locally. Unless ``skip_validation=True``
        (Azure's keyword argument) the database is reached (``SELECT 1``) before anything is
        registered.

        Raises UserErrorException naming the problem: a missing argument, a missing driver
        (with its ``pip install``), a refused connection or password (masked), or an existing
        name with other settings and ``overwrite=False``.
        """
        from amlocal.datastores.sql import AZURE_SQL_DATABASE
        from amlocal.datastores.sql_azure import azure_sql_database, skip_validation
        skip = skip_validation(kwargs, "register_azure_sql_database")
        url, options = azure_sql_database(server_name, database_name, tenant_id, client_id,
                                          client_secret, endpoint, username, password,
                                          resource_url, authority_url)
        return Datastore._put_sql(workspace, datastore_name, url, AZURE_SQL_DATABASE, options,
                                  overwrite, skip)

    @staticmethod
    def register_azure_postgre_sql(workspace, datastore_name: str, server_name: str,
                                   database_name: str, user_id: str, user_password: str,
                                   port_number=None, endpoint: str | None = None,
                                   overwrite: bool = False, enforce_ssl: bool = True, **kwargs):
        """Register a PostgreSQL database (read through ``postgresql+psycopg``: ``pip install
        'psycopg[binary]'``); returns an AzurePostgreSqlDatastore (``datastore_type``
        ``"AzurePostgreSql"``).

        The host is ``server_name``, or ``<server_name>.<endpoint>`` when ``endpoint`` is given
        (deliberate difference: Azure defaults ``endpoint`` to ``postgres.database.azure.com``),
        the port ``port_number`` (default 5432). ``enforce_ssl=True`` is ``sslmode=require``,
        except on a loopback host (``localhost``, ``127.x``), where it is ``prefer``. Unless
        ``skip_validation=True`` the database is reached before anything is registered.
        Raises as :meth:`register_azure_sql_database`.
        """
        from amlocal.datastores.sql import AZURE_POSTGRESQL
        from amlocal.datastores.sql_azure import azure_postgre_sql, skip_validation
        skip = skip_validation(kwargs, "register_azure_postgre_sql")
        url, options = azure_postgre_sql(server_name, database_name, user_id, user_password,
                                         port_number, endpoint, enforce_ssl)
        return Datastore._put_sql(workspace, datastore_name, url, AZURE_POSTGRESQL, options,
                                  overwrite, skip)

    @staticmethod
    def register_azure_my_sql(workspace, datastore_name: str, server_name: str,
                              database_name: str, user_id: str, user_password: str,
                              port_number=None, endpoint: str | None = None,
                              overwrite: bool = False, **kwargs):
        """Register a MySQL database (read through ``mysql+pymysql``: ``pip install
        pymysql``; tested against MariaDB 10.11, Debian's); returns an AzureMySqlDatastore
        (``datastore_type`` ``"AzureMySql"``).

        The host is ``server_name``, or ``<server_name>.<endpoint>`` when ``endpoint`` is given
        (deliberate difference: Azure defaults ``endpoint`` to ``mysql.database.azure.com``),
        the port ``port_number`` (default 3306). Unless ``skip_validation=True`` the database is
        reached before anything is registered. Raises as :meth:`register_azure_sql_database`.
        """
        from amlocal.datastores.sql import AZURE_MYSQL
        from amlocal.datastores.sql_azure import azure_my_sql, skip_validation
        skip = skip_validation(kwargs, "register_azure_my_sql")
        url, options = azure_my_sql(server_name, database_name, user_id, user_password,
                                    port_number, endpoint)
        return Datastore._put_sql(workspace, datastore_name, url, AZURE_MYSQL, options,
                                  overwrite, skip)

    @staticmethod
    def register_sql(workspace, datastore_name: str, url: str, overwrite: bool = False,
                     skip_validation: bool = False):
        """amlocal's addition: register any SQLAlchemy URL (``sqlite:///path/to/file.db``,
        ``postgresql://user:pw@host/db``, ``mysql+pymysql://...``, ``mssql+pyodbc://...``) as
        a SQL datastore (``datastore_type`` ``"Sql"``, class SqlDatastore).

        The password is taken out of the URL and kept as the datastore's secret;
        ``postgresql://`` gets the psycopg (3) driver and ``mysql://`` pymysql; a relative
        SQLite path becomes absolute. Unless ``skip_validation`` the database is reached
        (``SELECT 1``) first. Raises as :meth:`register_azure_sql_database`.
        """
        from amlocal.datastores.sql import GENERIC_SQL, split_url
        stored, options = split_url(url)
        return Datastore._put_sql(workspace, datastore_name, stored, GENERIC_SQL, options,
                                  overwrite, bool(skip_validation))

    @staticmethod
    def _put_sql(workspace, name: str, url: str, kind: str, options: dict, overwrite: bool,
                 skip_validation: bool):
        """Check (unless ``skip_validation``: then only warn when the driver is missing) and
        store a SQL datastore."""
        from amlocal.datastores import sql
        from ..store.entities import DatastoreInfo
        _check_name(name)
        existing = workspace._store.get_datastore(workspace._id, name)
        unchanged = (existing is not None and existing.url == url
                     and existing.options == options and existing.kind == kind)
        if not unchanged:   # nothing is checked for a name that would be refused
            _refuse_existing(existing, url, options, name, overwrite)
        probe = DatastoreInfo(workspace_id=workspace._id, name=name, url=url, kind=kind,
                              options=options)
        if skip_validation:
            hint = sql.install_hint(probe)
            if hint:
                warnings.warn(f"datastore '{name}' is registered, but cannot be used yet: "
                              f"{hint}", UserWarning, stacklevel=3)
        else:
            sql.check_query(probe, "SELECT 1", timeout=30)
        return Datastore._put(workspace, name, url, kind, options, overwrite)

    @staticmethod
    def _put(workspace, name: str, url: str, kind: str, options: dict, overwrite: bool):
        from ..store.entities import DatastoreInfo
        store = workspace._store
        existing = store.get_datastore(workspace._id, name)
        if existing is not None and not overwrite:
            if existing.url == url and existing.options == options and existing.kind == kind:
                return Datastore._from_info(workspace, existing)
            _refuse_existing(existing, url, options, name, overwrite)
        info = store.put_datastore(DatastoreInfo(workspace_id=workspace._id, name=name, url=url,
                                                 kind=kind, options=options), overwrite=True)
        return Datastore._from_info(workspace, info)

    def set_as_default(self) -> None:
        """Make this the workspace's default datastore."""
        self.workspace.set_default_datastore(self.name)

    def unregister(self) -> None:
        """Remove the registration (the data itself is left in place).

        Raises UserErrorException for the workspace's current default datastore.
        """
        if self.workspace._refresh().default_datastore == self.name:
            raise UserErrorException(
                f"'{self.name}' is the workspace's default datastore; make another one the "
                "default first (ws.set_default_datastore(name)), then unregister it")
        self.workspace._store.delete_datastore(self.workspace._id, self.name)

    # -- properties -------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._info.name

    @property
    def datastore_type(self) -> str:
        """``"AzureBlob"`` for blob containers, else the URL's protocol (``"file"`` ...)."""
        return self._info.kind

    @property
    def url(self) -> str:
        return self._info.url

    @property
    def _storage_options(self) -> dict:
        return dict(self._info.options)

    # -- files ------------------------------------------------------------------------------
    def upload(self, src_dir: str, target_path: str | None = None, overwrite: bool = False,
               show_progress: bool = True):
        """Copy a local folder to ``target_path`` and return a DataReference to it.

        Existing files are skipped with one ``UserWarning`` unless ``overwrite=True``. Raises
        UserErrorException for a ``target_path`` leaving the datastore (``..``).
        """
        from amlocal.datastores import upload_dir
        from .data_reference import DataReference
        upload_dir(self.url, self._storage_options, src_dir, target_path, overwrite, show_progress)
        return DataReference(self, path_on_datastore=target_path or "")

    def upload_files(self, files, relative_root: str | None = None, target_path: str | None = None,
                     overwrite: bool = False, show_progress: bool = True):
        """Copy local files to ``target_path/<path relative to relative_root>`` (default: their
        common folder) and return a DataReference to ``target_path`` (named after the datastore
        when there is no target path, as on Azure)."""
        from amlocal.datastores import upload_files
        from .data_reference import DataReference
        upload_files(self.url, self._storage_options, files, relative_root, target_path,
                     overwrite, show_progress)
        return DataReference(self, path_on_datastore=target_path or "")

    def download(self, target_path: str, prefix: str | None = None, overwrite: bool = False,
                 show_progress: bool = True) -> int:
        """Copy the files whose datastore path starts with ``prefix`` to
        ``target_path/<datastore path>``; return how many were copied (skipped ones, which
        already existed locally, are not counted and are named in one ``UserWarning``)."""
        from amlocal.datastores import download_prefix
        result = download_prefix(self.url, self._storage_options, target_path, prefix,
                                 overwrite, show_progress)
        return len(result.copied)

    def _root_reference(self):
        """The datastore's own DataReference (named after it, no path), made once, as Azure's
        datastores hold one."""
        ref = self.__dict__.get("_root_ref")
        if ref is None:
            from .data_reference import DataReference
            ref = self.__dict__["_root_ref"] = DataReference(self)
        return ref

    def path(self, path: str | None = None, data_reference_name: str | None = None):
        """A DataReference to ``path`` in this datastore (mount mode, a random hex name unless
        ``data_reference_name`` is given). ``path()`` is the datastore's own root reference
        (always the same object, named after the datastore)."""
        return self._root_reference().path(path, data_reference_name)

    def as_mount(self):
        """The datastore's root as a mount-mode DataReference (named after the datastore)."""
        return self._root_reference().as_mount()

    def as_download(self, path_on_compute: str | None = None):
        """The datastore's root as a download-mode DataReference."""
        return self._root_reference().as_download(path_on_compute)

    def as_upload(self, path_on_compute: str | None = None):
        """The datastore's root as an upload-mode DataReference: the step writes
        ``path_on_compute``, which is uploaded when it ends."""
        return self._root_reference().as_upload(path_on_compute)

    # -- display ----------------------------------------------------------------------------
    def _display_dict(self) -> dict:
        """What listings show: credentials in the URL and storage options are redacted."""
        from amlocal.datastores import redact_options, redact_url
        return {"name": self.name, "datastore_type": self.datastore_type,
                "url": redact_url(self.url), "storage_options": redact_options(self._info.options)}

    def __repr__(self) -> str:
        d = self._display_dict()
        return f"Datastore(name='{d['name']}', datastore_type='{d['datastore_type']}', url='{d['url']}')"

    def __eq__(self, other) -> bool:
        return (isinstance(other, Datastore) and other.name == self.name
                and other.workspace._id == self.workspace._id)

    def __hash__(self) -> int:
        return hash((self.workspace._id, self.name))

    @staticmethod
    def _resolver(workspace):
        """``name -> (url, storage_options)`` for the datastores of ``workspace``."""
        def resolve(name: str):
            info = _lookup(workspace, name)
            return info.url, dict(info.options)
        return resolve


# Datastore kinds amlocal does not run: registering one raises CloudOnlyError naming the local
# alternative; each function's docstring ends with Azure's signature.
from .._cloud_only import cloud_only_function  # noqa: E402

_QUAL = "azureml.core.datastore.Datastore"
_AZURE_SIGNATURES = {
    "register_azure_file_share": "(workspace, datastore_name, file_share_name, account_name, "
    "sas_token=None, account_key=None, protocol=None, endpoint=None, overwrite=False, "
    "create_if_not_exists=False, skip_validation=False)",
    "register_azure_data_lake": "(workspace, datastore_name, store_name, tenant_id=None, "
    "client_id=None, client_secret=None, resource_url=None, authority_url=None, "
    "subscription_id=None, resource_group=None, overwrite=False, grant_workspace_access=False)",
    "register_dbfs": "(workspace, datastore_name)",
    "register_hdfs": "(workspace, datastore_name, protocol, namenode_address, "
    "hdfs_server_certificate, kerberos_realm, kerberos_kdc_address, kerberos_principal, "
    "kerberos_keytab=None, kerberos_password=None, overwrite=False)"}
_FOLDER = "Datastore.register(ws, name, url) for a local folder or any fsspec URL"
for _name, _reason, _alternative in (
        ("register_azure_file_share",
         "Azure Files shares are reached through Azure's file share service, for which amlocal "
         "has no storage driver",
         "Datastore.register_azure_blob_container(...) or " + _FOLDER),
        ("register_azure_data_lake",
         "Azure Data Lake Storage Gen1 is retired by Azure",
         "Datastore.register_azure_data_lake_gen2(...) or " + _FOLDER),
        ("register_dbfs", "DBFS is the file system of Azure Databricks clusters", _FOLDER),
        ("register_hdfs", "HDFS datastores serve Azure Synapse / HDInsight Spark compute",
         _FOLDER)):
    _function = cloud_only_function(_QUAL, _name, _reason, _alternative)
    _function.__doc__ += f"\n\nAzure's signature: Datastore.{_name}{_AZURE_SIGNATURES[_name]}"
    setattr(Datastore, _name, staticmethod(_function))


# The Azure Storage classes (``azureml.data.azure_storage_datastore``, which re-exports them)
# are defined here, next to the Datastore that returns them for their kind.

class AbstractAzureStorageDatastore(Datastore):
    """The base class of Azure Storage datastores (blob containers; Azure also has file shares).
    ``Datastore(ws, name)`` returns the concrete class; ``isinstance(ds,
    AbstractAzureStorageDatastore)`` holds for blob containers, as on Azure."""


class AzureBlobDatastore(AbstractAzureStorageDatastore):
    """A blob container; ``datastore_type`` is ``"AzureBlob"``."""

    def _describe(self) -> dict:
        from amlocal.datastores.azure import describe
        return describe(self._info.url, self._info.options)

    @property
    def container_name(self) -> str:
        return self._describe()["container_name"]

    @property
    def account_name(self) -> str | None:
        return self._describe()["account_name"]

    @property
    def endpoint(self) -> str | None:
        """The blob service's URL (Azure gives the suffix, e.g. ``core.windows.net``)."""
        return self._describe()["endpoint"]

    @property
    def protocol(self) -> str | None:
        endpoint = self.endpoint
        return endpoint.split("://", 1)[0] if endpoint else None

    @property
    def credential_type(self) -> str:
        """``"AccountKey"``, ``"Sas"`` or ``"None"``, as Azure names them."""
        return self._describe()["credential_type"]

    def _display_dict(self) -> dict:
        shown = super()._display_dict()
        shown.update(self._describe())
        return shown

    def __repr__(self) -> str:
        d = self._describe()
        return (f"AzureBlobDatastore(name='{self.name}', container_name='{d['container_name']}', "
                f"account_name='{d['account_name']}', endpoint='{d['endpoint']}')")


AbstractDatastore = Datastore

__all__ = ["AbstractDatastore"]
