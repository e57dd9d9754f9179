"""OutputFileDatasetConfig (``azureml.data.output_dataset_config``): where a step's output files
go and how they get there. A describing object: the pipeline runner does the work.

``destination`` is ``(datastore or datastore name, 'path/{run-id}/{output-name}')``; None means
``workspaceblobstore`` at ``dataset/{run-id}/{output-name}``. The mode is mount by default
(the step writes to a folder that *is* the destination) or upload (copied after the step).

``read_delimited_files()`` / ``read_parquet_files()`` (:class:`TransformationMixin`) return an
:class:`OutputTabularDatasetConfig`: the same output, read by later steps as a TabularDataset
(``.as_input(name)`` delivers it in direct mode: ``run.input_datasets[name]``).

Deliberate differences from Azure: ``as_mount``, ``as_upload`` and ``register_on_complete`` return
copies that share the destination's Datastore object (Azure deep-copies it; ours holds a live
store connection). OutputTabularDatasetConfig is a subclass of OutputFileDatasetConfig (in Azure
it only shares the base class), and its ``keep_columns`` / ``drop_columns`` / ``random_split``
raise: apply them to the TabularDataset in the consuming step. HDFS and link outputs are
cloud-only.
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

    def _consumed_as(self) -> dict:
        """How a DatasetConsumptionConfig feeding this output to a later step records it."""
        return {"output": self._to_definition()}

    def _clone(self, **changes) -> "OutputDatasetConfig":
        clone = copy.copy(self)
        for key, value in vars(self).items():
            if isinstance(value, (dict, list)):
                setattr(clone, key, copy.deepcopy(value))
        for key, value in changes.items():
            setattr(clone, key, value)
        return clone


class TransformationMixin:
    """``read_delimited_files`` / ``read_parquet_files``: read an output as a TabularDataset."""

    def read_delimited_files(self, include_path: bool = False, separator: str = ",",
                             header: bool = True, partition_format: str | None = None,
                             path_glob: str | None = None, set_column_types: dict | None = None
                             ) -> "OutputTabularDatasetConfig":
        """The output read as a TabularDataset of the delimited files the step wrote
        (``path_glob`` narrows them, default every file): pass ``.as_input(name)`` to the next
        step and read ``run.input_datasets[name].to_pandas_dataframe()`` there. ``header``
        must be a bool (Azure also takes PromoteHeadersBehavior: True means every file has the
        same header)."""
        from .tabular_dataset import reader_types
        if not isinstance(header, bool):
            raise UserErrorException("header must be True (first line has column names) or False")
        return self._tabular({
            "format": "delimited", "separator": separator, "header": header, "encoding": "utf8",
            "infer_column_types": True, "set_column_types": reader_types(set_column_types),
            "include_path": bool(include_path), "support_multi_line": False,
            "empty_as_string": False}, path_glob, partition_format)

    def read_parquet_files(self, include_path: bool = False, partition_format: str | None = None,
                           path_glob: str | None = None, set_column_types: dict | None = None
                           ) -> "OutputTabularDatasetConfig":
        """The output read as a TabularDataset of the Parquet files the step wrote (as
        :meth:`read_delimited_files`; the consuming step needs pyarrow)."""
        from .tabular_dataset import reader_types
        return self._tabular({"format": "parquet", "include_path": bool(include_path),
                              "set_column_types": reader_types(set_column_types)},
                             path_glob, partition_format)

    def _tabular(self, reader: dict, path_glob, partition_format) -> "OutputTabularDatasetConfig":
        source = self._clone(_reader=reader, _path_glob=path_glob or "**/*",
                             _partition_format=partition_format)
        return OutputTabularDatasetConfig(output_file_dataset_config=source)


class OutputFileDatasetConfig(OutputDatasetConfig, TransformationMixin):
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


class OutputTabularDatasetConfig(OutputFileDatasetConfig):
    """An output read as a TabularDataset by later steps: what ``read_delimited_files()`` and
    ``read_parquet_files()`` return. Not made directly: ``OutputTabularDatasetConfig()``
    without ``output_file_dataset_config`` raises ValueError, as in Azure."""

    def __init__(self, **kwargs):
        source = kwargs.get("output_file_dataset_config")
        if not isinstance(source, OutputFileDatasetConfig) or not getattr(source, "_reader", None):
            raise ValueError("The constructor of this class is not supposed to be called "
                             "directly. Please create an OutputFileDatasetConfig and add "
                             "additional transforms to get a OutputTabularDatasetConfig.")
        for key, value in vars(source).items():
            setattr(self, key, copy.deepcopy(value) if isinstance(value, (dict, list)) else value)

    def keep_columns(self, columns) -> "OutputTabularDatasetConfig":
        """The output read with only ``columns`` (a name or a list) by the consuming step."""
        from ._transforms import check_columns
        return self._with_transform({"keep_columns": check_columns(columns, "keep_columns")})

    def drop_columns(self, columns) -> "OutputTabularDatasetConfig":
        """The output read without ``columns`` (a name or a list) by the consuming step."""
        from ._transforms import check_columns
        return self._with_transform({"drop_columns": check_columns(columns, "drop_columns")})

    def random_split(self, percentage: float, seed: int | None = None) -> tuple:
        """Two tables read from the output: about ``percentage`` of its rows and the others
        (seeded, so the two partition the rows; give each its own input name with
        ``as_input(name)``)."""
        from ._transforms import check_probability, check_seed
        spec = {"percentage": check_probability(percentage, "percentage"),
                "seed": check_seed(seed)}
        return (self._with_transform({"random_split": {**spec, "part": 0}}),
                self._with_transform({"random_split": {**spec, "part": 1}}))

    def _with_transform(self, step: dict) -> "OutputTabularDatasetConfig":
        """A copy read with ``step`` applied after the others. The transformations travel in
        the reader settings (``reader["transforms"]``), the part of the table that reaches the
        consuming step (see ``TabularDataset._transforms``)."""
        clone = self._clone()
        clone._reader = copy.deepcopy(self._reader)
        clone._reader.setdefault("transforms", []).append(step)
        return clone

    def __repr__(self) -> str:
        return "OutputTabularDatasetConfig" + super().__repr__()[len("OutputFileDatasetConfig"):]


class UploadOptions:
    """``UploadOptions(overwrite=False, source_globs=None)``: what ``as_upload`` records (a
    single glob becomes a list)."""

    def __init__(self, overwrite: bool = False, source_globs=None):
        if source_globs is not None and not isinstance(source_globs, list):
            source_globs = [source_globs]
        self.overwrite = overwrite
        self.source_globs = source_globs


class MountOptions:
    """``MountOptions(disable_metadata_cache=False)``: what ``as_mount`` records."""

    def __init__(self, disable_metadata_cache: bool = False):
        self.disable_metadata_cache = disable_metadata_cache


class RegistrationConfiguration:
    """``RegistrationConfiguration(name, description, tags)``: what ``register_on_complete``
    records."""

    def __init__(self, name: str, description: str | None, tags: dict | None):
        self.name = name
        self.description = description
        self.tags = tags


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
    from .abstract_dataset import Dataset
    from .abstract_datastore import Datastore
    store = Datastore.get(workspace, (output_definition.get("destination") or {}).get(
        "datastore", DEFAULT_DESTINATION[0]))
    files = Dataset.File.from_files((store, resolved_path), validate=False,
                                    partition_format=output_definition.get("partition_format"))
    return files.register(workspace, registration["name"], registration.get("description"),
                          registration.get("tags") or None, create_new_version=True)


# Output kinds amlocal does not run: they import and raise CloudOnlyError when used.
from .._cloud_only import cloud_only_class  # noqa: E402

_MODULE = "azureml.data.output_dataset_config"
HDFSOutputDatasetConfig = cloud_only_class(
    _MODULE, "HDFSOutputDatasetConfig", "HDFS outputs exist on Azure Spark / HDInsight compute",
    "OutputFileDatasetConfig(name, destination=(datastore, 'path/{run-id}'))")
_LINK = ("linking an existing dataset as a run's output "
         "(run.output_datasets[name].link(dataset)) is not built in amlocal yet")
LinkFileOutputDatasetConfig = cloud_only_class(
    _MODULE, "LinkFileOutputDatasetConfig", _LINK,
    "register the dataset from the step (dataset.register(ws, name)) or write the files to an "
    "OutputFileDatasetConfig")
LinkTabularOutputDatasetConfig = cloud_only_class(
    _MODULE, "LinkTabularOutputDatasetConfig", _LINK,
    "register the dataset from the step (dataset.register(ws, name)) or write the files to an "
    "OutputFileDatasetConfig and read_delimited_files()")
