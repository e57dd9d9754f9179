"""PipelineStep and StepSequence (``azureml.pipeline.core.builder``): the steps of a pipeline.

PipelineData, InputPortBinding, OutputPortBinding and PipelineParameter, the data edges and
parameters, are defined in ``_ports`` (below the rules reading a step's inputs, which use them)
and exported here under Azure's path, as is PipelineOutputFileDataset.
"""
from __future__ import annotations

from ._inputs import _check_arguments, process_step_io
from ._ports import (PARAM_TYPES, InputPortBinding, OutputPortBinding,  # noqa: F401 - Azure's path
                     PipelineData, PipelineParameter, coerce_parameter)
from .pipeline_output_dataset import PipelineOutputFileDataset  # noqa: F401 - Azure's path


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

