"""Planning one step on the host: the ONE place that builds what a step gets (its mounts,
arguments, environment variables, outputs, the components of its reuse key) and the StepSpec a
backend starts. The runner, a rerun (and ``--shell``) and the warm workers of a pipeline web
service all plan through here. Nothing runs here."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from .graph import InputType, Node, NodeInput, OutputKind
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

    def components(self, node: Node, environment_digest: str) -> dict:
        """What decides the step's result: the parts of its reuse key."""
        return {"environment": environment_digest, "source": node.snapshot,
                "script": node.script_name, "arguments": self.args,
                "parameters": {k: v for k, v in sorted(self.env.items())
                               if k.startswith("AML_PARAMETER_")},
                "inputs": dict(self.input_digests),
                "outputs": {o.name: [o.datastore, o.path, o.mode]
                            for o, _, _ in self.outputs.values()},
                "sandbox": node.sandbox, "version": node.version}


def _table_input(plan: StepPlan, name: str, folder: str, inp: NodeInput) -> str:
    """An output read as a TabularDataset (``read_delimited_files``): its folder is mounted; the
    step gets the dataset in direct mode, defined over that in-container folder."""
    from amlocal.datastores.paths import definition_id
    definition = {"schema_version": 1, "type": "TabularDataset",
                  "sources": [{"url": f"file://{folder}/{inp.glob or '**/*'}"}],
                  "reader": inp.reader, "partition_format": inp.partition_format,
                  "transforms": []}
    dataset_id = definition_id(definition)
    plan.env[f"AMLOCAL_DATASET_DEFINITION_{name}"] = json.dumps(definition)
    plan.env[name] = dataset_id
    return dataset_id


def _with_datapath(entry, params: dict):
    """A datareference input or upload output with the DataPath submitted for its parameter."""
    value = params.get(entry.parameter or "")
    if not (isinstance(value, dict) and value.get("kind") == "datapath"):
        return entry
    path = value.get("path_on_datastore")
    path = None if path in ("/", ".", "./") else path
    if isinstance(entry, NodeInput):
        return replace(entry, datastore=value["datastore"], path_on_datastore=path)
    return replace(entry, datastore=value["datastore"], path=path or "")


def _is_sql(datastore_info, name: str | None) -> bool:
    from amlocal.datastores.sql import is_sql
    return is_sql(getattr(datastore_info(name), "kind", None))


def _bind_data_reference(plan: StepPlan, inp: NodeInput, values: dict, resolve_datastore,
                         staging: Path, datastore_info=None) -> None:
    """A DataReference, DataPath or PortDataReference input: the path bound like a FileDataset
    of it (a folder as a whole, a single file as that file). A path with no files only warns, as
    on Azure: the step gets an empty folder. On a SQL datastore the path is a query, run here:
    the step gets the rows as ``query.parquet`` (amlocal.datastores.sql_input)."""
    from amlocal.compute import Mount
    from amlocal.datastores.materialize import bind_input
    from amlocal.datastores.resolve import resolve_sources
    name, mode = inp.name, inp.mode
    # a default DataReference name is a hex id, which may start with a digit: the folders of
    # the binding get a name that is valid everywhere; the placeholder keeps the real name
    label = name if re.match(r"^[A-Za-z_]", name) else f"_{name}"
    if datastore_info is not None and _is_sql(datastore_info, inp.datastore):
        # a SQL datastore: the path is a query, run here; the step gets its rows as Parquet
        from amlocal.datastores.sql_input import bind_query_reference
        mount, values[name], digest = bind_query_reference(
            datastore_info, inp.datastore, inp.path_on_datastore, label,
            _location(label, inp.path_on_compute), staging)
        plan.mounts.append(mount)
        plan.input_digests[name] = digest
        return
    sources = [{"datastore": inp.datastore, "path": inp.path_on_datastore or ""}]
    definition = {"schema_version": 1, "type": "FileDataset", "sources": sources,
                  "partition_format": None, "is_file": False}
    where = f"{inp.datastore}/{inp.path_on_datastore or ''}"
    if not resolve_sources(sources, resolve_datastore).matches:
        empty = staging / f"{label}-empty"
        empty.mkdir(parents=True, exist_ok=True)
        target = _location(label, inp.path_on_compute)
        plan.mounts.append(Mount(str(empty), target, read_only=True))
        plan.notes.append(f"warning: data reference '{name}' ({mode}) names '{where}', which "
                          "holds no file: the step gets an empty folder")
        values[name] = target
        plan.input_digests[name] = f"{where}:empty"
        return
    binding = bind_input(definition, label, mode, inp.path_on_compute, resolve_datastore,
                         staging)
    plan.mounts.extend(binding.mounts)
    values[name] = binding.value
    plan.input_digests[name] = f"{where}:{binding.content_digest}"


