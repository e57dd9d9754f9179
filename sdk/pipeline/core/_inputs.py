"""How a step's ``arguments``, ``inputs`` and ``outputs`` are read at construction, as Azure's
``PipelineStep`` reads them: DataPath tuples, datasets in arguments, port renaming and the checks
that name a mistake before anything is frozen.

The two input wrappers Azure defines in ``azureml.pipeline.core.graph`` (``_PipelineIO`` and
``PipelineDataset``) live in ``_ports`` with the other data edges; they are exported here too.
"""
from __future__ import annotations

import re

from ._ports import (InputPortBinding, PipelineData, PipelineDataset,  # noqa: F401 - exported
                     PipelineParameter, _PipelineIO)


# -- reading a step's arguments, inputs and outputs -------------------------------------------
def _kind(obj) -> str:
    return type(obj).__name__


def _is_bare_dataset(obj) -> bool:
    return _kind(obj) in ("FileDataset", "TabularDataset")


def _is_consumption(obj) -> bool:
    return hasattr(obj, "arg_val") and hasattr(obj, "dataset") and hasattr(obj, "mode")


def _is_output_config(obj) -> bool:
    return _kind(obj) == "OutputFileDatasetConfig"


def _unwrap(obj):
    """``PipelineData.as_dataset()`` (and its ``as_named_input``, ``parse_*``) consumed directly."""
    from .pipeline_output_dataset import PipelineOutputAbstractDataset
    return obj._binding() if isinstance(obj, PipelineOutputAbstractDataset) else obj


def _data_reference_like(obj) -> bool:
    from ...data.data_reference import DataReference
    from ._port_data import PortDataReference
    return isinstance(obj, (DataReference, PortDataReference))


def port_name(obj) -> str | None:
    """The input port name of one input (Azure's ``_get_input_port_name``)."""
    if _data_reference_like(obj):
        return obj.data_reference_name
    return getattr(obj, "name", None)


def process_step_io(step, arguments: list, inputs: list, outputs: list,
                    fix_port_name_collisions: bool) -> tuple[list, list, list]:
    """Apply Azure's construction rules; returns the (arguments, inputs, outputs) to keep.
    Raises ValueError as Azure does, naming the object and the fix."""
    from .pipeline_output_dataset import PipelineOutputAbstractDataset

    # DataPath tuples: one _PipelineIO per distinct tuple, shared by arguments and inputs.
    memo: dict = {}

    def ioref(item):
        if not isinstance(item, tuple):
            return item
        key = tuple(id(x) for x in item)
        if key not in memo:
            memo[key] = _PipelineIO.create(item)
        return memo[key]

    arguments = [ioref(_unwrap(a)) for a in arguments]
    inputs = [ioref(_unwrap(i)) for i in inputs]
    outputs = [ioref(o._data if isinstance(o, PipelineOutputAbstractDataset) else o) for o in outputs]
    as_output = {id(o): o.as_output() for o in outputs if isinstance(o, _PipelineIO)}
    outputs = [as_output.get(id(o), o) for o in outputs]
    arguments = [as_output.get(id(a), a) for a in arguments]

    for obj in inputs:
        if _is_bare_dataset(obj):
            raise ValueError(
                f"{type(obj)} cannot be directly used as a step's input. Please call the "
                f"as_named_input method on {type(obj)} and pass the returned "
                "DatasetConsumptionConfig instance into the step (e.g. "
                "dataset.as_named_input('data').as_mount()).")
    inputs = [i.as_input() if _is_output_config(i) else i for i in inputs]

    for index, arg in enumerate(arguments):
        if _is_bare_dataset(arg):
            raise ValueError(
                "Datasets cannot be used directly as arguments. Please make sure you've called "
                "the as_named_input method on the dataset object (e.g. "
                "dataset.as_named_input('data').as_mount()).")
        if getattr(arg, "_dataset_like", False) and not any(arg is i for i in inputs):
            inputs.append(arg)  # PipelineData.as_dataset() in arguments, as on Azure
        elif _is_consumption(arg) and not any(arg is i for i in inputs):
            inputs.append(arg)
        elif _is_output_config(arg):
            if any(arg is i for i in inputs):  # given as argument and input: consumed
                consumed = arg.as_input()
                inputs = [consumed if i is arg else i for i in inputs]
                arguments[index] = consumed
            elif not any(arg is o for o in outputs):
                outputs.append(arg)
        elif isinstance(arg, PipelineParameter) and _is_dataset_default(arg.default_value):
            existing = next((i for i in inputs if isinstance(i, PipelineDataset)
                             and i.parameter_name == arg.name), None)
            if existing is None:
                existing = PipelineDataset.create(arg.default_value, parameter_name=arg.name)
                inputs.append(existing)
            arguments[index] = existing

    if fix_port_name_collisions:
        inputs, arguments = _rename_colliding_inputs(inputs, outputs, arguments)
    _check_port_names(inputs, outputs, fix_port_name_collisions)
    _check_arguments(step, arguments, inputs, outputs)
    for output in outputs:  # lets Pipeline(resolve_closure=True) find the producer
        if isinstance(output, PipelineData) or _is_output_config(output):
            output._producer = step
    return arguments, inputs, outputs


