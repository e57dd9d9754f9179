"""DataReference (``azureml.data.data_reference``): a path in a datastore and how a step sees it
(mounted, downloaded before the script starts, or uploaded after it ends).

``str(dref)`` is ``$AZUREML_DATAREFERENCE_<data_reference_name>``: in a step's ``arguments`` it is
replaced by the local path of the data, and the step's environment variable
``AZUREML_DATAREFERENCE_<data_reference_name>`` holds the same path. A DataReference used in
``arguments`` must also be in the step's ``inputs`` (ValueError at step construction otherwise).

How amlocal binds each mode (reference: Azure's job runtime contract):

- ``mount``: a read-only bind mount of the folder or file on a ``file://`` datastore; on a remote
  datastore a bind mount of the local content-addressed cache (no FUSE).
- ``download``: the files are copied before the script starts.
- ``upload``: the step writes to ``path_on_compute`` (required, as on Azure), which is uploaded to
  ``path_on_datastore`` after the step succeeded.

Deliberate difference from Azure: the ``overwrite`` argument of ``as_download``/``as_upload`` is
ignored exactly as Azure ignores it (the copy keeps the original ``overwrite``).

:class:`DataReferenceConfiguration` (``run_config.data_references`` entries) is defined here and
importable from ``amlocal.core.runconfig``, where azureml has it.
"""
from __future__ import annotations

import uuid

from ..errors import UserErrorException
from ._config_section import _Section

SUPPORTED_DATAREF_MODES = ["mount", "download", "upload"]


def _is_current_path(path) -> bool:
    return path in ("/", ".", "./")


class DataReference:
    """``DataReference(datastore, data_reference_name=None, path_on_datastore=None, mode='mount',
    path_on_compute=None, overwrite=False)``.

    The default name is a random hex id (32 characters) when ``path_on_datastore`` names a path
    below the datastore's root, else the datastore's name. Raises UserErrorException for a mode
    other than ``mount``, ``download`` or ``upload`` (case-sensitive, as on Azure).
    """

    def __init__(self, datastore, data_reference_name: str | None = None,
                 path_on_datastore: str | None = None, mode: str = "mount",
                 path_on_compute: str | None = None, overwrite: bool = False):
        self.datastore = datastore
        self.data_reference_name = data_reference_name
        self.path_on_datastore = path_on_datastore
        self.mode = mode
        self.path_on_compute = path_on_compute
        self.overwrite = overwrite
        if not self.data_reference_name:
            self.data_reference_name = (uuid.uuid4().hex if path_on_datastore
                                        and not _is_current_path(path_on_datastore)
                                        else datastore.name)
        if mode not in SUPPORTED_DATAREF_MODES:
            raise UserErrorException(
                f"Invalid mode {mode}. Only mount, download, upload are supported")

    # -- derived references -----------------------------------------------------------------
    def path(self, path: str | None = None, data_reference_name: str | None = None) -> "DataReference":
        """A mount-mode reference to ``path`` below this one (plain string join). An empty path
        (or ``/``, ``.``, ``./``) returns this reference, or, with a name, a reference to the
        datastore's root under that name."""
        if not path or _is_current_path(path):
            if data_reference_name:
                return DataReference(self.datastore, data_reference_name)
            return self
        joined = (path if not self.path_on_datastore or _is_current_path(self.path_on_datastore)
                  else f"{self.path_on_datastore}/{path}")
        return DataReference(self.datastore, data_reference_name, joined)

    def as_mount(self) -> "DataReference":
        """A copy in mount mode."""
        copy = self._clone()
        copy.mode = "mount"
        return copy

    def as_download(self, path_on_compute: str | None = None, overwrite: bool = False) -> "DataReference":
        """A copy in download mode whose ``path_on_compute`` is replaced (None clears it).
        ``overwrite`` is ignored, as on Azure."""
        return self._in_mode("download", path_on_compute)

    def as_upload(self, path_on_compute: str | None = None, overwrite: bool = False) -> "DataReference":
        """A copy in upload mode whose ``path_on_compute`` is replaced (None clears it).
        ``overwrite`` is ignored, as on Azure."""
        return self._in_mode("upload", path_on_compute)

    def _in_mode(self, mode: str, path_on_compute: str | None) -> "DataReference":
        copy = self._clone()
        copy.mode = mode
        copy.path_on_compute = path_on_compute
        return copy

    def _clone(self) -> "DataReference":
        return DataReference(self.datastore, self.data_reference_name, self.path_on_datastore,
                             self.mode, self.path_on_compute, self.overwrite)

    def to_config(self):
        """The ``DataReferenceConfiguration`` for ``run_config.data_references[name]``."""
        return DataReferenceConfiguration(
            datastore_name=self.datastore.name, mode=self.mode,
            path_on_datastore=None if _is_current_path(self.path_on_datastore) else self.path_on_datastore,
            path_on_compute=None if _is_current_path(self.path_on_compute) else self.path_on_compute,
            overwrite=self.overwrite)

    @staticmethod
    def create(data_reference_name: str | None = None, datapath=None,
               datapath_compute_binding=None) -> "DataReference":
        """A DataReference from a DataPath (datastore and path) and a DataPathComputeBinding
        (mode, path_on_compute, overwrite). Raises ValueError when either is missing."""
        if datapath is None or datapath_compute_binding is None:
            raise ValueError("datapath and datapath_compute_binding are expected parameters")
        return DataReference(datapath._datastore, data_reference_name, datapath._path_on_datastore,
                             datapath_compute_binding._mode,
                             datapath_compute_binding._path_on_compute,
                             datapath_compute_binding._overwrite)

    # -- freezing ---------------------------------------------------------------------------
    def _to_definition(self) -> dict:
        """Plain JSON naming the datastore by name, for frozen and published pipelines."""
        return {"type": "DataReference", "datastore": self.datastore.name,
                "data_reference_name": self.data_reference_name,
                "path_on_datastore": None if _is_current_path(self.path_on_datastore)
                else self.path_on_datastore,
                "mode": self.mode, "path_on_compute": self.path_on_compute,
                "overwrite": bool(self.overwrite)}

    def __str__(self) -> str:
        return f"$AZUREML_DATAREFERENCE_{self.data_reference_name}"

    __repr__ = __str__


