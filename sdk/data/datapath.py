"""DataPath, DataPathComputeBinding and DataReference (``azureml.data.datapath`` and
``azureml.data.data_reference``): paths in a datastore, and how a step sees them.

Deliberate difference from Azure: DataReference lives here too (Azure has
``azureml.data.data_reference``); these are describing objects, the pipeline runner binds them.
"""
from __future__ import annotations

import uuid

from ..errors import UserErrorException

SUPPORTED_DATAREF_MODES = ("mount", "download", "upload")


def _is_current_path(path) -> bool:
    return path in ("/", ".", "./")


class DataReference:
    """``DataReference(datastore, data_reference_name=None, path_on_datastore=None, mode='mount',
    path_on_compute=None, overwrite=False)``; ``str()`` is ``$AZUREML_DATAREFERENCE_<name>``.

    The default name is the datastore's name for the datastore's root, else a random hex id.
    """

    def __init__(self, datastore, data_reference_name: str | None = None,
                 path_on_datastore: str | None = None, mode: str = "mount",
                 path_on_compute: str | None = None, overwrite: bool = False):
        if mode not in SUPPORTED_DATAREF_MODES:
            raise UserErrorException(
                f"Invalid mode {mode}. Only mount, download, upload are supported")
        self.datastore = datastore
        self.path_on_datastore = path_on_datastore
        self.mode = mode
        self.path_on_compute = path_on_compute
        self.overwrite = overwrite
        if not data_reference_name:
            data_reference_name = uuid.uuid4().hex if (
                path_on_datastore and not _is_current_path(path_on_datastore)) else datastore.name
        self.data_reference_name = data_reference_name

    def path(self, path: str | None = None, data_reference_name: str | None = None) -> "DataReference":
        """A reference to ``path`` below this one."""
        if not path or _is_current_path(path):
            return self if not data_reference_name else DataReference(
                self.datastore, data_reference_name, self.path_on_datastore)
        joined = path if not self.path_on_datastore or _is_current_path(self.path_on_datastore) \
            else f"{self.path_on_datastore}/{path}"
        return DataReference(self.datastore, data_reference_name, joined)

    def as_mount(self) -> "DataReference":
        return self._clone(mode="mount")

    def as_download(self, path_on_compute: str | None = None, overwrite: bool = False) -> "DataReference":
        return self._clone(mode="download", path_on_compute=path_on_compute, overwrite=overwrite)

    def as_upload(self, path_on_compute: str | None = None, overwrite: bool = False) -> "DataReference":
        return self._clone(mode="upload", path_on_compute=path_on_compute, overwrite=overwrite)

    def _clone(self, **changes) -> "DataReference":
        fields = dict(datastore=self.datastore, data_reference_name=self.data_reference_name,
                      path_on_datastore=self.path_on_datastore, mode=self.mode,
                      path_on_compute=self.path_on_compute, overwrite=self.overwrite)
        fields.update(changes)
        return DataReference(**fields)

    def _to_definition(self) -> dict:
        """Plain JSON naming the datastore by name, for published pipelines."""
        return {"type": "DataReference", "datastore": self.datastore.name,
                "data_reference_name": self.data_reference_name,
                "path_on_datastore": None if _is_current_path(self.path_on_datastore)
                else self.path_on_datastore,
                "mode": self.mode, "path_on_compute": self.path_on_compute,
                "overwrite": self.overwrite}

    def __str__(self) -> str:
        return f"$AZUREML_DATAREFERENCE_{self.data_reference_name}"

    __repr__ = __str__


class DataPath:
    """``DataPath(datastore=None, path_on_datastore=None, name=None)``: a path in a datastore,
    accepted by ``Dataset.File.from_files`` and ``Dataset.Tabular.from_*``."""

    def __init__(self, datastore=None, path_on_datastore: str | None = None, name: str | None = None):
        if datastore is None:
            raise UserErrorException("DataPath needs a datastore: DataPath(datastore, 'folder/file.csv')")
        self._datastore = datastore
        self._path_on_datastore = path_on_datastore
        self._name = name

    @property
    def datastore_name(self) -> str:
        return self._datastore.name

    @property
    def path_on_datastore(self) -> str | None:
        return self._path_on_datastore

    @property
    def name(self) -> str | None:
        return self._name

    def create_data_reference(self, data_reference_name: str | None = None,
                              datapath_compute_binding: "DataPathComputeBinding | None" = None) -> DataReference:
        binding = datapath_compute_binding or DataPathComputeBinding()
        return DataReference(self._datastore, data_reference_name, self._path_on_datastore,
                             binding._mode, binding._path_on_compute, binding._overwrite)

    @staticmethod
    def create_from_data_reference(data_reference: DataReference) -> "DataPath":
        return DataPath(data_reference.datastore, data_reference.path_on_datastore,
                        data_reference.data_reference_name)

    def _to_definition(self) -> dict:
        return {"type": "DataPath", "datastore": self.datastore_name,
                "path_on_datastore": self._path_on_datastore, "name": self._name}

    def __repr__(self) -> str:
        return f"DataPath(datastore='{self.datastore_name}', path_on_datastore={self._path_on_datastore!r})"


class DataPathComputeBinding:
    """``DataPathComputeBinding(mode='mount', path_on_compute=None, overwrite=False)``."""

    def __init__(self, mode: str = "mount", path_on_compute: str | None = None, overwrite: bool = False):
        if mode not in SUPPORTED_DATAREF_MODES:
            raise UserErrorException(
                f"Invalid mode {mode}. Only mount, download, upload are supported")
        self._mode = mode
        self._path_on_compute = path_on_compute
        self._overwrite = overwrite