def _is_dataset_default(value) -> bool:
    return _is_bare_dataset(value) or isinstance(value, PipelineDataset)


def _output_port_names(outputs: list) -> set:
    names = set()
    for out in outputs:
        name = getattr(out, "_output_name", None) or getattr(out, "name", None)
        if name:
            names.add(name)
    return names


def _rename_colliding_inputs(inputs: list, outputs: list, arguments: list) -> tuple[list, list]:
    """An input named like an output becomes ``INPUT_<name>`` (Azure's
    ``fix_port_name_collisions``); arguments follow the renamed input."""
    from ...data.data_reference import DataReference
    taken = _output_port_names(outputs)
    changed: dict[int, object] = {}
    renamed = []
    for inp in inputs:
        name = port_name(inp)
        new = inp
        if name in taken:
            new_name = f"INPUT_{name}"
            if isinstance(inp, DataReference):
                new = DataReference(inp.datastore, new_name, inp.path_on_datastore, inp.mode,
                                    inp.path_on_compute, inp.overwrite)
            elif isinstance(inp, InputPortBinding):
                new = InputPortBinding(inp.bind_object, new_name, inp.bind_mode, inp.path_on_compute,
                                       inp.overwrite)
                new._dataset_like = inp._dataset_like
                if hasattr(inp, "_reader"):
                    new._reader = inp._reader
                changed[id(inp.bind_object)] = new
            elif isinstance(inp, PipelineData):
                new = InputPortBinding(inp, new_name, "mount")
            elif isinstance(inp, _PipelineIO):
                new = _PipelineIO(inp._datapath, inp._datapath_param, inp._datapath_compute_binding,
                                  new_name)
            elif isinstance(inp, PipelineDataset):
                new = PipelineDataset.create(inp, new_name)
            elif _is_consumption(inp):
                new = type(inp)(new_name, inp.dataset, inp.mode, inp.path_on_compute)
            elif _data_reference_like(inp):
                new = inp.as_input(new_name)
            changed[id(inp)] = new
        renamed.append(new)
    arguments = [changed.get(id(a), a) for a in arguments]
    return renamed, arguments


def _check_port_names(inputs: list, outputs: list, fixed: bool) -> None:
    seen: set = set()
    for inp in inputs:
        name = port_name(inp)
        if not name:
            continue
        if re.search(r"\W", name):
            raise ValueError(f"[{name}] is not a valid input name as it may contain only letters, "
                             "digits, and underscores.")
        if name in seen:
            raise ValueError(f"[{name}] is repeated. Input port names must be unique.")
        seen.add(name)
    if not fixed:
        both = seen & _output_port_names(outputs)
        if both:
            name = sorted(both)[0]
            raise ValueError(f"[{name}] is repeated. Input and output port names must be unique.")


def _check_arguments(step, arguments: list, inputs: list, outputs: list) -> None:
    """Everything data-like in ``arguments`` must be an input (or output) of the step."""

    def in_inputs(obj) -> bool:
        return any(obj is i or (isinstance(i, InputPortBinding) and i.bind_object is obj)
                   for i in inputs)

    declared = {id(o) for o in outputs}
    declared |= {id(i.bind_object if isinstance(i, InputPortBinding) else i) for i in inputs}
    for arg in arguments:
        target = arg.bind_object if isinstance(arg, InputPortBinding) else arg
        if isinstance(target, PipelineData) and id(target) not in declared:
            raise ValueError(
                f"step '{step.name}': PipelineData '{target.name}' is used in arguments but is "
                "in neither inputs= nor outputs=; add it to outputs= of the step that writes "
                "it and inputs= of the steps that read it")
        if isinstance(arg, _PipelineIO) and not in_inputs(arg):
            raise ValueError(f"Parameterized datapath {arg.name} is not in input list")
        if _data_reference_like(arg) and not in_inputs(arg):
            raise ValueError(f"Input {arg.data_reference_name} appears in arguments list but is "
                             "not in the input list")