def _location(name: str, path_on_compute: str | None) -> str:
    from amlocal.datastores.materialize import _location as location
    return location(name, path_on_compute)


def plan_step(node: Node, step_id: str, *, params: dict, outputs: dict[str, OutputLocation],
              datastore_info, resolve_datastore, work: Path, with_outputs: bool = True) -> StepPlan:
    """Bind the step's inputs and outputs and resolve its arguments. Raises UserErrorException
    (unknown datastore, an input with no files, a path leaving its datastore). Without
    ``with_outputs`` the node's outputs are left out (a served step returns its result)."""
    from amlocal.compute import Mount
    from amlocal.datastores.materialize import bind_input, env_for_inputs
    from amlocal.datastores.sql_input import is_query_definition
    from amlocal.datastores.transforms import select_files

    plan = StepPlan()
    values: dict[str, str] = {}
    for out in node.outputs if with_outputs else ():
        out = _with_datapath(out, params)
        location = locate_output(out, step_id, datastore_info)
        target = (_location(re.sub(r"^(\d)", r"_\1", out.name), out.path_on_compute)
                  if out.kind is OutputKind.DATA_REFERENCE
                  else f"{OUTPUTS_ROOT}/{out.name}")
        if writes_in_place(out, location):
            Path(location.local).mkdir(parents=True, exist_ok=True)
            plan.mounts.append(Mount(location.local, target, read_only=False))
            staged = None
        else:
            staged = staging_dir(work, step_id, out.name)
            plan.mounts.append(Mount(str(staged), target, read_only=False))
        plan.outputs[out.name] = (out, location, staged)
        values[out.name] = target

    staging = work / f"{step_id}-inputs"
    direct_tables: list[str] = []
    for inp in node.inputs:
        name = inp.name
        if inp.type is InputType.OUTPUT:
            location = require_output(outputs, inp.data, node.name)
            if location.local is not None:
                target = inp.path_on_compute or f"/amlocal/inputs/{name}"
                plan.mounts.append(Mount(location.local, target, read_only=True))
                values[name] = target
                plan.input_digests[name] = location.digest or folder_digest(location.local)
            else:
                binding = bind_input(location.as_definition(), name,
                                     "download" if inp.mode == "download" else "mount",
                                     inp.path_on_compute, resolve_datastore, staging)
                plan.mounts.extend(binding.mounts)
                values[name] = binding.value
                plan.input_digests[name] = binding.content_digest
            if inp.reader:
                values[name] = _table_input(plan, name, values[name], inp)
                direct_tables.append(name)
            continue
        if inp.type is InputType.DATAREFERENCE:
            _bind_data_reference(plan, _with_datapath(inp, params), values, resolve_datastore,
                                 staging, datastore_info)
            continue
        definition, mode = inp.definition, inp.mode
        parameter = params.get(inp.parameter or "")
        if isinstance(parameter, dict) and parameter.get("kind") == "dataset":
            definition = parameter["definition"]   # the dataset submitted for the parameter
        if is_query_definition(definition):   # a SQL query: run here, rows bound as Parquet
            from amlocal.datastores.sql_input import bind_query_input
            binding = bind_query_input(definition, name, mode, datastore_info, staging)
        else:
            binding = bind_input(definition, name, mode, inp.path_on_compute,
                                 resolve_datastore, staging, select_files=select_files)
        plan.bindings.append(binding)
        plan.mounts.extend(binding.mounts)
        plan.env.update(binding.env)
        if binding.mode == "direct":  # run.input_datasets rebuilds it over the bound files
            plan.env[f"AMLOCAL_DATASET_DEFINITION_{name}"] = binding.step_definition
        values[name] = binding.value
        plan.input_digests[name] = binding.content_digest or binding.dataset_id
        if inp.parameter:  # another dataset with the same files is a change too
            plan.input_digests[name] = f"{binding.dataset_id}:{binding.content_digest}"
        if inp.type is InputType.DATASET:
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

    plan.args = [substitute(a) for a in node.arguments]
    for name, value in values.items():
        plan.env[f"AZUREML_DATAREFERENCE_{name}"] = value
    output_datasets = [o.name for o in node.outputs
                       if with_outputs and o.kind is OutputKind.OUTPUT_DATASET]
    for name in output_datasets:
        plan.env[name] = values[name]
    if output_datasets:
        plan.env["AZUREML_DATASET_FILE_OUTPUTS"] = ";".join(output_datasets)
    for key, p in node.params.items():
        value = params[p.parameter] if p.parameter is not None else p.value
        plan.env["AML_PARAMETER_" + re.sub(r"[~\W]", "_", key)] = str(value)
    for arg in node.arguments:  # parameters used in arguments are the step's too (Azure)
        for name in PARAMREF.findall(arg):
            if name in param_values:
                plan.env.setdefault(f"AML_PARAMETER_{name}", str(param_values[name]))
    plan.env.update({str(k): str(v) for k, v in node.environment_variables.items()})
    return plan


