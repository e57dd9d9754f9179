"""Freezing a Pipeline into plain data: validation, snapshots, environments, placeholders.

The frozen graph is what a PipelineRun executes and what a PublishedPipeline keeps: JSON only
(script names, snapshot digests, environment specs, argument strings with Azure's placeholders),
so that a published id keeps running exactly what it was published with.
"""
from __future__ import annotations

import re
from pathlib import Path

from ...errors import UserErrorException, ValidationError
from ._freeze_io import (argument_string, config_references, data_requirements, freeze_input,
                         is_data_input, parameter_default, with_packages)
from .builder import InputPortBinding, PipelineData, PipelineParameter

GRAPH_FORMAT = 1
DATAREF = "$AZUREML_DATAREFERENCE_"


def step_closure(steps: list) -> list:
    """The steps plus every upstream step they need (producers of their inputs, run_after),
    as Azure's ``resolve_closure=True`` does."""
    ordered, seen = [], set()

    def visit(step):
        if id(step) in seen:
            return
        seen.add(id(step))
        ordered.append(step)
        for inp in getattr(step, "_data_inputs", lambda: [])():
            data = inp.bind_object if isinstance(inp, InputPortBinding) else getattr(inp, "dataset", inp)
            if getattr(data, "_producer", None) is not None:
                visit(data._producer)
        for other in getattr(step, "_run_after", []):
            visit(other)

    for s in steps:
        visit(s)
    return ordered


def _arg_string(arg, params: dict) -> str:
    data = argument_string(arg)
    if data is not None:
        return data
    if isinstance(arg, PipelineParameter):
        params[arg.name] = parameter_default(arg)
        return f"${arg.env_name}"
    if isinstance(arg, (PipelineData, InputPortBinding)):
        name = arg.input_name if isinstance(arg, InputPortBinding) else arg.name
        return f"{DATAREF}{name}"
    if hasattr(arg, "arg_val"):
        return arg.arg_val
    if isinstance(arg, str) and arg.startswith("parameter:"):
        return "$AML_PARAMETER_" + re.sub(r"[~\W]", "_", arg[len("parameter:"):])
    if hasattr(arg, "_to_definition") or type(arg).__name__ in ("FileDataset", "TabularDataset"):
        raise UserErrorException(
            "a dataset in arguments must say how the step gets it: use dataset.as_mount(), "
            "dataset.as_download() or dataset.as_named_input('name')")
    return str(arg)


def _is_output_config(obj) -> bool:
    return hasattr(obj, "_destination_names") and hasattr(obj, "as_input")


def _default_datastore(pipeline) -> str:
    store = pipeline._default_datastore
    if store is None:
        return pipeline._workspace._refresh().default_datastore
    return store if isinstance(store, str) else store.name


def _topological(nodes: list[dict]) -> list[str] | None:
    """Node ids in dependency order, or None when there is a cycle."""
    deps = {n["id"]: set(n["depends_on"]) for n in nodes}
    order: list[str] = []
    ready = [i for i, d in deps.items() if not d]
    while ready:
        current = ready.pop(0)
        order.append(current)
        for other, d in deps.items():
            if current in d:
                d.discard(current)
                if not d and other not in order and other not in ready:
                    ready.append(other)
    return order if len(order) == len(deps) else None


def _sandbox(step, runconfig, target_kind: str, errors: list[str]) -> dict | None:
    """The node's ``sandbox``: the step's own dict (limits from its run configuration filled
    in), else what ``runconfig.docker`` asks for, else None. A sandbox on a ``local`` target is
    an error (a process cannot be sandboxed there)."""
    docker = getattr(runconfig, "docker", None)
    own = getattr(step, "sandbox", None)
    try:
        if own is not None:
            limits = docker._limits() if docker is not None else {}
            sandbox = {"network": False, **limits, **dict(own)}
            sandbox["network"] = bool(sandbox["network"])
        else:
            sandbox = docker._sandbox_spec() if docker is not None else None
    except UserErrorException as exc:
        errors.append(f"step '{step.name}': {exc}")
        return None
    if sandbox is not None and target_kind == "local":
        errors.append(f"step '{step.name}' is sandboxed (no network, read-only filesystem, "
                      "non-root user), which a 'local' compute target cannot enforce: run it on "
                      "a docker target (e.g. compute_target='cpu-cluster')"
                      + ("" if own is not None else
                         ", or turn the sandbox off (runconfig.docker.sandbox = False)"))
    return sandbox


