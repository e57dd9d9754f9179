"""OutputFileDatasetConfig (``azureml.data.output_dataset_config``): where a step's output files
go and how they get there. A describing object: the pipeline runner does the work.

``destination`` is ``(datastore or datastore name, 'path/{run-id}/{output-name}')``; None means
``workspaceblobstore`` at ``dataset/{run-id}/{output-name}``. The mode is mount by default
(the step writes to a folder that *is* the destination) or upload (copied after the step).

Deliberate difference from Azure: ``as_mount``, ``as_upload`` and ``register_on_complete`` return
copies that share the destination's Datastore object (Azure deep-copies it; ours holds a live
store connection). ``read_delimited_files``/``read_parquet_files`` are not offered yet.
"""
from __future__ import annotations

import copy
import uuid

from ..errors import UserErrorException
from .dataset_consumption_config import _validate_name

DEFAULT_DESTINATION = ("workspaceblobstore", "dataset/{run-id}/{output-name}")


class OutputDatasetConfig:
    """Base of output configs: a name, a mode, and an optional registration on completion."""

    def __init__(self, name: str | None = None, mode: str = "mount"):
        self._name = _validate_name(name, "output") if name else f"output_{uuid.uuid4().hex[:8]}"
        self.mode = mode
        self._registration: dict | None = None

    @property
    def name(self) -> str:
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._name = _validate_name(value, "output")

    @property
    def arg_val(self) -> str:
        """The placeholder the runner replaces in the step's arguments."""
        return f"DatasetOutputConfig:{self._name}"

    def register_on_complete(self, name: str, description: str | None = None,
                             tags: dict | None = None) -> "OutputDatasetConfig":
        """A copy that registers the output as dataset ``name`` when the step completes."""
        if not isinstance(name, str) or not name.strip():
            raise UserErrorException("register_on_complete needs a dataset name")
        return self._clone(_registration={"name": name, "description": description,
                                          "tags": dict(tags or {})})

    def as_input(self, name: str | None = None):
        """A DatasetConsumptionConfig that feeds this output to a later step: mounted, or, after
        ``read_delimited_files()``, as a TabularDataset (direct mode: ``run.input_datasets``)."""
        from .dataset_consumption_config import DatasetConsumptionConfig
        mode = "direct" if getattr(self, "_reader", None) else "mount"
        return DatasetConsumptionConfig(name or f"input_{uuid.uuid4().hex[:8]}", self, mode)

    def _clone(self, **changes) -> "OutputDatasetConfig":
        clone = copy.copy(self)
        for key, value in vars(self).items():
            if isinstance(value, (dict, list)):
                setattr(clone, key, copy.deepcopy(value))
        for key, value in changes.items():
            setattr(clone, key, value)
        return clone


