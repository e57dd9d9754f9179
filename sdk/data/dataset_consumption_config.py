"""DatasetConsumptionConfig (``azureml.data.dataset_consumption_config``): how a step receives a
dataset: its name in the run (an environment variable), the mode and the path on the compute.

Deliberate difference from Azure: ``arg_val`` follows ``name`` when it is changed.
"""
from __future__ import annotations

import re
import uuid
import warnings

from ..errors import UserErrorException

DIRECT_MODE, DOWNLOAD_MODE, MOUNT_MODE, HDFS_MODE = "direct", "download", "mount", "hdfs"
_NAME = re.compile(r"^[a-zA-Z_]+[a-zA-Z0-9_]*$")
_RISKY_NAMES = {"path", "home", "user", "pwd", "shell"}
# the ``_TYPE`` of FileDataset and TabularDataset: this module is below the dataset classes (a
# dataset's as_named_input makes a DatasetConsumptionConfig), so it tells them by that attribute
_DATASET_TYPES = ("FileDataset", "TabularDataset")


def _validate_name(name, kind: str = "input") -> str:
    """Raises UserErrorException unless ``name`` can be an environment variable; warns for names
    that would replace common variables (PATH, HOME ...)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise UserErrorException(
            f"Invalid {kind} name {name!r}: it must match ^[a-zA-Z_]+[a-zA-Z0-9_]*$ (letters, "
            f"digits and '_', not starting with a digit), e.g. 'training_data', because it "
            "becomes an environment variable in the job")
    if name.lower() in _RISKY_NAMES:
        warnings.warn(f"the {kind} name '{name}' will replace the job's {name.upper()} "
                      "environment variable; choose another name", UserWarning, stacklevel=3)
    return name


def _registered(spec: tuple):
    """The registered dataset a ``(workspace, name[, version])`` tuple names."""
    if len(spec) not in (2, 3) or not isinstance(spec[1], str) or not hasattr(spec[0], "_dataset"):
        raise UserErrorException(
            f"dataset tuple {spec!r} is not valid: use (workspace, 'dataset name') or "
            "(workspace, 'dataset name', version)")
    # the workspace looks it up (Dataset.get_by_name): this module is below the dataset classes
    return spec[0]._dataset(spec[1], spec[2] if len(spec) == 3 else "latest")


class DatasetConsumptionConfig:
    """``DatasetConsumptionConfig(name, dataset, mode='direct', path_on_compute=None)``.

    ``dataset``: a FileDataset or TabularDataset, an OutputFileDatasetConfig, a
    PipelineParameter whose default is a dataset, or a registered dataset as
    ``(workspace, name)`` (latest version) or ``(workspace, name, version)``. Modes: direct, download, mount (hdfs is
    accepted but cannot run locally). The default name is ``input__<first 8 of the dataset id>``.

    Raises UserErrorException for an invalid name or mode, and for a TabularDataset in mount or
    download mode.
    """

    _SUPPORTED_MODE = {DIRECT_MODE, DOWNLOAD_MODE, MOUNT_MODE, HDFS_MODE}

    def __init__(self, name: str | None, dataset, mode: str = DIRECT_MODE,
                 path_on_compute: str | None = None):
        mode = (mode or "").lower()
        if isinstance(dataset, tuple):
            dataset = _registered(dataset)
        self._validate_mode(dataset, mode)
        self.dataset = self._validate_if_pipeline_parameter(dataset)
        if name:
            self._name = _validate_name(name, "input")
        else:
            dataset_id = getattr(self.dataset, "id", None)
            suffix = str(dataset_id)[:8] if dataset_id else uuid.uuid4().hex[:8]
            self._name = f"input__{suffix}"
        self.mode = mode
        self.path_on_compute = path_on_compute

    @staticmethod
    def _validate_mode(dataset, mode: str) -> None:
        if mode not in DatasetConsumptionConfig._SUPPORTED_MODE:
            raise UserErrorException(
                f"Invalid mode '{mode}'. Mode can only be mount, download, hdfs, or direct")
        dataset = getattr(dataset, "default_value", dataset)  # a PipelineParameter's default
        if getattr(dataset, "_TYPE", None) == "TabularDataset" and mode in (DOWNLOAD_MODE, MOUNT_MODE, HDFS_MODE):
            raise UserErrorException(
                f"{type(dataset)} does not support {mode}. Only FileDataset supports {mode}")

    @staticmethod
    def _validate_if_pipeline_parameter(param):
        if not hasattr(param, "default_value"):
            return param
        if getattr(param.default_value, "_TYPE", None) not in _DATASET_TYPES:
            raise UserErrorException(
                f"Invalid PipelineParameter with default value '{param.default_value}'. Default "
                "value must be of types: FileDataset or TabularDataset")
        return param

    # -- modes (each returns a new config) ----------------------------------------------------
    def as_download(self, path_on_compute: str | None = None) -> "DatasetConsumptionConfig":
        """A copy in download mode: files are copied before the step starts."""
        return DatasetConsumptionConfig(self.name, self.dataset, DOWNLOAD_MODE, path_on_compute)

    def as_mount(self, path_on_compute: str | None = None) -> "DatasetConsumptionConfig":
        """A copy in mount mode: files are bind-mounted read-only into the step."""
        return DatasetConsumptionConfig(self.name, self.dataset, MOUNT_MODE, path_on_compute)

    def as_hdfs(self) -> "DatasetConsumptionConfig":
        return DatasetConsumptionConfig(self.name, self.dataset, HDFS_MODE)

    # -- properties -------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._name = _validate_name(value, "input")

    @property
    def arg_val(self) -> str:
        """The placeholder the runner replaces in the step's arguments."""
        return f"DatasetConsumptionConfig:{self._name}"

    def _to_definition(self) -> dict:
        """Plain JSON: name, mode, path_on_compute and the dataset's own definition."""
        dataset = self.dataset
        if hasattr(dataset, "_consumed_as"):     # an OutputDatasetConfig fed to a later step
            data = dataset._consumed_as()
        elif hasattr(dataset, "default_value"):
            data = {"pipeline_parameter": getattr(dataset, "name", None),
                    "default": dataset.default_value._to_definition()}
        else:
            data = {"dataset": dataset._to_definition()}
        return {"name": self._name, "mode": self.mode, "path_on_compute": self.path_on_compute,
                **data}

    def __repr__(self) -> str:
        return (f"DatasetConsumptionConfig(name='{self._name}', mode='{self.mode}', "
                f"path_on_compute={self.path_on_compute!r})")
