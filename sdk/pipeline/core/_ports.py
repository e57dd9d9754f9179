"""The data edges and parameters of a pipeline: PipelineData, OutputPortBinding,
InputPortBinding, PipelineParameter, and the two input wrappers ``_PipelineIO`` (a ``(DataPath or
PipelineParameter, DataPathComputeBinding)`` tuple) and ``PipelineDataset``.

Azure's paths for them are ``azureml.pipeline.core.builder`` and ``graph``, which export them from
here. They sit below PipelineStep and the rules reading a step's inputs (``_inputs``), which use
them; they know the datasets a PipelineData becomes (``pipeline_output_dataset``), below them.

Placeholders follow Azure: ``str(PipelineData('x'))`` is ``$AZUREML_DATAREFERENCE_x`` (the argv
placeholder and the environment variable holding the path), and a PipelineParameter used in
arguments becomes ``$AML_PARAMETER_<name>`` with ``re.sub(r'[~\\W]', '_', name)`` applied.
"""
from __future__ import annotations

import re

from .pipeline_output_dataset import PipelineOutputAbstractDataset, PipelineOutputFileDataset

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
        self._output_overwrite = output_overwrite
        self._data_type = data_type
        self._is_directory = is_directory
        if pipeline_output_name is not None and not _WORD.match(str(pipeline_output_name)):
            raise ValueError(f"PipelineData pipeline_output_name {pipeline_output_name!r} is not "
                             "valid: use letters, digits and '_' only")
        self._pipeline_output_name = pipeline_output_name
        self._training_output = training_output
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

    @property
    def data_type(self) -> str | None:
        """The data type given at construction (amlocal needs none: outputs are folders)."""
        return self._data_type

    @property
    def pipeline_output_name(self) -> str | None:
        """The name under which ``PipelineRun.get_pipeline_output(name)`` finds this output."""
        return self._pipeline_output_name

    def get_env_variable_name(self) -> str:
        return f"AZUREML_DATAREFERENCE_{self._name}"

    def _set_producer(self, step) -> None:
        self._producer = step

    def __str__(self) -> str:
        return f"${self.get_env_variable_name()}"

    __repr__ = __str__

    def as_dataset(self):
        """This output as a file dataset: consume it with ``as_named_input``/``as_mount``/
        ``as_download``, or ``register`` it when the producing step completes."""
        return PipelineOutputFileDataset(self)

    def create_input_binding(self, input_name: str | None = None, mode: str | None = None,
                             path_on_compute: str | None = None,
                             overwrite: bool | None = None) -> "InputPortBinding":
        """An InputPortBinding feeding this output to a step (``mode`` mount, the default, or
        download). Raises ValueError for another mode."""
        name = input_name or self._name
        mode = mode or "mount"
        if mode not in ("mount", "download"):
            raise ValueError(f"Input [{name}] has an invalid mode [{mode}]")
        return InputPortBinding(self, name, mode, path_on_compute, overwrite)

    def _dataset_binding(self, input_name: str, mode: str,
                         path_on_compute: str | None) -> "InputPortBinding":
        """The binding of this output read as a dataset (``as_dataset()`` and its ``as_mount``,
        ``as_download``, ``parse_*``: any mode a dataset takes, direct too). Used like a
        dataset: placed in arguments, it is an input of the step too."""
        binding = InputPortBinding(self, input_name, mode, path_on_compute)
        binding._dataset_like = True
        return binding

    def as_input(self, input_name: str | None = None) -> "InputPortBinding":
        return self.create_input_binding(input_name)

    def as_mount(self, input_name: str | None = None) -> "InputPortBinding":
        return self.create_input_binding(input_name, "mount")

    def as_download(self, input_name: str | None = None, path_on_compute: str | None = None,
                    overwrite: bool | None = None) -> "InputPortBinding":
        return self.create_input_binding(input_name, "download", path_on_compute, overwrite)