class OutputFileDatasetConfig(OutputDatasetConfig):
    """``OutputFileDatasetConfig(name=None, destination=None, source=None, partition_format=None)``.

    Raises UserErrorException for an invalid name, a destination that is not a
    ``(datastore, path)`` tuple, or a path leaving the datastore.
    """

    def __init__(self, name: str | None = None, destination=None, source: str | None = None,
                 partition_format: str | None = None):
        super().__init__(name, "mount")
        self.destination = _check_destination(destination)
        self.source = source
        self.partition_format = partition_format
        self._mount_options: dict = {}
        self._upload_options: dict = {}

    def as_mount(self, disable_metadata_cache: bool = False) -> "OutputFileDatasetConfig":
        """A copy whose output folder is the destination itself."""
        return self._clone(mode="mount",
                           _mount_options={"disable_metadata_cache": bool(disable_metadata_cache)},
                           _upload_options={})

    def as_upload(self, overwrite: bool = False, source_globs=None) -> "OutputFileDatasetConfig":
        """A copy whose files are uploaded when the step ends; ``source_globs`` (a pattern or a
        list) limits which files."""
        if isinstance(source_globs, str):
            source_globs = [source_globs]
        return self._clone(mode="upload", _mount_options={},
                           _upload_options={"overwrite": bool(overwrite),
                                            "source_globs": list(source_globs) if source_globs else None})

    def read_delimited_files(self, include_path: bool = False, separator: str = ",",
                             header: bool = True, partition_format: str | None = None,
                             path_glob: str | None = None, set_column_types: dict | None = None):
        """A copy that later steps read as a TabularDataset of the delimited files the step
        wrote (``path_glob`` narrows them, default every file): pass ``.as_input(name)`` to the
        next step and read ``run.input_datasets[name].to_pandas_dataframe()`` there."""
        from .tabular_dataset import reader_types
        if not isinstance(header, bool):
            raise UserErrorException("header must be True (first line has column names) or False")
        return self._clone(_reader={
            "format": "delimited", "separator": separator, "header": header, "encoding": "utf8",
            "infer_column_types": True, "set_column_types": reader_types(set_column_types),
            "include_path": bool(include_path), "support_multi_line": False,
            "empty_as_string": False}, _path_glob=path_glob or "**/*",
            _partition_format=partition_format)

    @property
    def _destination_names(self) -> tuple[str, str]:
        """``(datastore name, path pattern)``, the default when no destination was given."""
        if self.destination is None:
            return DEFAULT_DESTINATION
        store, path = self.destination
        return (store if isinstance(store, str) else store.name), path

    def _to_definition(self) -> dict:
        """Plain JSON naming the destination datastore by name."""
        store, path = self._destination_names
        return {"type": "OutputFileDatasetConfig", "name": self._name, "mode": self.mode,
                "destination": {"datastore": store, "path": path}, "source": self.source,
                "partition_format": self.partition_format,
                "mount_options": dict(self._mount_options),
                "upload_options": dict(self._upload_options),
                "registration": copy.deepcopy(self._registration)}

    @staticmethod
    def _from_definition(definition: dict) -> "OutputFileDatasetConfig":
        """The inverse of ``_to_definition`` (the destination datastore stays a name)."""
        if not isinstance(definition, dict) or definition.get("type") != "OutputFileDatasetConfig":
            raise UserErrorException("not an OutputFileDatasetConfig definition")
        dest = definition.get("destination") or {}
        out = OutputFileDatasetConfig(
            definition["name"], (dest["datastore"], dest["path"]) if dest else None,
            definition.get("source"), definition.get("partition_format"))
        out.mode = definition.get("mode", "mount")
        out._mount_options = dict(definition.get("mount_options") or {})
        out._upload_options = dict(definition.get("upload_options") or {})
        out._registration = copy.deepcopy(definition.get("registration"))
        return out

    def __repr__(self) -> str:
        store, path = self._destination_names
        return (f"OutputFileDatasetConfig(name='{self._name}', destination=('{store}', '{path}'), "
                f"mode='{self.mode}')")


def _check_destination(destination):
    if destination is None:
        return None
    if not (isinstance(destination, tuple) and len(destination) == 2
            and isinstance(destination[1], str)
            and (isinstance(destination[0], str) or hasattr(destination[0], "name"))):
        raise UserErrorException(
            f"destination {destination!r} is not valid: use (datastore, 'path/{{run-id}}/"
            "{output-name}') with a Datastore or a datastore name")
    from amlocal.datastores import safe_relpath
    store, path = destination
    rel = safe_relpath(path, "destination path")
    if not rel:
        raise UserErrorException(
            "the destination path is the datastore's root; give a folder such as "
            "'outputs/{run-id}/{output-name}'")
    return store, rel


def register_output(workspace, output_definition: dict, resolved_path: str):
    """Register a finished step's output as ``register_on_complete`` asked; for the runner.

    ``output_definition`` is the output's ``_to_definition()``; ``resolved_path`` its destination
    path with ``{run-id}``/``{output-name}`` filled in. Registers a FileDataset of every file below
    that folder of the destination datastore as a new version of the requested name (as Azure
    does on every run; an identical definition keeps its version) and returns it; returns None
    when no registration was asked for. Raises UserErrorException (unknown datastore ...).
    """
    registration = (output_definition or {}).get("registration")
    if not registration:
        return None
    from ..core.dataset import Dataset
    from ..core.datastore import Datastore
    store = Datastore.get(workspace, (output_definition.get("destination") or {}).get(
        "datastore", DEFAULT_DESTINATION[0]))
    files = Dataset.File.from_files((store, resolved_path), validate=False,
                                    partition_format=output_definition.get("partition_format"))
    return files.register(workspace, registration["name"], registration.get("description"),
                          registration.get("tags") or None, create_new_version=True)
