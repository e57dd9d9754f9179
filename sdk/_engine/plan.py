"""Planning one step run on the host: its mounts, arguments, environment variables, outputs and
the components of its reuse key. Nothing runs here; the runner starts what this plans."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .outputs import (OUTPUTS_ROOT, OutputLocation, folder_digest, locate_output, require_output,
                  staging_dir, writes_in_place)

DATAREF = re.compile(r"\$AZUREML_DATAREFERENCE_(\w+)")
PARAMREF = re.compile(r"\$AML_PARAMETER_(\w+)")
DATASETREF = re.compile(r"DatasetConsumptionConfig:(\w+)")
OUTPUTREF = re.compile(r"DatasetOutputConfig:(\w+)")


@dataclass
class StepPlan:
    mounts: list = field(default_factory=list)
    env: dict = field(default_factory=dict)
    args: list = field(default_factory=list)
    bindings: list = field(default_factory=list)
    outputs: dict = field(default_factory=dict)     # name -> (graph output, location, staging)
    input_digests: dict = field(default_factory=dict)
    lineage: list = field(default_factory=list)
    notes: list = field(default_factory=list)       # warnings for the step's log

    def components(self, node: dict, environment_digest: str) -> dict:
        """What decides the step's result: the parts of its reuse key."""
        return {"environment": environment_digest, "source": node["snapshot"],
                "script": node["script_name"], "arguments": self.args,
                "parameters": {k: v for k, v in sorted(self.env.items())
                               if k.startswith("AML_PARAMETER_")},
                "inputs": dict(self.input_digests),
                "outputs": {o["name"]: [o["datastore"], o["path"], o.get("mode", "mount")]
                            for o, _, _ in self.outputs.values()},
                "sandbox": node.get("sandbox"), "version": node.get("version")}


def _table_input(plan: StepPlan, name: str, folder: str, inp: dict) -> str:
    """An output read as a TabularDataset (``read_delimited_files``): its folder is mounted; the
    step gets the dataset in direct mode, defined over that in-container folder."""
    from amlocal.datastores.paths import definition_id
    definition = {"schema_version": 1, "type": "TabularDataset",
                  "sources": [{"url": f"file://{folder}/{inp.get('glob') or '**/*'}"}],
                  "reader": inp["reader"], "partition_format": inp.get("partition_format"),
                  "transforms": []}
    dataset_id = definition_id(definition)
    plan.env[f"AMLOCAL_DATASET_DEFINITION_{name}"] = json.dumps(definition)
    plan.env[name] = dataset_id
    return dataset_id


def _with_datapath(entry: dict, params: dict) -> dict:
    """A datareference input or upload output with the DataPath submitted for its parameter."""
    value = params.get(entry.get("parameter") or "")
    if not (isinstance(value, dict) and value.get("kind") == "datapath"):
        return entry
    path = value.get("path_on_datastore")
    path = None if path in ("/", ".", "./") else path
    if "path_on_datastore" in entry:
        return {**entry, "datastore": value["datastore"], "path_on_datastore": path}
    return {**entry, "datastore": value["datastore"], "path": path or ""}


def _bind_data_reference(plan: StepPlan, inp: dict, values: dict, resolve_datastore,
                         staging: Path) -> None:
    """A DataReference, DataPath or PortDataReference input: the path bound like a FileDataset
    of it (a folder as a whole, a single file as that file). A path with no files only warns, as
    on Azure: the step gets an empty folder."""
    from amlocal.compute import Mount
    from amlocal.datastores.materialize import bind_input
    from amlocal.datastores.resolve import resolve_sources
    name, mode = inp["name"], inp["mode"]
    # a default DataReference name is a hex id, which may start with a digit: the folders of
    # the binding get a name that is valid everywhere; the placeholder keeps the real name
    label = name if re.match(r"^[A-Za-z_]", name) else f"_{name}"
    sources = [{"datastore": inp["datastore"], "path": inp.get("path_on_datastore") or ""}]
    definition = {"schema_version": 1, "type": "FileDataset", "sources": sources,
                  "partition_format": None, "is_file": False}
    where = f"{inp['datastore']}/{inp.get('path_on_datastore') or ''}"
    if not resolve_sources(sources, resolve_datastore).matches:
        empty = staging / f"{label}-empty"
        empty.mkdir(parents=True, exist_ok=True)
        target = _location(label, inp.get("path_on_compute"))
        plan.mounts.append(Mount(str(empty), target, read_only=True))
        plan.notes.append(f"warning: data reference '{name}' ({mode}) names '{where}', which "
                          "holds no file: the step gets an empty folder")
        values[name] = target
        plan.input_digests[name] = f"{where}:empty"
        return
    binding = bind_input(definition, label, mode, inp.get("path_on_compute"), resolve_datastore,
                         staging)
    plan.mounts.extend(binding.mounts)
    values[name] = binding.value
    plan.input_digests[name] = f"{where}:{binding.content_digest}"


def _location(name: str, path_on_compute: str | None) -> str:
    from amlocal.datastores.materialize import _location as location
    return location(name, path_on_compute)