class OutputPortBinding(PipelineData):
    """``OutputPortBinding(name, datastore=None, output_name=None, bind_mode='mount',
    path_on_compute=None, is_directory=None, overwrite=None, data_type=None,
    pipeline_output_name=None, training_output=None, dataset_registration=None,
    dataset_output=None)``: a step output, the way Azure's graph names it. It behaves as the
    PipelineData of the same name, mode and datastore."""

    def __init__(self, name: str, datastore=None, output_name: str | None = None,
                 bind_mode: str = "mount", path_on_compute: str | None = None,
                 is_directory: bool | None = None, overwrite: bool | None = None,
                 data_type: str | None = None, pipeline_output_name: str | None = None,
                 training_output=None, dataset_registration=None, dataset_output=None):
        super().__init__(name, datastore, output_name, bind_mode, path_on_compute, overwrite,
                         data_type, is_directory, pipeline_output_name, training_output)
        if dataset_registration is not None:
            self._registration = {"name": dataset_registration.name, "description": None, "tags": {}}

    @property
    def bind_mode(self) -> str:
        return self._output_mode

    @property
    def path_on_compute(self) -> str | None:
        return self._output_path_on_compute

    @property
    def overwrite(self) -> bool | None:
        return self._output_overwrite


class InputPortBinding:
    """How a step consumes data: a PipelineData (mount or download), a DataReference, a previous
    run's output (``PortDataReference``) or a DataPath parameter."""

    def __init__(self, bind_object=None, input_name: str | None = None, mode: str = "mount",
                 path_on_compute: str | None = None, overwrite: bool | None = None, *,
                 name: str | None = None, bind_mode: str | None = None, **kwargs):
        # Azure's order is (name, bind_object, bind_mode, path_on_compute, overwrite, ...);
        # amlocal's own code passes (bind_object, input_name, mode, path_on_compute).
        if isinstance(bind_object, str) and input_name is not None and not isinstance(input_name, str):
            bind_object, input_name = input_name, bind_object
        self.bind_object = bind_object
        self.input_name = name or input_name or getattr(bind_object, "name", None)
        self.bind_mode = bind_mode or mode
        self.path_on_compute = path_on_compute
        self.overwrite = overwrite
        self.is_resource = bool(kwargs.get("is_resource", False))
        self.additional_transformations = kwargs.get("additional_transformations")
        self._dataset_like = False

    @property
    def name(self) -> str:
        return self.input_name

    @property
    def data_reference_name(self) -> str:
        return self.input_name

    @property
    def data_type(self) -> str | None:
        return self.get_bind_object_data_type()

    def get_bind_object_name(self) -> str:
        obj = self.bind_object
        return getattr(obj, "data_reference_name", None) or obj.name

    def get_bind_object_data_type(self) -> str | None:
        """The data type of what is bound: a PipelineData's ``data_type``, ``AzureMLDataset``
        for a dataset, None otherwise (as Azure)."""
        obj = self.bind_object
        if isinstance(obj, (PipelineDataset, PipelineOutputAbstractDataset)) or self._dataset_like:
            return "AzureMLDataset"
        if isinstance(obj, PipelineData):
            return obj.data_type
        return None

    def as_resource(self) -> "InputPortBinding":
        """A copy of this binding marked ``is_resource`` (Azure's resource inputs). Locally it
        is bound like any other input."""
        copy = InputPortBinding(self.bind_object, self.input_name, self.bind_mode,
                                self.path_on_compute, self.overwrite, is_resource=True,
                                additional_transformations=self.additional_transformations)
        copy._dataset_like = self._dataset_like
        if hasattr(self, "_reader"):
            copy._reader = self._reader
        return copy

    def __str__(self) -> str:
        return f"$AZUREML_DATAREFERENCE_{self.input_name}"

    __repr__ = __str__