class DataReferenceConfiguration(_Section):
    """``DataReferenceConfiguration(datastore_name=None, mode='mount', path_on_datastore=None,
    path_on_compute=None, overwrite=False)``: an entry of ``run_config.data_references``, as
    ``DataReference.to_config()`` makes it. Attributes keep azureml's names
    (``data_store_name``, ``path_on_data_store``). Entries of ``run_config.data_references``
    are bound into the step like DataReference inputs (``str(dref)`` in the arguments).

    The mode is lower-cased. Deliberate difference: a mode other than mount/download/upload
    raises UserErrorException here, not at submission.
    """

    def __init__(self, datastore_name: str | None = None, mode: str = "mount",
                 path_on_datastore: str | None = None, path_on_compute: str | None = None,
                 overwrite: bool = False):
        self.data_store_name = datastore_name
        self.path_on_data_store = path_on_datastore
        self.path_on_compute = path_on_compute
        self.mode = _check_mode(mode)
        self.overwrite = overwrite
        self._initialized = True

    def _validate(self) -> None:
        """Raises UserErrorException without a datastore name or with an unsupported mode."""
        if not self.data_store_name:
            raise UserErrorException("Missing data store name: DataReferenceConfiguration("
                                     "datastore_name='workspaceblobstore', ...)")
        self.mode = _check_mode(self.mode)


def _check_mode(mode) -> str:
    if not isinstance(mode, str) or mode.lower() not in SUPPORTED_DATAREF_MODES:
        raise UserErrorException(
            f"mode {mode!r} is not supported for a data reference: use one of "
            f"{', '.join(SUPPORTED_DATAREF_MODES)}")
    return mode.lower()
