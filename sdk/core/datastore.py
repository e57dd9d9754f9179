"""Datastore: a named place for data in a workspace, registered as any fsspec URL.

Every workspace has ``workspaceblobstore``, a folder under ``AMLOCAL_HOME`` registered by the
Workspace itself. ``Datastore.register`` adds any fsspec URL (``file://`` fully supported; other
protocols such as ``s3://`` or ``abfs://`` work once their fsspec package is installed).

Deliberate differences from Azure:

- ``datastore_type`` is the URL's protocol (``"file"``, ``"s3"``, ``"abfs"`` ...) where Azure
  says ``"AzureBlob"``; the default ``workspaceblobstore`` is ``"file"``.
- ``Datastore.register(workspace, datastore_name, url, storage_options=None, overwrite=False)``
  is amlocal's generic registration (Azure has one method per service, such as
  ``register_azure_blob_container``). Re-registering a name with the same URL and options
  returns it unchanged; a different URL without ``overwrite=True`` raises.
- Storage options (which may hold credentials) are kept in the store and never shown: ``repr``,
  ``_display_dict()`` and every listing redact them.
"""
from __future__ import annotations

import json
import re
import warnings

from ..errors import NotFoundError, UserErrorException

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,254}$")


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

    def __init__(self, workspace, name: str | None = None):
        self._bind(workspace, _lookup(workspace, name))

    @classmethod
    def _from_info(cls, workspace, info) -> "Datastore":
        obj = cls.__new__(cls)
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
        from amlocal.datastores import install_hint, normalise_url, protocol_of, redact_url
        from ..store.entities import DatastoreInfo

        if not isinstance(datastore_name, str) or not _NAME.match(datastore_name):
            raise UserErrorException(
                f"datastore name {datastore_name!r} is not valid: use letters, digits and '_', "
                "starting with a letter (e.g. 'training_data')")
        options = dict(storage_options or {})
        try:
            json.dumps(options)
        except (TypeError, ValueError):
            raise UserErrorException(
                f"storage_options for '{datastore_name}' must be plain JSON data (str, numbers, "
                f"bools, lists, dicts); check the values of {sorted(options)}") from None
        url = normalise_url(url)
        hint = install_hint(url)  # raises for a protocol fsspec does not know
        if hint:
            warnings.warn(f"datastore '{datastore_name}' is registered, but cannot be used yet: "
                          f"{hint}", UserWarning, stacklevel=2)
        store = workspace._store
        existing = store.get_datastore(workspace._id, datastore_name)
        if existing is not None and not overwrite:
            if existing.url == url and existing.options == options:
                return Datastore._from_info(workspace, existing)
            raise UserErrorException(
                f"datastore '{datastore_name}' is already registered with URL "
                f"{redact_url(existing.url)}; pass overwrite=True to replace it")
        info = store.put_datastore(DatastoreInfo(workspace_id=workspace._id, name=datastore_name,
                                                 url=url, kind=protocol_of(url), options=options),
                                   overwrite=True)
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
        """The URL's protocol: ``"file"`` for local folders (Azure: ``"AzureBlob"`` ...)."""
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
        from ..data.datapath import DataReference
        upload_dir(self.url, self._storage_options, src_dir, target_path, overwrite, show_progress)
        return DataReference(self, path_on_datastore=target_path)

    def upload_files(self, files, relative_root: str | None = None, target_path: str | None = None,
                     overwrite: bool = False, show_progress: bool = True):
        """Copy local files to ``target_path/<path relative to relative_root>`` (default: their
        common folder) and return a DataReference to ``target_path``."""
        from amlocal.datastores import upload_files
        from ..data.datapath import DataReference
        upload_files(self.url, self._storage_options, files, relative_root, target_path,
                     overwrite, show_progress)
        return DataReference(self, path_on_datastore=target_path)

    def download(self, target_path: str, prefix: str | None = None, overwrite: bool = False,
                 show_progress: bool = True) -> int:
        """Copy the files whose datastore path starts with ``prefix`` to
        ``target_path/<datastore path>``; return how many were copied (skipped ones, which
        already existed locally, are not counted and are named in one ``UserWarning``)."""
        from amlocal.datastores import download_prefix
        result = download_prefix(self.url, self._storage_options, target_path, prefix,
                                 overwrite, show_progress)
        return len(result.copied)

    def path(self, path: str | None = None, data_reference_name: str | None = None):
        """A DataReference to ``path`` in this datastore."""
        from ..data.datapath import DataReference
        return DataReference(self, data_reference_name, path)

    def as_mount(self):
        return self.path().as_mount()

    def as_download(self, path_on_compute: str | None = None):
        return self.path().as_download(path_on_compute)

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
