"""DataPath and DataPathComputeBinding (``azureml.data.datapath``): a path in a datastore, and
how a step sees it. A ``PipelineParameter`` whose default is a DataPath makes the path settable
per submission; in a step's ``inputs``/``arguments`` it goes as the tuple
``(parameter_or_datapath, DataPathComputeBinding(mode='mount'))``.

``DataReference`` lives in ``azureml.data.data_reference`` (as on Azure) and is re-exported here.
"""
from __future__ import annotations

import uuid

from .data_reference import SUPPORTED_DATAREF_MODES, DataReference

__all__ = ["DataPath", "DataPathComputeBinding", "DataReference", "SUPPORTED_DATAREF_MODES"]


class DataPath:
    """``DataPath(datastore=None, path_on_datastore=None, name=None)``: a path in a datastore,
    accepted by ``Dataset.File.from_files``, ``Dataset.Tabular.from_*`` and as a
    ``PipelineParameter`` default. The default name is ``<datastore name>_<8 hex>``.

    Raises ValueError without a datastore.
    """

    def __init__(self, datastore=None, path_on_datastore: str | None = None, name: str | None = None):
        if datastore is None:
            raise ValueError("datastore parameter is required.")
        self._datastore = datastore
        self._path_on_datastore = path_on_datastore
        self._name = name or f"{datastore.name}_{uuid.uuid4().hex[:8]}"

    @property
    def datastore_name(self) -> str:
        return self._datastore.name

    @property
    def path_on_datastore(self) -> str | None:
        return self._path_on_datastore

    def create_data_reference(self, data_reference_name: str | None = None,
                              datapath_compute_binding: "DataPathComputeBinding | None" = None) -> DataReference:
        """A DataReference to this path, bound as ``datapath_compute_binding`` says (required)."""
        if not datapath_compute_binding:
            raise ValueError("datapath_compute_binding is a required parameter")
        if not isinstance(datapath_compute_binding, DataPathComputeBinding):
            raise ValueError("Invalid type. Expected datapath_compute_binding, but type is "
                             f"{type(datapath_compute_binding).__name__}")
        return DataReference.create(data_reference_name, self, datapath_compute_binding)

    @staticmethod
    def create_from_data_reference(data_reference: DataReference) -> "DataPath":
        if not data_reference:
            raise ValueError("data_reference is a required parameter")
        if not isinstance(data_reference, DataReference):
            raise ValueError("Invalid type. Expected DataReference, but type is "
                             f"{type(data_reference).__name__}")
        return DataPath(data_reference.datastore, data_reference.path_on_datastore)

    def _serialize_to_dict(self) -> dict:
        return {"name": self._name, "path_on_datastore": self._path_on_datastore,
                "datastore": self.datastore_name}

    def _to_definition(self) -> dict:
        """Plain JSON for frozen graphs: the datastore by name."""
        return {"type": "DataPath", "datastore": self.datastore_name,
                "path_on_datastore": self._path_on_datastore, "name": self._name}

    def __repr__(self) -> str:
        return (f"DataPath(datastore='{self.datastore_name}', "
                f"path_on_datastore={self._path_on_datastore!r})")


class DataPathComputeBinding:
    """``DataPathComputeBinding(mode='mount', path_on_compute=None, overwrite=False)``. As on
    Azure the mode is checked later, when the binding is used (``DataReference.create``, or when
    the step is frozen)."""

    def __init__(self, mode: str = "mount", path_on_compute: str | None = None, overwrite: bool = False):
        self._mode = mode
        self._path_on_compute = path_on_compute
        self._overwrite = overwrite

    def create_data_reference(self, data_reference_name: str | None = None,
                              datapath: DataPath | None = None) -> DataReference:
        if not datapath:
            raise ValueError("datapath is a required parameter")
        if not isinstance(datapath, DataPath):
            raise ValueError(f"Invalid type. Expected DataPath, but type is {type(datapath).__name__}")
        return DataReference.create(data_reference_name, datapath, self)

    @staticmethod
    def create_from_data_reference(data_reference: DataReference) -> "DataPathComputeBinding":
        if not data_reference:
            raise ValueError("data_reference is a required parameter")
        if not isinstance(data_reference, DataReference):
            raise ValueError("Invalid type. Expected DataReference, but type is "
                             f"{type(data_reference).__name__}")
        return DataPathComputeBinding(data_reference.mode, data_reference.path_on_compute,
                                      data_reference.overwrite)

    def __repr__(self) -> str:
        return (f"DataPathComputeBinding(mode={self._mode!r}, "
                f"path_on_compute={self._path_on_compute!r}, overwrite={self._overwrite!r})")