class PipelineParameter:
    """``PipelineParameter(name, default_value)``: a value set per submission.

    The default is an int, str, bool or float (in arguments: ``$AML_PARAMETER_<name>``), a
    DataPath (used as ``(parameter, DataPathComputeBinding(...))`` in inputs/arguments), or a
    FileDataset/TabularDataset (used through ``DatasetConsumptionConfig(name, parameter)``, or
    placed directly in arguments, which adds it to the inputs). Raises ValueError for any other
    default.
    """

    def __init__(self, name: str, default_value):
        if not isinstance(default_value, PARAM_TYPES) and not _is_data_default(default_value):
            raise ValueError(f"PipelineParameter {name!r}: the default value must be an int, str, "
                             "bool, float, DataPath, PipelineDataset, FileDataset or TabularDataset, "
                             f"not {type(default_value).__name__}")
        self.name = name
        self.default_value = default_value

    @property
    def env_name(self) -> str:
        return "AML_PARAMETER_" + re.sub(r"[~\W]", "_", self.name)

    def __str__(self) -> str:
        return f"PipelineParameter_Name:{self.name}_Default:{self.default_value}"

    __repr__ = __str__


def _is_data_default(value) -> bool:
    from ...data.datapath import DataPath
    from ...data.file_dataset import FileDataset
    from ...data.tabular_dataset import TabularDataset
    return isinstance(value, (DataPath, FileDataset, TabularDataset, PipelineDataset))


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


class _PipelineIO:
    """A ``(datapath_or_parameter, DataPathComputeBinding)`` tuple, as a step input.

    ``name`` is the DataPath's name (a parameter's default's name), not the parameter's;
    ``str()`` is ``$AZUREML_DATAREFERENCE_<name>``.
    """

    def __init__(self, datapath=None, datapath_param=None, datapath_compute_binding=None,
                 name: str | None = None):
        self._datapath = datapath
        self._datapath_param = datapath_param
        self._datapath_compute_binding = datapath_compute_binding
        self._name = name or (datapath._name if datapath is not None
                              else datapath_param.default_value._name)
        self._producer = None

    @property
    def name(self) -> str:
        return self._name

    @property
    def datapath(self):
        return self._datapath if self._datapath is not None else self._datapath_param

    @property
    def datapath_param_name(self) -> str | None:
        return None if self._datapath_param is None else self._datapath_param.name

    def _default(self):
        """The DataPath used when no value is submitted."""
        return self._datapath if self._datapath is not None else self._datapath_param.default_value

    @staticmethod
    def _validate(item) -> None:
        from ...data.datapath import DataPath, DataPathComputeBinding
        if len(item) != 2:
            raise ValueError("Length of the tuple must be 2")
        if not isinstance(item[0], (DataPath, PipelineParameter)):
            raise ValueError("First item in the tuple should be a DataPath or PipelineParameter")
        if not isinstance(item[1], DataPathComputeBinding):
            raise ValueError("Second item in the tuple should be DataPathComputeBinding")
        if isinstance(item[0], PipelineParameter) and not isinstance(item[0].default_value, DataPath):
            raise ValueError("Default value for the PipelineParameter should be DataPath")

    @staticmethod
    def create(item) -> "_PipelineIO":
        _PipelineIO._validate(item)
        if isinstance(item[0], PipelineParameter):
            return _PipelineIO(datapath_param=item[0], datapath_compute_binding=item[1])
        return _PipelineIO(datapath=item[0], datapath_compute_binding=item[1])

    def as_input(self):
        """The DataReference this input stands for (with the default path)."""
        return self._default().create_data_reference(self.name, self._datapath_compute_binding)

    def as_output(self):
        """The PipelineData this tuple stands for as an output."""
        path, binding = self._default(), self._datapath_compute_binding
        return PipelineData(path._name, datastore=path._datastore, output_mode=binding._mode,
                            output_path_on_compute=binding._path_on_compute,
                            output_overwrite=binding._overwrite)

    def __str__(self) -> str:
        return f"$AZUREML_DATAREFERENCE_{self._name}"

    __repr__ = __str__


