"""Writing a frozen pipeline as Azure's pipeline YAML (``PublishedPipeline.save``,
``PipelineRun.save``), in the schema :mod:`._pipeline_yaml` reads back with ``Pipeline.load_yaml``.

Azure writes only pipelines made of ModuleSteps (a registered module per step). amlocal writes
pipelines made of PythonScriptSteps: each step as ``type: PythonScriptStep`` with its script,
its source directory (the folder it was snapshotted from: loading the YAML snapshots that folder
again, as it is then) and a run configuration file written beside the YAML
(``<yaml stem>.<step id>.runconfig``, its environment and environment variables). Steps and
inputs the schema cannot express (ParallelRunStep, ExecutePythonScriptStep, an
OutputFileDatasetConfig, an unregistered or parameterised dataset, an output read as a table,
an upload-mode data reference) raise UserErrorException naming them. ``pipeline_output_name``
on an output is an amlocal addition to the schema (Azure keeps it in its service graph).
"""
from __future__ import annotations

import os
import re

from ...errors import UserErrorException

DATAREF = re.compile(r"^\$AZUREML_DATAREFERENCE_(\w+)$")
PARAMREF = re.compile(r"^\$AML_PARAMETER_(\w+)$")


def save(graph: dict, path, default_file: str) -> str:
    """Write ``graph`` to ``path`` (a file, or a folder that gets ``default_file``; None is the
    current folder) with a runconfig file per step beside it; returns the YAML's path."""
    import yaml
    path = os.fspath(path) if path else os.getcwd()
    if os.path.isdir(path):
        path = os.path.join(path, default_file)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UserErrorException(f"cannot save the pipeline YAML to {path}: folder {folder} "
                                 "does not exist")
    stem = os.path.splitext(os.path.basename(path))[0]
    document, runconfigs = to_document(graph, stem)
    for file_name, runconfig in runconfigs.items():
        runconfig.save(os.path.join(folder, file_name))
    with open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump(document, handle, sort_keys=False, default_flow_style=False, width=10 ** 6)
    return path


def to_document(graph: dict, stem: str) -> tuple[dict, dict]:
    """``(YAML document, {runconfig file name: RunConfiguration})`` of a frozen graph."""
    names = {re.sub(r"[~\W]", "_", n): n for n in graph.get("parameters", {})}
    parameters = {name: _parameter(name, value) for name, value in graph.get("parameters", {}).items()}
    data_references: dict = {}
    steps: dict = {}
    promoted = {v["node"] + "/" + v["output"]: k for k, v in (graph.get("pipeline_outputs") or {}).items()}
    runconfigs = {}
    for node in graph["steps"]:
        _check_kind(node)
        step: dict = {"type": "PythonScriptStep", "name": node["name"],
                      "script_name": node["script_name"],
                      "source_directory": node["source_directory"],
                      "compute": node["compute"]["name"]}
        runconfig_file = f"{stem}.{node['id']}.runconfig"
        runconfigs[runconfig_file] = _runconfig(node)
        step["runconfig"] = runconfig_file
        step["allow_reuse"] = bool(node.get("allow_reuse", True))
        if node.get("version") is not None:
            step["version"] = str(node["version"])
        params = {key: ({"source": p["parameter"]} if "parameter" in p else p["value"])
                  for key, p in node.get("params", {}).items()}
        inputs = {}
        for entry in node["inputs"]:
            inputs[entry["name"]] = _input(node, entry, data_references)
        outputs = {}
        for out in node["outputs"]:
            if out.get("kind") != "pipeline_data":
                what = ("an OutputFileDatasetConfig" if out.get("kind") == "output_dataset"
                        else "an upload-mode data reference")
                raise UserErrorException(
                    f"step '{node['name']}': output '{out['name']}' is {what}, which the pipeline "
                    "YAML schema cannot express; only PipelineData outputs can be saved")
            spec = {"destination": out["name"], "datastore": out["datastore"],
                    "bind_mode": out.get("mode", "mount")}
            if f"{node['id']}/{out['name']}" in promoted:
                spec["pipeline_output_name"] = promoted[f"{node['id']}/{out['name']}"]
            outputs[out["name"]] = spec
        arguments = []
        for arg in node["arguments"]:
            data, param = DATAREF.match(arg), PARAMREF.match(arg)
            if data:
                arguments.append(("input:" if data.group(1) in inputs else "output:") + data.group(1))
            elif param and param.group(1) in names:
                original = names[param.group(1)]
                key = next((k for k, v in params.items()
                            if isinstance(v, dict) and v.get("source") == original), original)
                params.setdefault(key, {"source": original})
                arguments.append(f"parameter:{key}")
            else:
                arguments.append(arg)
        if arguments:
            step["arguments"] = arguments
        if params:
            step["parameters"] = params
        if inputs:
            step["inputs"] = inputs
        if outputs:
            step["outputs"] = outputs
        key = node["name"] if node["name"] not in steps else node["id"]
        steps[key] = step
    pipeline: dict = {}
    if graph.get("description"):
        pipeline["description"] = graph["description"]
    if parameters:
        pipeline["parameters"] = parameters
    if data_references:
        pipeline["data_references"] = data_references
    pipeline["steps"] = steps
    return {"pipeline": pipeline}, runconfigs