def plan_step(node: dict, step, *, params: dict, outputs: dict[str, OutputLocation],
              datastore_info, resolve_datastore, work: Path) -> StepPlan:
    """Bind the step's inputs and outputs and resolve its arguments. Raises UserErrorException
    (unknown datastore, an input with no files, a path leaving its datastore)."""
    from amlocal.compute import Mount
    from amlocal.datastores.materialize import bind_input, env_for_inputs
    from ..data._transforms import select_files

    plan = StepPlan()
    values: dict[str, str] = {}
    for out in node["outputs"]:
        out = _with_datapath(out, params)
        location = locate_output(out, step.id, datastore_info)
        target = (_location(re.sub(r"^(\d)", r"_\1", out["name"]), out["path_on_compute"])
                  if out.get("kind") == "data_reference"
                  else f"{OUTPUTS_ROOT}/{out['name']}")
        if writes_in_place(out, location):
            Path(location.local).mkdir(parents=True, exist_ok=True)
            plan.mounts.append(Mount(location.local, target, read_only=False))
            staged = None
        else:
            staged = staging_dir(work, step.id, out["name"])
            plan.mounts.append(Mount(str(staged), target, read_only=False))
        plan.outputs[out["name"]] = (out, location, staged)
        values[out["name"]] = target

    staging = work / f"{step.id}-inputs"
    direct_tables: list[str] = []
    for inp in node["inputs"]:
        name = inp["name"]
        if inp["type"] == "output":
            location = require_output(outputs, inp["data"], node["name"])
            if location.local is not None:
                target = inp.get("path_on_compute") or f"/amlocal/inputs/{name}"
                plan.mounts.append(Mount(location.local, target, read_only=True))
                values[name] = target
                plan.input_digests[name] = location.digest or folder_digest(location.local)
            else:
                binding = bind_input(location.as_definition(), name,
                                     "download" if inp.get("mode") == "download" else "mount",
                                     inp.get("path_on_compute"), resolve_datastore, staging)
                plan.mounts.extend(binding.mounts)
                values[name] = binding.value
                plan.input_digests[name] = binding.content_digest
            if inp.get("reader"):
                values[name] = _table_input(plan, name, values[name], inp)
                direct_tables.append(name)
            continue
        if inp["type"] == "datareference":
            _bind_data_reference(plan, _with_datapath(inp, params), values, resolve_datastore,
                                 staging)
            continue
        definition, mode = inp["definition"], inp["mode"]
        parameter = params.get(inp.get("parameter") or "")
        if isinstance(parameter, dict) and parameter.get("kind") == "dataset":
            definition = parameter["definition"]   # the dataset submitted for the parameter
        binding = bind_input(definition, name, mode, inp.get("path_on_compute"),
                             resolve_datastore, staging, select_files=select_files)
        plan.bindings.append(binding)
        plan.mounts.extend(binding.mounts)
        plan.env.update(binding.env)
        if binding.mode == "direct":  # run.input_datasets rebuilds it over the bound files
            plan.env[f"AMLOCAL_DATASET_DEFINITION_{name}"] = binding.step_definition
        values[name] = binding.value
        plan.input_digests[name] = binding.content_digest or binding.dataset_id
        if inp.get("parameter"):  # another dataset with the same files is a change too
            plan.input_digests[name] = f"{binding.dataset_id}:{binding.content_digest}"
        if inp["type"] == "dataset":
            plan.lineage.append({"name": name, "mode": binding.mode, "dataset_id": binding.dataset_id,
                                 "registered": definition.get("registered"),
                                 "files": len(binding.files), "content_digest": binding.content_digest})
    if plan.bindings:
        plan.env.update(env_for_inputs(plan.bindings))
    if direct_tables:
        listed = [e for e in plan.env.get("AZUREML_DATASET_ENVIRONMENT_VARS", "").split(",") if e]
        plan.env["AZUREML_DATASET_ENVIRONMENT_VARS"] = ",".join(
            listed + [f"{n}:direct" for n in direct_tables])

    param_values = {re.sub(r"[~\W]", "_", k): v for k, v in params.items()}

    def substitute(text: str) -> str:
        for pattern in (DATAREF, DATASETREF, OUTPUTREF):
            text = pattern.sub(lambda m: values.get(m.group(1), m.group(0)), text)
        return PARAMREF.sub(lambda m: str(param_values.get(m.group(1), m.group(0))), text)

    plan.args = [substitute(a) for a in node["arguments"]]
    for name, value in values.items():
        plan.env[f"AZUREML_DATAREFERENCE_{name}"] = value
    output_datasets = [o["name"] for o in node["outputs"] if o.get("kind") == "output_dataset"]
    for name in output_datasets:
        plan.env[name] = values[name]
    if output_datasets:
        plan.env["AZUREML_DATASET_FILE_OUTPUTS"] = ";".join(output_datasets)
    for key, p in node["params"].items():
        value = params[p["parameter"]] if "parameter" in p else p["value"]
        plan.env["AML_PARAMETER_" + re.sub(r"[~\W]", "_", key)] = str(value)
    for arg in node["arguments"]:  # parameters used in arguments are the step's too (Azure)
        for name in PARAMREF.findall(arg):
            if name in param_values:
                plan.env.setdefault(f"AML_PARAMETER_{name}", str(param_values[name]))
    plan.env.update({str(k): str(v) for k, v in node.get("environment_variables", {}).items()})
    return plan
