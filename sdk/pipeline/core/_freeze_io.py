"""Freezing the data inputs only a pipeline has: a binding of a DataReference
(``InputPortBinding``), PortDataReference, DataPath tuples and parameters, PipelineDataset and
DatasetConsumptionConfig over a PipelineParameter. Plain JSON only; the entries are those of
``amlocal.core._freeze_step`` (a plain DataReference, datasets and run_config.data_references
are frozen there), with ``parameter`` naming the pipeline parameter whose submitted value
replaces the default:

- ``{"type": "datareference", ..., "parameter"}``: the submitted DataPath replaces datastore
  and path.
- ``{"type": "dataset", ..., "parameter"}``: the submitted dataset's definition replaces
  ``definition``.

Parameter defaults in ``graph["parameters"]``: scalars as they are; a DataPath as
``{"kind": "datapath", "datastore", "path_on_datastore"}``; a dataset as
``{"kind": "dataset", "definition"}``.
"""
from __future__ import annotations

from ...core._freeze_step import data_reference_fields, reference_entries
from ...core._freeze_step import data_requirements, with_packages  # noqa: F401 - re-exported
from ...data.data_reference import DataReference
from ...errors import UserErrorException
from ._inputs import PipelineDataset, _PipelineIO
from .builder import InputPortBinding, PipelineParameter
from ._port_data import PortDataReference

DATAPATH, DATASET = "datapath", "dataset"


def parameter_default(param: PipelineParameter):
    """The JSON form of a parameter's default (see the module docstring)."""
    from ...data.datapath import DataPath
    value = param.default_value
    if isinstance(value, DataPath):
        return {"kind": DATAPATH, "datastore": value.datastore_name,
                "path_on_datastore": value.path_on_datastore}
    if isinstance(value, PipelineDataset):
        value = value.dataset
    if hasattr(value, "_to_definition"):
        return {"kind": DATASET, "definition": value._to_definition()}
    return value


def is_data_input(inp) -> bool:
    """Whether :func:`freeze_input` handles ``inp`` (a plain DataReference is frozen by
    ``amlocal.core._freeze_step``; a binding of one here)."""
    target = inp.bind_object if isinstance(inp, InputPortBinding) else inp
    if isinstance(target, (PortDataReference, _PipelineIO, PipelineDataset)):
        return True
    if target is not inp and isinstance(target, DataReference):
        return True
    return (hasattr(inp, "arg_val") and isinstance(getattr(inp, "dataset", None), PipelineParameter))


def freeze_input(inp, params: dict) -> tuple[dict | None, dict | None]:
    """``(input entry, output entry)`` of one input (one of them None); parameters it uses are
    added to ``params``. Raises UserErrorException for a mode that cannot be bound."""
    if hasattr(inp, "arg_val"):  # DatasetConsumptionConfig(name, PipelineParameter)
        param = inp.dataset
        params[param.name] = parameter_default(param)
        return {"name": inp.name, "type": "dataset", "mode": inp.mode,
                "path_on_compute": inp.path_on_compute,
                "definition": params[param.name]["definition"], "parameter": param.name}, None
    binding = inp if isinstance(inp, InputPortBinding) else None
    target = binding.bind_object if binding else inp
    if isinstance(target, PipelineDataset):
        entry = {"name": binding.name if binding else target.name, "type": "dataset",
                 "mode": target.mode, "path_on_compute": target.path_on_compute,
                 "definition": target.dataset._to_definition(), "parameter": target.parameter_name}
        if target.parameter_name:
            params[target.parameter_name] = {"kind": DATASET, "definition": entry["definition"]}
        return entry, None
    parameter = None
    if isinstance(target, _PipelineIO):
        path = target._default()
        compute = target._datapath_compute_binding
        datastore, rel = path.datastore_name, path.path_on_datastore
        mode, on_compute, overwrite = compute._mode, compute._path_on_compute, compute._overwrite
        if target._datapath_param is not None:
            parameter = target._datapath_param.name
            params[parameter] = parameter_default(target._datapath_param)
        name = target.name
    elif isinstance(target, PortDataReference):
        datastore, rel = target.datastore_name, target.path_on_datastore
        mode, on_compute, overwrite = "mount", None, False
        name = target.data_reference_name
    else:  # a DataReference's binding
        name, datastore, rel, mode, on_compute, overwrite = data_reference_fields(target)
    if binding is not None:
        name = binding.name
        mode = binding.bind_mode or mode
        on_compute = binding.path_on_compute if binding.path_on_compute is not None else on_compute
        overwrite = binding.overwrite if binding.overwrite is not None else overwrite
    return reference_entries(name, datastore, rel, mode, on_compute, overwrite, parameter)


def argument_string(arg) -> str | None:
    """The argv placeholder of a data-like argument, or None when ``arg`` is not one."""
    if isinstance(arg, (PortDataReference, _PipelineIO, PipelineDataset)):
        return str(arg)
    if isinstance(arg, PipelineParameter) and isinstance(parameter_default(arg), dict):
        raise UserErrorException(
            f"pipeline parameter '{arg.name}' has a DataPath default and is used in arguments "
            "on its own: pass the tuple (parameter, DataPathComputeBinding(mode='mount')) in "
            "both inputs= and arguments=")
    return None