class PipelineDataset:
    """``PipelineDataset(dataset=None, name=None, bind_mode='mount', path_on_compute=None,
    overwrite=False, parameter_name=None)``: Azure's (deprecated) adapter of a dataset as a step
    input; ``PipelineDataset.create(dataset, name=None, parameter_name=None)`` makes one from a
    dataset or a DatasetConsumptionConfig. With ``parameter_name`` the dataset is the default of
    that pipeline parameter. A TabularDataset is always read directly (mount applies to files).
    """

    def __init__(self, dataset=None, name: str | None = None, bind_mode: str = "mount",
                 path_on_compute: str | None = None, overwrite: bool = False,
                 parameter_name: str | None = None):
        self._dataset = dataset
        self._name = name or (PipelineDataset.default_name(dataset) if dataset is not None else None)
        self._bind_mode = bind_mode
        self._path_on_compute = path_on_compute
        self._overwrite = overwrite
        self._parameter_name = parameter_name

    dataset = property(lambda self: self._dataset)
    name = property(lambda self: self._name)
    bind_mode = property(lambda self: self._bind_mode)
    path_on_compute = property(lambda self: self._path_on_compute)
    overwrite = property(lambda self: self._overwrite)
    parameter_name = property(lambda self: self._parameter_name)

    @property
    def dataset_id(self) -> str | None:
        return getattr(self._dataset, "id", None)

    @property
    def mode(self) -> str:
        """The consumption mode amlocal binds: ``direct`` for a TabularDataset."""
        from ...data.tabular_dataset import TabularDataset
        return "direct" if isinstance(self._dataset, TabularDataset) else self._bind_mode

    @staticmethod
    def default_name(dataset) -> str | None:
        """The port name of a dataset: its registered name (non-word characters as ``_``)."""
        name = getattr(dataset, "name", None)
        return re.sub(r"[^a-zA-Z0-9_]", "_", name) if name else None

    @staticmethod
    def is_dataset(dset) -> bool:
        from ...data.dataset_consumption_config import DatasetConsumptionConfig
        from ...data.file_dataset import FileDataset
        from ...data.tabular_dataset import TabularDataset
        return isinstance(dset, (DatasetConsumptionConfig, FileDataset, TabularDataset))

    @staticmethod
    def validate_dataset(dset) -> None:
        """Nothing to check locally (Azure warns about deprecated or archived datasets)."""

    @staticmethod
    def create(dataset, name: str | None = None, parameter_name: str | None = None) -> "PipelineDataset":
        from ...data.dataset_consumption_config import DatasetConsumptionConfig
        from ...data.file_dataset import FileDataset
        from ...data.tabular_dataset import TabularDataset
        if isinstance(dataset, PipelineDataset):
            return PipelineDataset(dataset.dataset, name or dataset.name, dataset.bind_mode,
                                   dataset.path_on_compute, dataset.overwrite,
                                   parameter_name or dataset.parameter_name)
        if isinstance(dataset, DatasetConsumptionConfig):
            inner = dataset.dataset
            if isinstance(inner, PipelineParameter):
                return PipelineDataset(inner.default_value, name or dataset.name, dataset.mode,
                                       dataset.path_on_compute, False,
                                       parameter_name or inner.name)
            return PipelineDataset(inner, name or dataset.name, dataset.mode,
                                   dataset.path_on_compute, False, parameter_name)
        if isinstance(dataset, (FileDataset, TabularDataset)):
            return PipelineDataset(dataset, name or PipelineDataset.default_name(dataset)
                                   or (re.sub(r"\W", "_", parameter_name) if parameter_name else None),
                                   parameter_name=parameter_name)
        raise ValueError(f"Cannot create a PipelineDataset from {type(dataset).__name__}.")

    def __str__(self) -> str:
        if not self._name:
            raise ValueError("PipelineDataset does not have a name.")
        return f"$AZUREML_DATAREFERENCE_{self._name}"

    __repr__ = __str__