def _check_kind(node: dict) -> None:
    from ..steps.parallel_run_step import LAUNCHER
    kind = None
    if node["script_name"] == LAUNCHER:
        kind = "a ParallelRunStep"
    elif node.get("sandbox") is not None:
        kind = "a sandboxed step (ExecutePythonScriptStep or runconfig.docker.sandbox)"
    elif node.get("kind") == "data_transfer":
        kind = "a DataTransferStep"
    if kind:
        raise UserErrorException(
            f"step '{node['name']}' is {kind}, which the pipeline YAML cannot express: amlocal "
            "saves pipelines of PythonScriptSteps (Azure saves only ModuleSteps); keep this "
            "pipeline in Python or use its published id")


def _parameter(name: str, value) -> dict:
    if isinstance(value, dict):
        if value.get("kind") == "datapath":
            return {"type": "datapath", "default": {"datastore": value["datastore"],
                                                    "path_on_datastore": value["path_on_datastore"]}}
        raise UserErrorException(
            f"pipeline parameter '{name}' has a dataset default, which the pipeline YAML schema "
            "cannot express (its parameters are string, int, float, bool and datapath)")
    kind = ("bool" if isinstance(value, bool) else "int" if isinstance(value, int)
            else "float" if isinstance(value, float) else "string")
    return {"type": kind, "default": value}


def _input(node: dict, entry: dict, data_references: dict) -> dict:
    where = f"step '{node['name']}': input '{entry['name']}'"
    spec: dict
    if entry["type"] == "output":
        if entry.get("reader"):
            raise UserErrorException(f"{where} reads a step output as a table, which the pipeline "
                                     "YAML schema cannot express")
        spec = {"source": entry["data"], "bind_mode": entry.get("mode") or "mount"}
    elif entry["type"] == "datareference" and entry.get("parameter"):
        spec = {"source": entry["parameter"], "bind_mode": entry["mode"]}
    elif entry["type"] == "datareference":
        ref = {"datastore": entry["datastore"], "path_on_datastore": entry.get("path_on_datastore") or ""}
        spec = {"source": _reference_name(data_references, entry["name"], ref),
                "bind_mode": entry["mode"]}
    else:
        registered = (entry.get("definition") or {}).get("registered")
        if entry.get("parameter") or not registered:
            raise UserErrorException(
                f"{where} is {'a dataset parameter' if entry.get('parameter') else 'an unregistered dataset'}, "
                "which the pipeline YAML schema cannot express: register the dataset "
                "(dataset.register(ws, name)) and use it by name")
        spec = {"source": _reference_name(data_references, entry["name"],
                                          {"dataset_name": registered["name"]}),
                "bind_mode": "download" if entry.get("mode") == "download" else "mount"}
    if entry.get("path_on_compute"):
        spec["path_on_compute"] = entry["path_on_compute"]
    if entry.get("overwrite"):
        spec["overwrite"] = True
    return spec


def _reference_name(data_references: dict, name: str, ref: dict) -> str:
    """The data_references key for ``ref``: ``name``, or ``name_2`` ... when taken by another."""
    key, n = name, 2
    while key in data_references and data_references[key] != ref:
        key, n = f"{name}_{n}", n + 1
    data_references[key] = ref
    return key


def _runconfig(node: dict):
    """A RunConfiguration holding the node's environment and environment variables."""
    from ...core.conda_dependencies import CondaDependencies
    from ...core.environment import Environment
    from ...core.runconfig import RunConfiguration
    spec = node.get("environment") or {}
    env = Environment(node.get("environment_name") or spec.get("name") or "default")
    if spec.get("user_managed"):
        env.python.user_managed_dependencies = True
        env.python.interpreter_path = spec.get("interpreter_path") or "python"
    else:
        cd = CondaDependencies.create(pip_packages=list(spec.get("pip_packages") or []),
                                      conda_packages=list(spec.get("conda_packages") or []))
        if spec.get("python_version"):
            cd.set_python_version(spec["python_version"])
        for channel in spec.get("conda_channels") or []:
            cd.add_channel(channel)
        for option in spec.get("pip_options") or []:
            cd.set_pip_option(option)
        env.python.conda_dependencies = cd
    if spec.get("base_image"):
        env.docker.base_image = spec["base_image"]
    env.environment_variables = dict(spec.get("environment_variables") or {})
    rc = RunConfiguration()
    rc.environment = env
    rc.environment_variables = dict(node.get("environment_variables") or {})
    return rc
