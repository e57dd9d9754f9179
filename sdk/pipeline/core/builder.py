"""PipelineData and PipelineParameter: the data edges and parameters of a pipeline.

Placeholders follow Azure: ``str(PipelineData('x'))`` is ``$AZUREML_DATAREFERENCE_x`` (the argv
placeholder and the environment variable holding the path), and a PipelineParameter used in
arguments becomes ``$AML_PARAMETER_<name>`` with ``re.sub(r'[~\\W]', '_', name)`` applied.
"""
from __future__ import annotations

import re

_WORD = re.compile(r"^\w+$")
PARAM_TYPES = (int, str, bool, float)


class PipelineData:
    """An intermediate output of one step, consumed by others (a folder on a datastore)."""

    def __init__(self, name: str, datastore=None, output_name: str | None = None,
                 output_mode: str = "mount", output_path_on_compute: str | None = None,
                 output_overwrite: bool | None = None, data_type: str | None = None,
                 is_directory: bool | None = None, pipeline_output_name: str | None = None,
                 training_output=None):
        if not isinstance(name, str) or not _WORD.match(name):
            raise ValueError(f"PipelineData name {name!r} is not valid: use letters, digits and '_' only")
        if output_name is not None and not _WORD.match(output_name):
            raise ValueError(f"PipelineData output_name {output_name!r} is not valid: use letters, "
                             "digits and '_' only")
        if output_mode not in ("mount", "upload"):
            raise ValueError(f"PipelineData output_mode {output_mode!r} is not valid: use 'mount' or 'upload'")
        self._name = name
        self._datastore = datastore
        self._output_name = output_name or name
        self._output_mode = output_mode
        self._output_path_on_compute = output_path_on_compute
        self._producer = None
        self._registration: dict | None = None

    @property
    def name(self) -> str:
        return self._name

    @property
    def datastore(self):
        return self._datastore

    @property
    def datastore_name(self) -> str | None:
        ds = self._datastore
        return ds if isinstance(ds, str) or ds is None else ds.name

    @property
    def output_mode(self) -> str:
        return self._output_mode

    def get_env_variable_name(self) -> str:
        return f"AZUREML_DATAREFERENCE_{self._name}"

    def __str__(self) -> str:
        return f"${self.get_env_variable_name()}"

    __repr__ = __str__

    def as_dataset(self) -> "PipelineOutputFileDataset":
        """This output as a file dataset: consume it with ``as_named_input``/``as_mount``/
        ``as_download``, or ``register`` it when the producing step completes."""
        return PipelineOutputFileDataset(self)

    def as_input(self, input_name: str | None = None) -> "InputPortBinding":
        return InputPortBinding(self, input_name or self._name, "mount")

    def as_mount(self, input_name: str | None = None) -> "InputPortBinding":
        return InputPortBinding(self, input_name or self._name, "mount")

    def as_download(self, input_name: str | None = None, path_on_compute: str | None = None,
                    overwrite: bool | None = None) -> "InputPortBinding":
        return InputPortBinding(self, input_name or self._name, "download", path_on_compute)


class PipelineOutputFileDataset:
    """``PipelineData.as_dataset()``: the producer's output folder as a FileDataset."""

    def __init__(self, data: PipelineData, input_name: str | None = None, mode: str = "mount",
                 path_on_compute: str | None = None):
        self._data = data
        self._input_name = input_name or data.name
        self._mode = mode
        self._path_on_compute = path_on_compute

    @property
    def name(self) -> str:
        return self._input_name

    def as_named_input(self, name: str) -> "PipelineOutputFileDataset":
        return PipelineOutputFileDataset(self._data, name, self._mode, self._path_on_compute)

    def as_mount(self) -> "InputPortBinding":
        return self._binding("mount")

    def as_download(self, path_on_compute: str | None = None) -> "InputPortBinding":
        return self._binding("download", path_on_compute)

    def register(self, name: str, create_new_version: bool = True, description: str | None = None,
                 tags: dict | None = None) -> "PipelineOutputFileDataset":
        """Register the output folder as dataset ``name`` (a new version each run) when the
        producing step completes."""
        self._data._registration = {"name": name, "description": description, "tags": dict(tags or {})}
        return self

    def _binding(self, mode: str | None = None, path_on_compute: str | None = None) -> "InputPortBinding":
        binding = InputPortBinding(self._data, self._input_name, mode or self._mode,
                                   path_on_compute or self._path_on_compute)
        binding._dataset_like = True  # like a dataset: used in arguments, it is an input too
        return binding

    def __str__(self) -> str:
        return f"$AZUREML_DATAREFERENCE_{self._input_name}"


class InputPortBinding:
    """How a step consumes a PipelineData (mount or download)."""

    def __init__(self, bind_object: PipelineData, input_name: str, mode: str = "mount",
                 path_on_compute: str | None = None):
        self.bind_object = bind_object
        self.input_name = input_name
        self.bind_mode = mode
        self.path_on_compute = path_on_compute
        self._dataset_like = False

    @property
    def name(self) -> str:
        return self.input_name

    def __str__(self) -> str:
        return str(self.bind_object)


class PipelineParameter:
    """A value set per submission. The default must be int, str, bool or float (datasets as
    parameter defaults come with the data-plane work)."""

    def __init__(self, name: str, default_value):
        if not isinstance(default_value, PARAM_TYPES):
            raise ValueError(f"PipelineParameter {name!r}: the default value must be an int, str, "
                             f"bool or float, not {type(default_value).__name__}")
        self.name = name
        self.default_value = default_value

    @property
    def env_name(self) -> str:
        return "AML_PARAMETER_" + re.sub(r"[~\W]", "_", self.name)

    def __str__(self) -> str:
        return f"PipelineParameter_Name:{self.name}_Default:{self.default_value}"

    __repr__ = __str__


def coerce_parameter(name: str, default, value):
    """Convert a submitted value (often a string from the CLI) to the default's type, or raise
    ValueError naming the parameter and the type expected."""
    kind = type(default)
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    text = str(value).strip()
    try:
        if kind is bool:
            if text.lower() in ("true", "1", "yes"):
                return True
            if text.lower() in ("false", "0", "no"):
                return False
            raise ValueError(text)
        return kind(text)
    except ValueError:
        raise ValueError(f"pipeline parameter {name!r} takes a {kind.__name__} (default "
                         f"{default!r}); {value!r} cannot be converted") from None
