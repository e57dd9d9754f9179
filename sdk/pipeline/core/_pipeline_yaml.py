"""Azure's pipeline YAML (``Pipeline.load_yaml``, ``az ml run submit-pipeline -y``): reading it
into steps, and writing a frozen pipeline back (``PublishedPipeline.save``, ``PipelineRun.save``).

The schema is Azure's::

    pipeline:
      description: text                # `name:` is the deprecated spelling
      default_compute: cpu-cluster
      parameters:                      # type: string | int | float | bool | datapath
        alpha: {type: float, default: 0.5}
        raw: {type: datapath, default: {datastore: store, path_on_datastore: raw/}}
      data_references:
        lake: {datastore: store, path_on_datastore: folder}
        titanic: {dataset_name: titanic}          # or dataset_id
      steps:
        prep:
          type: PythonScriptStep       # or ParallelRunStep
          name: prep                   # the step's name (default: its key)
          script_name: prep.py
          source_directory: src
          compute: cpu-cluster         # default: default_compute
          runconfig: prep.runconfig    # RunConfiguration.load(...)
          allow_reuse: true
          version: "1"
          arguments: [--data, input:raw_in, --out, output:prepared, --alpha, parameter:ALPHA]
          parameters: {ALPHA: {source: alpha}}    # or a literal value
          inputs:
            raw_in: {source: raw, bind_mode: mount}   # a parameter, data reference or output
          outputs:
            prepared: {destination: prepared_data, datastore: store, bind_mode: mount}

A ParallelRunStep takes ``parallel_run_config: file`` (``ParallelRunConfig.load_yaml``),
``inputs`` (datasets or outputs with ``as_dataset: true``), ``side_inputs`` and one output.
``input:x`` / ``output:x`` / ``side_input:x`` in ``arguments`` become that input or output;
``parameter:X`` becomes the step parameter ``X`` (its pipeline parameter, or its value).

Where amlocal differs (documented choices): relative paths (``source_directory``, ``runconfig``,
``parallel_run_config``) are read from the current folder as on Azure, else from the YAML file's
folder; a datapath-parameter input is named after its input key (Azure names it after the
DataPath); ModuleStep and the cloud step types (AdlaStep, DataTransferStep, DatabricksStep,
AzureBatchStep) and SQL data references are refused with an error naming them.
"""
from __future__ import annotations

import logging
import os

from ...errors import UserErrorException

_STEP_TYPES = ("PythonScriptStep", "ParallelRunStep")
_LEGACY_KEYS = {"python_script_step": "PythonScriptStep", "parallel_run_step": "ParallelRunStep"}
_CLOUD_TYPES = {"ModuleStep": "module", "AdlaStep": "adla_step",
                "DataTransferStep": "data_transfer_step", "DatabricksStep": "databricks_step",
                "AzureBatchStep": "azurebatch_step"}
_PARAM_TYPES = {"string": str, "int": int, "float": float, "bool": bool}
_SQL_KEYS = ("sql_table", "sql_query", "sql_stored_procedure", "sql_stored_procedure_params")
module_logger = logging.getLogger(__name__)


class _Context:
    """What the steps of one YAML file share while they are built."""

    def __init__(self, workspace, filename: str):
        self.workspace = workspace
        self.filename = filename
        self.folder = os.path.dirname(os.path.abspath(filename))
        self.parameters: dict = {}       # name -> PipelineParameter
        self.data_references: dict = {}  # name -> DataReference | Dataset
        self.pipeline_data: dict = {}    # destination name -> PipelineData

    def path(self, value, what: str) -> str:
        """A path from the file: as given when it exists from the current folder (Azure),
        else relative to the YAML file's folder."""
        if not isinstance(value, str) or not value:
            raise UserErrorException(f"{self.filename}: {what} must be a path (a string)")
        if os.path.isabs(value) or os.path.exists(value):
            return value
        beside = os.path.join(self.folder, value)
        return beside if os.path.exists(beside) else value

    def fail(self, message: str) -> None:
        raise UserErrorException(f"{self.filename}: {message}")