def freeze(pipeline, *, take_snapshots: bool = True) -> tuple[dict, list[str]]:
    """Return (graph, errors). With ``take_snapshots`` the sources are stored (only when there
    are no errors, so nothing is stored for an invalid pipeline)."""
    from ...core.compute.compute import resolve_target
    from ...core.runconfig import RunConfiguration
    from ... import _settings
    from ..._engine.snapshot import take_snapshot

    errors: list[str] = []
    web_outputs = [s for s in pipeline._steps if getattr(s, "_is_web_service_output", False)]
    listed = [s for s in pipeline._steps if not getattr(s, "_is_web_service_output", False)]
    listed += [o.producer for o in web_outputs if all(o.producer is not s for s in listed)]
    steps = step_closure(listed) if pipeline._resolve_closure else listed
    web_inputs: dict[str, dict] = {}
    ids: dict[int, str] = {}
    for step in steps:
        base = re.sub(r"[^\w.\-]", "_", step.name)
        node_id, n = base, 2
        while node_id in ids.values():
            node_id, n = f"{base}_{n}", n + 1
        ids[id(step)] = node_id

    producers: dict[str, str] = {}
    for step in steps:
        for out in step.outputs:
            if isinstance(out, PipelineData) or _is_output_config(out):
                if out.name in producers:
                    errors.append(f"output '{out.name}' is an output of two steps "
                                  f"('{producers[out.name]}' and '{step.name}'); give each output its own name")
                producers[out.name] = ids[id(step)]

    default_store = _default_datastore(pipeline)
    nodes, parameters = [], {}
    pipeline_outputs: dict[str, dict] = {}   # PipelineData(pipeline_output_name=...)
    for step in steps:
        source = step._source_dir(pipeline._default_source_directory)
        if not source.is_dir():
            errors.append(f"step '{step.name}': source_directory '{source}' does not exist; create it "
                          "or pass the folder that holds the script")
        elif not (source / step.script_name).is_file():
            errors.append(f"step '{step.name}': script '{step.script_name}' was not found in "
                          f"source_directory '{source}'; check script_name and source_directory")
        runconfig = step.runconfig or RunConfiguration()
        try:
            target_name, target_kind = resolve_target(pipeline._workspace, step.compute_target
                                                      or getattr(runconfig, "target", None))
        except UserErrorException as exc:
            errors.append(f"step '{step.name}': {exc}")
            target_name, target_kind = "?", "docker"
        params: dict = {}
        arguments = []
        try:
            arguments = [_arg_string(a, params) for a in step.arguments]
        except UserErrorException as exc:
            errors.append(f"step '{step.name}': {exc}")
        step_params = {}
        for key, value in step.params.items():
            if isinstance(value, PipelineParameter):
                params[value.name] = parameter_default(value)
                step_params[key] = {"parameter": value.name}
            else:
                step_params[key] = {"value": value}
        inputs, depends, data_outputs = [], set(), []
        for inp in step.inputs:
            if is_data_input(inp):
                try:
                    entry, out_entry = freeze_input(inp, params)
                except UserErrorException as exc:
                    errors.append(f"step '{step.name}': {exc}")
                    continue
                if entry is not None:
                    inputs.append(entry)
                else:
                    data_outputs.append(out_entry)
                continue
            if isinstance(inp, (PipelineData, InputPortBinding)):
                data = inp.bind_object if isinstance(inp, InputPortBinding) else inp
                name = inp.input_name if isinstance(inp, InputPortBinding) else inp.name
                mode = inp.bind_mode if isinstance(inp, InputPortBinding) else "mount"
                data_name = data.name
            elif _is_output_config(getattr(inp, "dataset", None)):
                name, mode, data_name = inp.name, inp.mode, inp.dataset.name
                reader = getattr(inp.dataset, "_reader", None)
                if reader:  # read_delimited_files(): the folder, read as a TabularDataset
                    inputs.append({"name": name, "type": "output", "data": data_name,
                                   "mode": "direct", "path_on_compute": None, "reader": reader,
                                   "glob": inp.dataset._path_glob,
                                   "partition_format": inp.dataset._partition_format})
                    if data_name in producers:
                        depends.add(producers[data_name])
                    else:
                        errors.append(f"step '{step.name}': input '{data_name}' is not produced "
                                      "by any step; add it to outputs= of the step that writes it")
                    continue
            elif hasattr(inp, "dataset") and hasattr(inp, "arg_val"):
                web = getattr(inp, "_web_service_input", None)
                if web is not None:
                    if web.name in web_inputs:
                        errors.append(f"WebServiceInput '{web.name}' feeds two ports; give each "
                                      "port its own WebServiceInput with its own name")
                    web_inputs[web.name] = {"node": ids[id(step)], "port": inp.name,
                                            "schema": web.schema}
                inputs.append({"name": inp.name, "type": "dataset", "mode": inp.mode,
                               "path_on_compute": inp.path_on_compute,
                               "definition": inp.dataset._to_definition()})
                continue
            else:
                errors.append(f"step '{step.name}': unsupported input {inp!r}; use PipelineData, "
                              "an output's as_input(), or dataset.as_mount()/as_download()/"
                              "as_named_input()")
                continue
            if data_name not in producers:
                errors.append(f"step '{step.name}': input '{data_name}' is not produced by any "
                              "step; add it to outputs= of the step that writes it")
            else:
                depends.add(producers[data_name])
            entry = {"name": name, "type": "output", "data": data_name, "mode": mode,
                     "path_on_compute": getattr(inp, "path_on_compute", None)}
            table = getattr(inp, "_reader", None)  # a PipelineData read as a TabularDataset
            if table:
                entry.update(mode="direct", path_on_compute=None, reader=table["reader"],
                             glob=table["glob"], partition_format=table["partition_format"])
            inputs.append(entry)
        try:  # run_config.data_references (ScriptRunConfig's way; inputs of the same name win)
            taken = {e["name"] for e in inputs + data_outputs}
            for entry, out_entry in config_references(getattr(runconfig, "data_references", None)):
                if entry is not None and entry["name"] not in taken:
                    inputs.append(entry)
                elif out_entry is not None and out_entry["name"] not in taken:
                    data_outputs.append(out_entry)
        except UserErrorException as exc:
            errors.append(f"step '{step.name}': {exc}")
        outputs = []
        for out in step.outputs:
            if isinstance(out, PipelineData):
                outputs.append({"name": out.name, "kind": "pipeline_data",
                                "datastore": out.datastore_name or default_store,
                                "path": "azureml/{run-id}/{output-name}", "mode": out.output_mode,
                                "registration": out._registration})
                if out.pipeline_output_name is not None:
                    if out.pipeline_output_name in pipeline_outputs:
                        errors.append(f"Duplicate pipeline output with name "
                                      f"{out.pipeline_output_name}: give each PipelineData its own "
                                      "pipeline_output_name")
                    pipeline_outputs[out.pipeline_output_name] = {"node": ids[id(step)],
                                                                  "output": out.name}
            elif _is_output_config(out):
                d = out._to_definition()
                outputs.append({"name": out.name, "kind": "output_dataset",
                                "datastore": d["destination"]["datastore"],
                                "path": d["destination"]["path"], "mode": d["mode"],
                                "overwrite": d["upload_options"].get("overwrite", False),
                                "source_globs": d["upload_options"].get("source_globs"),
                                "registration": d["registration"]})
            else:
                errors.append(f"step '{step.name}': unsupported output {out!r}; use PipelineData "
                              "or OutputFileDatasetConfig")
        outputs += data_outputs
        for name, default in params.items():
            if name in parameters and parameters[name] != default:
                errors.append(f"Graph already has pipeline parameter with same name '{name}' but "
                              f"another default ({parameters[name]!r} and {default!r}); use one "
                              "PipelineParameter object")
            parameters[name] = default
        for other in step._run_after:
            depends.add(ids.get(id(other), other.name))

        sandbox = _sandbox(step, runconfig, target_kind, errors)
        env = runconfig.environment
        try:
            env_spec = env._to_spec().to_dict()
        except UserErrorException as exc:
            errors.append(f"step '{step.name}': {exc}")
            env_spec = {}
        # what reading its datasets needs (pandas, pyarrow, a protocol's fsspec package), added
        # to this node's copy of the spec: the registered environment is not changed
        try:
            env_spec = with_packages(env_spec, data_requirements(inputs))
        except UserErrorException as exc:
            errors.append(f"step '{step.name}': {exc}")
        nodes.append({
            "id": ids[id(step)], "name": step.name, "kind": "python_script",
            "script_name": step.script_name, "source_directory": str(source), "snapshot": None,
            "arguments": arguments, "params": step_params, "inputs": inputs, "outputs": outputs,
            "environment": env_spec, "environment_name": env.name,
            "environment_variables": dict(getattr(runconfig, "environment_variables", {}) or {}),
            "compute": {"name": target_name, "kind": target_kind},
            "sandbox": sandbox,
            "allow_reuse": bool(step.allow_reuse), "version": step.version,
            "depends_on": sorted(depends), "_source": step,
        })

    order = _topological(nodes)
    if order is None:
        errors.append("the steps form a cycle (through their inputs or run_after); remove one edge")
    if not steps:
        errors.append("the pipeline has no steps")

    snapshots = _settings.current().snapshots
    for node in nodes:
        node.pop("_source")
        if take_snapshots and not errors:
            node["snapshot"] = take_snapshot(Path(node["source_directory"]), snapshots)
    if order:
        nodes.sort(key=lambda n: order.index(n["id"]))
    graph = {"format": GRAPH_FORMAT, "description": pipeline._description,
             "parameters": parameters, "steps": nodes}
    if pipeline_outputs:
        graph["pipeline_outputs"] = pipeline_outputs
    if web_inputs or web_outputs:
        graph["webservice"] = {"inputs": web_inputs,
                               "outputs": _web_outputs(web_outputs, ids, errors)}
    return graph, errors


def _web_outputs(web_outputs: list, ids: dict, errors: list[str]) -> dict:
    """``{name: {"node": id, "data": output name}}`` of the pipeline's WebServiceOutputs."""
    found: dict[str, dict] = {}
    for out in web_outputs:
        if out.name in found:
            errors.append(f"two WebServiceOutputs are named '{out.name}'; give each its own name")
        elif id(out.producer) not in ids:
            errors.append(f"WebServiceOutput '{out.name}': its source's step is not part of the "
                          "pipeline; list the step in steps= or keep resolve_closure=True")
        else:
            found[out.name] = {"node": ids[id(out.producer)], "data": out.source.name}
    return found


def freeze_or_raise(pipeline) -> dict:
    graph, errors = freeze(pipeline)
    if errors:
        raise ValidationError(errors)
    return graph