# -- the StepSpec a backend starts ----------------------------------------------------------
RUNTIME_PATH = "{runtime}:{runtime}/amlocal/_runtime/shim"


def step_spec(*, run_id: str, step_name: str, workdir: Path, runtime: Path, command, env: dict,
              labels: dict, mounts=(), service_dir: Path | None = None,
              sandbox: dict | None = None, resources: dict | None = None, node_count: int = 1):
    """The StepSpec of a step: the amlocal runtime mounted read-only (first on PYTHONPATH), the
    service folder (the run service's or a worker's socket) when there is one, then the step's
    own mounts; ``env`` on top of what every step gets. ``resources`` / ``node_count``: what
    the step asks of a cluster (``Node.resources``, ``Node.node_count_for(params)``)."""
    from amlocal.compute import RUNTIME_DIR, SERVICE_DIR, Mount, StepSpec
    all_mounts = [Mount(str(runtime), f"{RUNTIME_DIR}/amlocal")]
    if service_dir is not None:
        all_mounts.append(Mount(str(service_dir), SERVICE_DIR, read_only=False))
    return StepSpec(run_id=run_id, step_name=step_name, command=tuple(command),
                    working_dir=str(workdir), mounts=(*all_mounts, *mounts),
                    env={**env, "PYTHONPATH": RUNTIME_PATH.format(runtime=RUNTIME_DIR),
                         "PYTHONUNBUFFERED": "1"},
                    labels=dict(labels), sandbox=sandbox,
                    resources=dict(resources) if resources else None, node_count=int(node_count))


def script_command(node: Node, plan: StepPlan) -> tuple[str, ...]:
    """A step's command: the runtime's entry runs the node's script with its arguments."""
    return ("python", "-m", "amlocal._runtime.entry", node.script_name, *plan.args)


def run_identity(workspace, *, run_id: str, experiment: str, root_run_id: str,
                 token: str, service: tuple[str, str] | None = None) -> dict:
    """The environment variables that tell a step which run it is and how to reach the run
    service (Azure's names, so ``Run.get_context()`` finds its run). ``service``: (https URL,
    CA certificate PEM) of the run service for a step on a cluster node; else its socket."""
    from amlocal.compute import SERVICE_DIR
    if service is not None:
        return {**run_identity(workspace, run_id=run_id, experiment=experiment,
                               root_run_id=root_run_id, token=token),
                "AMLOCAL_RUN_SERVICE": service[0], "AMLOCAL_RUN_SERVICE_CA": service[1]}
    return {"AZUREML_RUN_ID": run_id, "AZUREML_RUN_TOKEN": token,
            "AZUREML_ARM_SUBSCRIPTION": workspace.subscription_id,
            "AZUREML_ARM_RESOURCEGROUP": workspace.resource_group,
            "AZUREML_ARM_WORKSPACE_NAME": workspace.name, "AZUREML_ARM_PROJECT_NAME": experiment,
            "AZUREML_SERVICE_ENDPOINT": "amlocal://local", "AZUREML_WORKSPACE_ID": workspace.id,
            "AZUREML_ROOT_RUN_ID": root_run_id, "AZUREML_PARENT_RUN_ID": root_run_id,
            "AMLOCAL_RUN_SERVICE": f"unix://{SERVICE_DIR}/run.sock"}