def load(workspace, filename) -> tuple[list, str | None]:
    """``(steps, description)`` of the pipeline YAML ``filename``. Raises UserErrorException
    naming the section and the fix for anything amlocal cannot build."""
    import yaml
    filename = os.fspath(filename)
    if not os.path.isfile(filename):
        raise UserErrorException(f"pipeline YAML {filename} does not exist")
    with open(filename, encoding="utf-8") as handle:
        try:
            document = yaml.safe_load(handle)
        except yaml.YAMLError as exc:
            raise UserErrorException(f"{filename} is not valid YAML: {exc}") from None
    ctx = _Context(workspace, filename)
    if not isinstance(document, dict) or not isinstance(document.get("pipeline"), dict):
        ctx.fail('Pipeline Yaml file must have a "pipeline:" section')
    section = document["pipeline"]
    description = section.get("name")
    if description is not None:
        module_logger.warning("Pipeline yaml parameter name is being deprecated. Use description instead.")
    description = section.get("description", description)
    ctx.parameters = _parameters(ctx, section.get("parameters") or {})
    ctx.data_references = _data_references(ctx, section.get("data_references") or {})
    steps_section = section.get("steps")
    if not isinstance(steps_section, dict) or not steps_section:
        ctx.fail("Pipeline Yaml file must have at least one step defined (a 'steps:' mapping)")
    for key, step in steps_section.items():   # outputs first: a step may read a later one's
        if not isinstance(step, dict):
            ctx.fail(f"step {key} must be a mapping (type, script_name, inputs, outputs ...)")
        _declare_outputs(ctx, key, step.get("outputs") or {})
    default_compute = section.get("default_compute")
    return [_step(ctx, key, step, default_compute) for key, step in steps_section.items()], description


def _parameters(ctx: _Context, section: dict) -> dict:
    from ...core.datastore import Datastore
    from ...data.datapath import DataPath
    from .builder import PipelineParameter
    found = {}
    for name, spec in section.items():
        if not isinstance(spec, dict) or "type" not in spec:
            ctx.fail(f"Parameter {name} must specify a type of string, int, float, bool, or datapath")
        kind = spec["type"]
        if kind in _PARAM_TYPES:
            default = spec.get("default")
            if default is None and kind != "string":
                default = _PARAM_TYPES[kind]()
            elif default is not None:
                try:
                    default = _PARAM_TYPES[kind](default)
                except (TypeError, ValueError):
                    ctx.fail(f"parameter {name}: default {default!r} is not a {kind}")
        elif kind == "datapath":
            value = spec.get("default")
            if not isinstance(value, dict) or "datastore" not in value or "path_on_datastore" not in value:
                ctx.fail(f"Default value for datapath parameter {name} must specify datastore "
                         "and path_on_datastore")
            default = DataPath(Datastore(ctx.workspace, value["datastore"]),
                               value["path_on_datastore"], value.get("name"))
        else:
            ctx.fail(f"Parameter type {kind} currently unsupported (parameter {name}: use string, "
                     "int, float, bool or datapath)")
        found[name] = PipelineParameter(name, default if default is not None else "")
    return found


def _data_references(ctx: _Context, section: dict) -> dict:
    from ...core.dataset import Dataset
    from ...core.datastore import Datastore
    from ...data.data_reference import DataReference
    found = {}
    for name, spec in section.items():
        spec = spec if isinstance(spec, dict) else {}
        if "datastore" in spec and "path_on_datastore" in spec:
            found[name] = DataReference(Datastore(ctx.workspace, spec["datastore"]),
                                        data_reference_name=name,
                                        path_on_datastore=spec["path_on_datastore"])
        elif "datastore" in spec and any(k in spec for k in _SQL_KEYS):
            ctx.fail(f"data reference {name} is an SQL query (SqlDataReference), which runs in "
                     "Azure's data transfer service; read the table in a step with your own "
                     "database client instead")
        elif spec.get("dataset_name"):
            found[name] = Dataset.get_by_name(ctx.workspace, spec["dataset_name"])
        elif spec.get("dataset_id"):
            found[name] = Dataset.get_by_id(ctx.workspace, spec["dataset_id"])
        else:
            ctx.fail(f"Unrecognized data reference type for data reference {name}: give "
                     "datastore and path_on_datastore, or dataset_name / dataset_id")
    return found


def _mode(ctx: _Context, spec: dict, allowed: tuple[str, ...], what: str) -> str:
    mode = spec.get("bind_mode", spec.get("type", "mount"))
    if "type" in spec and "bind_mode" not in spec:
        module_logger.warning("%s yaml parameter type is being deprecated. Use bind_mode instead.",
                              what.split()[0].capitalize())
    if mode not in allowed:
        ctx.fail(f"{what}: bind_mode/type {mode} must be {' or '.join(allowed)}")
    return mode


def _declare_outputs(ctx: _Context, step_key: str, section: dict) -> None:
    from ...core.datastore import Datastore
    from .builder import PipelineData
    for output_name, spec in section.items():
        if not isinstance(spec, dict) or "destination" not in spec:
            ctx.fail(f"Output {output_name} for step {step_key} must have a destination assignment")
        destination = spec["destination"]
        if destination in ctx.pipeline_data:
            ctx.fail(f"output destination {destination} is written by two steps; give each "
                     "output its own destination")
        mode = _mode(ctx, spec, ("mount", "upload"), f"output {output_name} in step {step_key}")
        datastore = Datastore(ctx.workspace, spec["datastore"]) if spec.get("datastore") else None
        data = PipelineData(destination, datastore=datastore, output_name=output_name,
                            output_mode=mode, output_path_on_compute=spec.get("path_on_compute"),
                            output_overwrite=spec.get("overwrite"),
                            pipeline_output_name=spec.get("pipeline_output_name"))
        data._yaml_as_dataset = bool(spec.get("as_dataset", False))
        ctx.pipeline_data[destination] = data


