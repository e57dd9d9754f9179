"""Freezing the data inputs that name a datastore path or a parameterised dataset: DataReference
(and its upload mode, which is an output), PortDataReference, DataPath tuples and parameters,
PipelineDataset and DatasetConsumptionConfig over a PipelineParameter. Plain JSON only.

Entries (``node["inputs"]``):

- ``{"type": "datareference", "name", "datastore", "path_on_datastore", "mode" (mount |
  download), "path_on_compute", "overwrite", "parameter"}``: bound like a FileDataset of that
  path; with ``parameter`` the submitted DataPath replaces datastore and path.
- ``{"type": "dataset", "name", "mode", "path_on_compute", "definition", "parameter"}``: with
  ``parameter`` the submitted dataset's definition replaces ``definition``.

An upload-mode reference is an output: ``{"kind": "data_reference", "name", "datastore", "path",
"mode": "upload", "overwrite", "path_on_compute", "parameter"}``.

Parameter defaults in ``graph["parameters"]``: scalars as they are; a DataPath as
``{"kind": "datapath", "datastore", "path_on_datastore"}``; a dataset as
``{"kind": "dataset", "definition"}``.
"""
from __future__ import annotations

from ...data.data_reference import SUPPORTED_DATAREF_MODES, DataReference
from ...errors import UserErrorException
from ._inputs import PipelineDataset, _PipelineIO
from .builder import InputPortBinding, PipelineParameter
from .run import PortDataReference

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
    """Whether :func:`freeze_input` handles ``inp``."""
    target = inp.bind_object if isinstance(inp, InputPortBinding) else inp
    if isinstance(target, (DataReference, PortDataReference, _PipelineIO, PipelineDataset)):
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
    else:  # DataReference
        datastore, rel = target.datastore.name, target.path_on_datastore
        mode, on_compute, overwrite = target.mode, target.path_on_compute, target.overwrite
        name = target.data_reference_name
    if binding is not None:
        name = binding.name
        mode = binding.bind_mode or mode
        on_compute = binding.path_on_compute if binding.path_on_compute is not None else on_compute
        overwrite = binding.overwrite if binding.overwrite is not None else overwrite
    return _reference_entries(name, datastore, rel, mode, on_compute, overwrite, parameter)


def config_references(data_references) -> list[tuple[dict | None, dict | None]]:
    """``(input entry, output entry)`` for every entry of ``run_config.data_references``
    (``{name: DataReferenceConfiguration}``, or its serialised dict), as Azure binds them for a
    ScriptRunConfig run: ``str(dref)`` in the arguments then resolves to the path. Raises
    UserErrorException for an entry without a datastore or with an unsupported mode."""
    found = []
    for name, cfg in (data_references or {}).items():
        if isinstance(cfg, dict):
            get = cfg.get
            fields = (get("dataStoreName") or get("datastore_name") or get("data_store_name"),
                      get("mode") or "mount", get("pathOnDataStore") or get("path_on_datastore"),
                      get("pathOnCompute") or get("path_on_compute"), bool(get("overwrite")))
        else:
            fields = (getattr(cfg, "data_store_name", None), getattr(cfg, "mode", "mount") or "mount",
                      getattr(cfg, "path_on_data_store", None), getattr(cfg, "path_on_compute", None),
                      bool(getattr(cfg, "overwrite", False)))
        datastore, mode, rel, on_compute, overwrite = fields
        if not datastore:
            raise UserErrorException(
                f"run_config.data_references['{name}'] names no datastore: use "
                "datastore.path('folder').to_config()")
        found.append(_reference_entries(str(name), datastore, rel, str(mode).lower(), on_compute,
                                        overwrite, None))
    return found


def _reference_entries(name: str, datastore: str, rel, mode: str, on_compute, overwrite,
                       parameter) -> tuple[dict | None, dict | None]:
    """The input entry (mount, download) or output entry (upload) of one data reference."""
    if mode not in SUPPORTED_DATAREF_MODES:
        raise UserErrorException(f"input '{name}': Invalid mode {mode}. Only mount, download, "
                                 "upload are supported")
    rel = None if rel in ("/", ".", "./") else rel
    if mode == "upload":
        if not on_compute:
            raise UserErrorException(
                f"'{name}' is in upload mode but has no path_on_compute: give the folder the step "
                f"writes, which is uploaded to '{rel or '(the datastore root)'}' on datastore "
                f"'{datastore}' when the step ends, e.g. .as_upload(path_on_compute='outputs/{name}')")
        return None, {"name": name, "kind": "data_reference", "datastore": datastore,
                      "path": rel or "", "mode": "upload", "overwrite": bool(overwrite),
                      "path_on_compute": on_compute, "parameter": parameter, "registration": None}
    return {"name": name, "type": "datareference", "datastore": datastore,
            "path_on_datastore": rel, "mode": mode, "path_on_compute": on_compute,
            "overwrite": bool(overwrite), "parameter": parameter}, None


def argument_string(arg) -> str | None:
    """The argv placeholder of a data-like argument, or None when ``arg`` is not one."""
    if isinstance(arg, (DataReference, PortDataReference, _PipelineIO, PipelineDataset)):
        return str(arg)
    if isinstance(arg, PipelineParameter) and isinstance(parameter_default(arg), dict):
        raise UserErrorException(
            f"pipeline parameter '{arg.name}' has a DataPath default and is used in arguments "
            "on its own: pass the tuple (parameter, DataPathComputeBinding(mode='mount')) in "
            "both inputs= and arguments=")
    return None


def data_requirements(entries: list[dict]) -> tuple[str, ...]:
    """The pip packages a step needs to read the datasets of its input entries (each package
    once), as ``amlocal.datastores.requirements.step_requirements`` names them. Raises
    UserErrorException for a URL protocol fsspec does not know."""
    from amlocal.datastores.requirements import step_requirements
    found: list[str] = []
    for entry in entries:
        definition = entry.get("definition")
        if entry.get("reader"):  # an output read as a table
            definition = {"type": "TabularDataset", "sources": [{"url": "file:///"}],
                          "reader": entry["reader"]}
        if definition:
            found += [p for p in step_requirements(definition) if p not in found]
    return tuple(found)


def with_packages(env_spec: dict, packages) -> dict:
    """A copy of ``env_spec`` whose pip packages include ``packages`` (those not already asked
    for, by name, in its pip or conda packages). A user-managed environment is left as it is
    (nothing is installed there)."""
    import re
    if not packages or not env_spec or env_spec.get("user_managed"):
        return env_spec

    def name(requirement: str) -> str:
        return re.split(r"[\s\[<>=!~;@]", requirement.strip(), 1)[0].lower().replace("_", "-")

    have = {name(p) for p in list(env_spec.get("pip_packages") or [])
            + list(env_spec.get("conda_packages") or [])}
    extra = [p for p in packages if name(p) not in have]
    if not extra:
        return env_spec
    return {**env_spec, "pip_packages": list(env_spec.get("pip_packages") or []) + extra}
