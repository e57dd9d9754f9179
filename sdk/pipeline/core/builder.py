"""PipelineStep, StepSequence, PipelineData, InputPortBinding, OutputPortBinding and
PipelineParameter (``azureml.pipeline.core.builder`` / ``graph``): the steps, data edges and
parameters of a pipeline.

Placeholders follow Azure: ``str(PipelineData('x'))`` is ``$AZUREML_DATAREFERENCE_x`` (the argv
placeholder and the environment variable holding the path), and a PipelineParameter used in
arguments becomes ``$AML_PARAMETER_<name>`` with ``re.sub(r'[~\\W]', '_', name)`` applied.
"""
from __future__ import annotations

import re

_WORD = re.compile(r"^\w+$")
PARAM_TYPES = (int, str, bool, float)


class PipelineStep:
    """The base class of pipeline steps (``PythonScriptStep``, ``ExecutePythonScriptStep`` ...).

    ``run_after(step)`` orders it after another step; ``run_after_steps`` lists those steps.
    Subclasses call :meth:`_process_io` with their arguments, inputs and outputs: it applies
    Azure's rules (DataPath tuples, datasets in arguments added to the inputs, ``INPUT_<name>``
    for an input named like an output, arguments that must be inputs).
    """

    def __init__(self, name: str, inputs=None, outputs=None, arguments=None,
                 fix_port_name_collisions: bool = False, resource_inputs=None):
        self.name = name
        self._run_after: list = []
        self.step_type = type(self).__name__
        self.arguments, self.inputs, self.outputs = self._process_io(
            list(arguments or []), list(inputs or []), list(outputs or []),
            fix_port_name_collisions)

    @property
    def run_after_steps(self) -> list:
        return self._run_after

    def run_after(self, step) -> None:
        """Run this step only after ``step`` has finished."""
        self._run_after.append(step)

    def _process_io(self, arguments: list, inputs: list, outputs: list,
                    fix_port_name_collisions: bool) -> tuple[list, list, list]:
        from ._inputs import process_step_io
        return process_step_io(self, arguments, inputs, outputs, fix_port_name_collisions)

    # -- Azure's step-building hooks ----------------------------------------------------------
    # A custom Azure step overrides create_node and builds its service graph node with the
    # helpers below. amlocal freezes every step itself (Pipeline.submit / publish turn a step's
    # script, arguments, inputs and outputs into plain data), so the hooks that only build
    # Azure's graph objects refuse with a message saying so; the two that check or resolve a
    # step's files and arguments work.
    def create_node(self, graph, default_datastore, context):
        """Azure builds its service graph here; amlocal freezes steps into plain data instead.
        Raises UserErrorException."""
        _not_built_locally("create_node")

    def create_module_def(self, execution_type, input_bindings, output_bindings, param_defs=None,
                          create_sequencing_ports=True, allow_reuse=True, version=None,
                          module_type=None, arguments=None, runconfig=None, cloud_settings=None):
        """Azure's module definition of the step. Raises UserErrorException: amlocal freezes
        steps itself."""
        _not_built_locally("create_module_def")

    def create_input_output_bindings(self, inputs, outputs, default_datastore, resource_inputs=None):
        """Azure's port bindings of the step's graph node. Raises UserErrorException: amlocal
        freezes steps itself (its inputs and outputs are read from ``inputs``/``outputs``)."""
        _not_built_locally("create_input_output_bindings")

    @staticmethod
    def resolve_input_arguments(arguments, inputs, outputs, params):
        """Azure's annotated argument list of a graph node. Raises UserErrorException: amlocal
        resolves arguments itself when it freezes the step (``$AZUREML_DATAREFERENCE_<name>``,
        ``$AML_PARAMETER_<name>``)."""
        _not_built_locally("resolve_input_arguments")

    @staticmethod
    def validate_arguments(arguments, inputs, outputs) -> None:
        """Check that every input and output used in ``arguments`` is in ``inputs`` or
        ``outputs``; raises ValueError naming the first one that is not (as Azure does)."""
        from ._inputs import _check_arguments

        declared = {id(o) for o in outputs or []}
        for arg in arguments or []:
            if isinstance(arg, OutputPortBinding) and id(arg) not in declared:
                raise ValueError(f"Output {arg.name} appears in arguments list but is not in the "
                                 "output list")

        class _Unnamed:
            name = "(validate_arguments)"
        _check_arguments(_Unnamed(), list(arguments or []), list(inputs or []), list(outputs or []))

    def get_source_directory(self, context, source_directory, script_name):
        """The step's source directory (``source_directory``, else the pipeline's
        ``default_source_directory`` when ``context`` is the Pipeline, else the current folder),
        checked to hold ``script_name``. Raises ValueError when the script is not there."""
        import os
        folder = source_directory or getattr(context, "_default_source_directory", None) or os.getcwd()
        script = os.path.join(folder, script_name)
        if not os.path.isfile(script):
            raise ValueError(f"Step [{self.name}]: script not found at: {os.path.abspath(script)}. "
                             "Make sure to specify an appropriate source_directory on the Step or "
                             "default_source_directory on the Pipeline.")
        return folder


def _not_built_locally(method: str):
    from ...errors import UserErrorException
    raise UserErrorException(
        f"PipelineStep.{method} builds Azure's pipeline service graph, which amlocal does not "
        "use: Pipeline.submit / publish freeze every step themselves. A custom step subclasses "
        "PythonScriptStep (script, arguments, inputs, outputs, runconfig) instead of overriding "
        "create_node")


class StepSequence:
    """``StepSequence(steps=None)``: steps that run one after the other. An item may itself be a
    list of steps (they run side by side, and all of them before the next item) or a nested
    StepSequence. ``Pipeline(ws, steps=StepSequence(steps=[a, b, c]))`` runs a, then b, then c.
    """

    def __init__(self, steps=None):
        self._steps = list(steps or [])

    def __iter__(self):
        return iter(self._steps)

    def _flatten(self) -> list:
        """Every step, with the sequence's order applied through ``run_after``."""
        ordered: list = []
        previous: list = []
        for item in self._steps:
            group = _steps_of(item)
            heads = _heads(item)
            for step in heads:
                for before in previous:
                    if before not in step._run_after:
                        step.run_after(before)
            ordered += [s for s in group if all(s is not o for o in ordered)]
            previous = _tails(item)
        return ordered


def _steps_of(item) -> list:
    if isinstance(item, StepSequence):
        return item._flatten()
    if isinstance(item, (list, tuple)):
        found: list = []
        for sub in item:
            found += [s for s in _steps_of(sub) if all(s is not o for o in found)]
        return found
    return [item]


def _heads(item) -> list:
    """The steps of ``item`` that start first (they wait for the previous item)."""
    if isinstance(item, StepSequence):
        return _heads(item._steps[0]) if item._steps else []
    if isinstance(item, (list, tuple)):
        return [s for sub in item for s in _heads(sub)]
    return [item]


def _tails(item) -> list:
    """The steps of ``item`` that end last (the next item waits for them)."""
    if isinstance(item, StepSequence):
        return _tails(item._steps[-1]) if item._steps else []
    if isinstance(item, (list, tuple)):
        return [s for sub in item for s in _tails(sub)]
    return [item]


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
        from ._inputs import PipelineDataset
        from .pipeline_output_dataset import PipelineOutputAbstractDataset
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
    from ._inputs import PipelineDataset
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


from .pipeline_output_dataset import PipelineOutputFileDataset  # noqa: E402 - re-export (no cycle at import)