def _inputs(ctx: _Context, step_key: str, section: dict) -> dict:
    """``{input name: step input}`` (a DataPath parameter binding, a data reference binding, a
    dataset consumption or an output binding)."""
    from ...data.data_reference import DataReference
    from ...data.datapath import DataPath, DataPathComputeBinding
    from ._inputs import PipelineDataset, _PipelineIO
    found = {}
    for name, spec in (section or {}).items():
        if not isinstance(spec, dict) or "source" not in spec:
            ctx.fail(f"Input {name} for step {step_key} must have a source assignment")
        source = spec["source"]
        mode = _mode(ctx, spec, ("mount", "download"), f"input {name} in step {step_key}")
        on_compute, overwrite = spec.get("path_on_compute"), spec.get("overwrite")
        param = ctx.parameters.get(source)
        if param is not None and isinstance(param.default_value, DataPath):
            binding = DataPathComputeBinding(mode, on_compute, bool(overwrite))
            found[name] = _PipelineIO(datapath_param=param, datapath_compute_binding=binding,
                                      name=name)
        elif isinstance(ctx.data_references.get(source), DataReference):
            found[name] = _dref_binding(ctx.data_references[source], name, mode, on_compute,
                                        overwrite)
        elif source in ctx.data_references:   # a registered dataset
            dataset = ctx.data_references[source]
            found[name] = PipelineDataset(dataset, name, mode, on_compute, bool(overwrite))
        elif source in ctx.pipeline_data:
            data = ctx.pipeline_data[source]
            if data._yaml_as_dataset:
                consumed = data.as_dataset().as_named_input(name)
                found[name] = (consumed.as_download(on_compute) if mode == "download"
                               else consumed.as_mount(on_compute))
            else:
                found[name] = data.create_input_binding(name, mode, on_compute, overwrite)
        else:
            known = sorted(set(ctx.parameters) | set(ctx.data_references) | set(ctx.pipeline_data))
            ctx.fail(f"input {name} of step {step_key} has source {source}, which is no "
                     f"parameter, data reference or step output (known: {', '.join(known) or 'none'})")
    return found


def _dref_binding(dref, name: str, mode: str, on_compute, overwrite):
    from .builder import InputPortBinding
    return InputPortBinding(dref, name, mode, on_compute, overwrite)


def _step_params(ctx: _Context, step_key: str, section: dict, what: str) -> dict:
    found = {}
    for name, value in (section or {}).items():
        if isinstance(value, dict) and "source" in value:
            if value["source"] not in ctx.parameters:
                ctx.fail(f"{what} {name} for step {step_key} is assigned to source "
                         f"{value['source']}, which doesn't exist")
            found[name] = ctx.parameters[value["source"]]
        else:
            found[name] = value
    return found


def _arguments(ctx: _Context, step_key: str, raw, inputs: dict, outputs: dict,
               side_inputs: dict, params: dict) -> list:
    if raw is None:
        return []
    if not isinstance(raw, list):
        ctx.fail(f"arguments of step {step_key} must be a list")
    resolved = []
    for arg in raw:
        text = arg if isinstance(arg, str) else None
        if text and text.startswith("input:") and text[6:] in inputs:
            resolved.append(inputs[text[6:]])
        elif text and text.startswith("side_input:") and text[11:] in side_inputs:
            resolved.append(str(side_inputs[text[11:]]))
        elif text and text.startswith("output:") and text[7:] in outputs:
            resolved.append(outputs[text[7:]])
        elif text and text.startswith("parameter:") and text[10:] in params:
            value = params[text[10:]]
            resolved.append(value if hasattr(value, "default_value") else str(value))
        else:
            resolved.append(arg if isinstance(arg, str) else str(arg))
    return resolved


def _step_type(ctx: _Context, key: str, step: dict) -> tuple[str, dict]:
    """``(type, section holding its keys)``; the deprecated ``python_script_step:`` sub-section
    form is read too."""
    kind = step.get("type")
    if kind is None:
        for legacy, name in _LEGACY_KEYS.items():
            if legacy in step:
                module_logger.warning("%s is being deprecated. Use type instead.", legacy)
                return name, step[legacy] or {}
        for name, legacy in _CLOUD_TYPES.items():
            if legacy in step:
                kind = name
        if kind is None:
            ctx.fail(f"step {key} has no type: add 'type: PythonScriptStep' (or ParallelRunStep)")
    if kind in _STEP_TYPES:
        return kind, step
    if kind in _CLOUD_TYPES:
        why = ("runs a module registered in Azure's pipeline service" if kind == "ModuleStep"
               else "runs in an Azure service amlocal does not have")
        ctx.fail(f"step {key} is a {kind}, which {why}; amlocal builds PythonScriptStep and "
                 "ParallelRunStep from YAML: describe the step as 'type: PythonScriptStep' with "
                 "script_name and source_directory")
    ctx.fail(f"step {key} has the unknown type {kind!r}; amlocal builds PythonScriptStep and "
             "ParallelRunStep from YAML")
    raise AssertionError  # unreachable


def _step(ctx: _Context, key: str, step: dict, default_compute):
    from ...core.runconfig import RunConfiguration
    kind, keys = _step_type(ctx, key, step)
    params = _step_params(ctx, key, step.get("parameters"), "Parameter")
    rc_params = _step_params(ctx, key, step.get("runconfig_parameters"), "Runconfig Parameter")
    compute = step.get("compute", default_compute)
    runconfig = None
    if step.get("runconfig"):
        runconfig = RunConfiguration.load(ctx.path(step["runconfig"], f"runconfig of step {key}"))
    inputs = _inputs(ctx, key, step.get("inputs") or {})
    side_inputs = _inputs(ctx, key, step.get("side_inputs") or {})
    outputs = {}
    for output_name, spec in (step.get("outputs") or {}).items():
        outputs[output_name] = ctx.pipeline_data[spec["destination"]]
    arguments = _arguments(ctx, key, step.get("arguments"), inputs, outputs, side_inputs, params)
    name = _string(ctx, keys, "name", key) or key
    allow_reuse = keys.get("allow_reuse", True)
    if not isinstance(allow_reuse, bool):
        ctx.fail(f"allow_reuse for step {key} must be a bool")
    if kind == "PythonScriptStep":
        from ..steps.python_script_step import PythonScriptStep
        script = _string(ctx, keys, "script_name", key)
        if not script:
            ctx.fail(f"step {key} (PythonScriptStep) has no script_name")
        source = _string(ctx, keys, "source_directory", key)
        out_list = [o.as_dataset() if o._yaml_as_dataset else o for o in outputs.values()]
        return PythonScriptStep(
            script, name=name, arguments=arguments, compute_target=compute, runconfig=runconfig,
            runconfig_pipeline_params=rc_params, inputs=list(inputs.values()), outputs=out_list,
            params=params, source_directory=ctx.path(source, f"source_directory of step {key}")
            if source else None, allow_reuse=allow_reuse, version=_string(ctx, keys, "version", key),
            hash_paths=keys.get("hash_paths"))
    return _parallel_run_step(ctx, key, step, name, inputs, side_inputs, outputs, arguments,
                              allow_reuse)


def _parallel_run_step(ctx: _Context, key: str, step: dict, name: str, inputs: dict,
                       side_inputs: dict, outputs: dict, arguments: list, allow_reuse: bool):
    from ...data.file_dataset import FileDataset
    from ...data.tabular_dataset import TabularDataset
    from ..steps.parallel_run_config import ParallelRunConfig
    from ..steps.parallel_run_step import ParallelRunStep
    if not step.get("parallel_run_config"):
        ctx.fail(f"step {key} (ParallelRunStep) needs parallel_run_config: a file written by "
                 "ParallelRunConfig.save_to_yaml")
    config = ParallelRunConfig.load_yaml(
        ctx.workspace, ctx.path(step["parallel_run_config"], f"parallel_run_config of step {key}"))
    for model_id in step.get("models_id") or []:   # looked up as Azure does (and not passed on)
        from ...core.model import Model
        Model(ctx.workspace, id=model_id)
    consumed = []
    for input_name, spec in (step.get("inputs") or {}).items():
        source = spec["source"]
        dataset = ctx.data_references.get(source)
        if isinstance(dataset, (FileDataset, TabularDataset)):
            consumed.append(dataset.as_named_input(input_name))
        elif source in ctx.pipeline_data:
            consumed.append(ctx.pipeline_data[source].as_dataset().as_named_input(input_name))
        else:
            ctx.fail(f"input {input_name} of ParallelRunStep {key} must be a dataset "
                     "(data_references: {dataset_name: ...}) or a step output; "
                     f"{source} is neither")
    output = next(iter(outputs.values()), None)
    return ParallelRunStep(name, config, consumed, output=output,
                           side_inputs=list(side_inputs.values()), arguments=arguments,
                           allow_reuse=allow_reuse)


def _string(ctx: _Context, section: dict, key: str, step_key: str) -> str | None:
    value = section.get(key)
    if value is not None and not isinstance(value, str):
        if isinstance(value, (int, float)) and key == "version":
            return str(value)
        ctx.fail(f"{key} for step {step_key} must be a string")
    return value
