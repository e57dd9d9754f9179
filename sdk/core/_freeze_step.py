"""Freezing ONE step into a node of the frozen graph: plain JSON that says what runs (script,
source folder, arguments with Azure's placeholders, inputs, outputs, environment, compute,
sandbox).

A ``ScriptRunConfig`` run is one such node; a ``Pipeline`` freezes each of its steps here and
adds what only a graph has (node ids, the producers of intermediate data, pipeline parameters,
``run_after``, web service ports, snapshots). The pipeline's own objects (PipelineData,
InputPortBinding, PipelineParameter ...) are not known here: a pipeline passes a
:class:`StepLinks` that freezes them, and everything it leaves (``None``) is frozen as a single
run freezes it.

Data entries (``node["inputs"]``): ``{"type": "dataset", "name", "mode", "path_on_compute",
"definition"}`` for a dataset's consumption config; ``{"type": "datareference", "name",
"datastore", "path_on_datastore", "mode" (mount | download), "path_on_compute", "overwrite",
"parameter"}`` for a data reference; ``{"type": "output", "name", "data", "mode",
"path_on_compute"}`` (plus ``reader``, ``glob``, ``partition_format`` when it is read as a
table) for another step's output. An upload-mode data reference is an output: ``{"kind":
"data_reference", "name", "datastore", "path", "mode": "upload", "overwrite",
"path_on_compute", "parameter", "registration"}``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from ..errors import UserErrorException


@dataclass(frozen=True)
class StepDefinition:
    """What is frozen of one step: a PythonScriptStep's fields, or a ScriptRunConfig's.

    ``arguments``, ``inputs`` and ``outputs`` are as the step holds them after construction
    (placeholder objects, consumption configs, output configs); ``runconfig`` is a
    RunConfiguration or None (a default one); ``sandbox`` is a step's own sandbox dict (see
    PythonScriptStep) or None."""

    name: str
    script_name: str
    source_directory: Path
    runconfig: object = None
    compute_target: object = None
    arguments: tuple = ()
    inputs: tuple = ()
    outputs: tuple = ()
    params: Mapping = field(default_factory=dict)
    allow_reuse: bool = True
    version: str | None = None
    sandbox: dict | None = None
    node_count: object = 1     # copies a cluster starts: a ParallelRunStep's (int or parameter)


@dataclass(frozen=True)
class FrozenInput:
    """One input frozen by :class:`StepLinks`: its ``node["inputs"]`` entry, or (an upload-mode
    reference) its ``node["outputs"]`` entry; ``produced_by`` names the data another step of
    the graph must produce (the node then depends on that step)."""

    entry: dict | None = None
    output: dict | None = None
    produced_by: str | None = None


class StepLinks:
    """What a graph adds when one of its steps is frozen. Each method freezes one object it
    knows and answers None for any other, which is then frozen as a single run freezes it.
    ``params`` collects the defaults of the graph parameters the object uses. Raising
    UserErrorException records the message as the step's error. This base knows nothing (a
    single run)."""

    def argument(self, arg, params: dict) -> str | None:
        """The argv string of ``arg``."""
        return None

    def param(self, value, params: dict) -> dict | None:
        """The ``node["params"]`` entry of a ``params=`` value (``{"parameter": name}``)."""
        return None

    def input(self, inp, params: dict) -> FrozenInput | None:
        return None

    def output(self, out) -> dict | None:
        """The ``node["outputs"]`` entry of an output."""
        return None


def freeze_step(step: StepDefinition, workspace, *, node_id: str, errors: list[str],
                producers: Mapping[str, str] | None = None, links: StepLinks | None = None,
                local_kind: str | None = None) -> tuple[dict, dict]:
    """``(node, parameters)`` of one step: the node of the frozen graph, and the defaults of
    the graph parameters it uses. Every problem found is appended to ``errors`` (the node is
    still returned, so that all problems are reported at once).

    ``producers`` maps the name of each output of the graph to the id of the node that writes
    it; ``local_kind`` is the compute kind a run on the ``'local'`` target gets (a
    ScriptRunConfig's local-run matrix; a pipeline's ``'local'`` steps run in containers)."""
    from .compute_target import resolve_target
    from .runconfig import RunConfiguration

    links = links or StepLinks()
    producers = producers or {}
    source = step.source_directory
    if not source.is_dir():
        errors.append(f"step '{step.name}': source_directory '{source}' does not exist; create it "
                      "or pass the folder that holds the script")
    elif not (source / step.script_name).is_file():
        errors.append(f"step '{step.name}': script '{step.script_name}' was not found in "
                      f"source_directory '{source}'; check script_name and source_directory")
    runconfig = step.runconfig or RunConfiguration()
    try:
        target_name, target_kind = resolve_target(workspace, step.compute_target
                                                  or getattr(runconfig, "target", None))
    except UserErrorException as exc:
        errors.append(f"step '{step.name}': {exc}")
        target_name, target_kind = "?", "docker"
    if local_kind is not None and target_name == "local":
        target_kind = local_kind
    params: dict = {}
    arguments: list[str] = []
    try:
        arguments = [_argument(a, params, links) for a in step.arguments]
    except UserErrorException as exc:
        errors.append(f"step '{step.name}': {exc}")
    step_params = {}
    for key, value in step.params.items():
        linked = links.param(value, params)
        step_params[key] = linked if linked is not None else {"value": value}
    inputs, depends, data_outputs = [], set(), []
    for inp in step.inputs:
        try:
            frozen = links.input(inp, params)
            if frozen is None:
                frozen = _input(inp)
        except UserErrorException as exc:
            errors.append(f"step '{step.name}': {exc}")
            continue
        if frozen.entry is not None:
            inputs.append(frozen.entry)
        if frozen.output is not None:
            data_outputs.append(frozen.output)
        if frozen.produced_by is not None:
            if frozen.produced_by in producers:
                depends.add(producers[frozen.produced_by])
            else:
                errors.append(f"step '{step.name}': input '{frozen.produced_by}' is not produced "
                              "by any step; add it to outputs= of the step that writes it")
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
        entry = links.output(out)
        if entry is None and is_output_config(out):
            entry = _output_config(out)
        if entry is None:
            errors.append(f"step '{step.name}': unsupported output {out!r}; use PipelineData "
                          "or OutputFileDatasetConfig")
        else:
            outputs.append(entry)
    outputs += data_outputs

    sandbox = _sandbox(step, runconfig, target_kind, errors,
                       single_run=local_kind is not None and target_name == "local")
    resources, node_count = _requests(step, runconfig, target_kind, errors, params, links)
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
    node = {
        "id": node_id, "name": step.name, "kind": "python_script",
        "script_name": step.script_name, "source_directory": str(source), "snapshot": None,
        "arguments": arguments, "params": step_params, "inputs": inputs, "outputs": outputs,
        "environment": env_spec, "environment_name": env.name,
        "environment_variables": dict(getattr(runconfig, "environment_variables", {}) or {}),
        "compute": {"name": target_name, "kind": target_kind},
        "sandbox": sandbox,
        "allow_reuse": bool(step.allow_reuse), "version": step.version,
        "depends_on": sorted(depends),
    }
    if resources:
        node["resources"] = resources
    if node_count != {"value": 1}:
        node["node_count"] = node_count
    return node, params


def _requests(step: StepDefinition, runconfig, target_kind: str, errors: list[str],
              params: dict, links: StepLinks) -> tuple[dict | None, dict]:
    """The node's ``resources`` (what its run configuration asks of a cluster, see
    ``amlocal.core._runconfig_requests``) and ``node_count`` (``{"value": n}`` or a graph
    parameter's ``{"parameter": name}``)."""
    from ._runconfig_requests import run_requests
    from ..errors import ComputeTargetException
    try:
        resources = run_requests(runconfig, f"step '{step.name}'", on_cluster=target_kind == "ray")
    except (UserErrorException, ComputeTargetException) as exc:
        errors.append(str(exc) if str(exc).startswith("step '") else f"step '{step.name}': {exc}")
        resources = None
    linked = links.param(step.node_count, params)
    if linked is not None:
        return resources, linked
    count = step.node_count
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        errors.append(f"step '{step.name}': node_count must be a whole number >= 1, not "
                      f"{count!r}")
        count = 1
    return resources, {"value": count}


def is_output_config(obj) -> bool:
    """Whether ``obj`` is an OutputFileDatasetConfig (or a transformed one)."""
    return hasattr(obj, "_destination_names") and hasattr(obj, "as_input")


def _dataset_like(obj) -> bool:
    """A dataset (or anything with a dataset definition) not yet said how to be consumed."""
    return hasattr(obj, "_to_definition") or type(obj).__name__ in ("FileDataset", "TabularDataset")


def _argument(arg, params: dict, links: StepLinks) -> str:
    from ..data.data_reference import DataReference
    linked = links.argument(arg, params)
    if linked is not None:
        return linked
    if isinstance(arg, DataReference):
        return str(arg)
    if hasattr(arg, "arg_val"):
        return arg.arg_val
    if isinstance(arg, str) and arg.startswith("parameter:"):
        return "$AML_PARAMETER_" + re.sub(r"[~\W]", "_", arg[len("parameter:"):])
    if _dataset_like(arg):
        raise UserErrorException(
            "a dataset in arguments must say how the step gets it: use dataset.as_mount(), "
            "dataset.as_download() or dataset.as_named_input('name')")
    return str(arg)


def _input(inp) -> FrozenInput:
    """A data reference, another step's output config consumed (``output.as_input()``) or a
    dataset's consumption config."""
    from ..data.data_reference import DataReference
    if isinstance(inp, DataReference):
        entry, output = data_reference_entries(inp)
        return FrozenInput(entry, output)
    dataset = getattr(inp, "dataset", None)
    if is_output_config(dataset):
        reader = getattr(dataset, "_reader", None)
        if reader:  # read_delimited_files(): the folder, read as a TabularDataset
            return FrozenInput({"name": inp.name, "type": "output", "data": dataset.name,
                                "mode": "direct", "path_on_compute": None, "reader": reader,
                                "glob": dataset._path_glob,
                                "partition_format": dataset._partition_format},
                               produced_by=dataset.name)
        return FrozenInput({"name": inp.name, "type": "output", "data": dataset.name,
                            "mode": inp.mode,
                            "path_on_compute": getattr(inp, "path_on_compute", None)},
                           produced_by=dataset.name)
    if dataset is not None and hasattr(inp, "arg_val"):
        return FrozenInput({"name": inp.name, "type": "dataset", "mode": inp.mode,
                            "path_on_compute": inp.path_on_compute,
                            "definition": dataset._to_definition()})
    raise UserErrorException(f"unsupported input {inp!r}; use PipelineData, an output's "
                             "as_input(), or dataset.as_mount()/as_download()/as_named_input()")


def _output_config(out) -> dict:
    d = out._to_definition()
    return {"name": out.name, "kind": "output_dataset",
            "datastore": d["destination"]["datastore"],
            "path": d["destination"]["path"], "mode": d["mode"],
            "overwrite": d["upload_options"].get("overwrite", False),
            "source_globs": d["upload_options"].get("source_globs"),
            "registration": d["registration"]}


def _sandbox(step: StepDefinition, runconfig, target_kind: str, errors: list[str], *,
             single_run: bool = False) -> dict | None:
    """The node's ``sandbox``: the step's own dict (limits from its run configuration filled
    in), else what ``runconfig.docker`` asks for, else None. A sandbox on a compute kind whose
    backend cannot enforce one is an error."""
    from amlocal.compute import Capability, get_backend
    docker = getattr(runconfig, "docker", None)
    own = step.sandbox
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
    if sandbox is None or Capability.SANDBOX in get_backend(target_kind).capabilities:
        return sandbox
    what = (f"step '{step.name}' is sandboxed (no network, read-only filesystem, non-root "
            "user), which ")
    if single_run:
        errors.append(what + "needs Docker: set run_config.docker.use_docker = True (or pass "
                      "docker_runtime_config=DockerConfiguration(use_docker=True, sandbox=True))")
    else:
        errors.append(what + f"a '{target_kind}' compute target cannot enforce: run it on a "
                      "docker target (e.g. compute_target='cpu-cluster')"
                      + ("" if own is not None else
                         ", or turn the sandbox off (runconfig.docker.sandbox = False)"))
    return sandbox


# -- data references ----------------------------------------------------------------------
def data_reference_fields(dref) -> tuple:
    """``(name, datastore, path_on_datastore, mode, path_on_compute, overwrite)`` of a
    DataReference."""
    return (dref.data_reference_name, dref.datastore.name, dref.path_on_datastore, dref.mode,
            dref.path_on_compute, dref.overwrite)


def data_reference_entries(dref) -> tuple[dict | None, dict | None]:
    """The input entry (mount, download) or output entry (upload) of a DataReference."""
    return reference_entries(*data_reference_fields(dref), None)


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
        found.append(reference_entries(str(name), datastore, rel, str(mode).lower(), on_compute,
                                       overwrite, None))
    return found


def reference_entries(name: str, datastore: str, rel, mode: str, on_compute, overwrite,
                      parameter) -> tuple[dict | None, dict | None]:
    """The input entry (mount, download) or output entry (upload) of one data reference;
    ``parameter`` names the graph parameter whose submitted DataPath replaces it."""
    from ..data.data_reference import SUPPORTED_DATAREF_MODES
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


# -- what reading the data needs ------------------------------------------------------------
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
    if not packages or not env_spec or env_spec.get("user_managed"):
        return env_spec

    def name(requirement: str) -> str:
        return re.split(r"[\s\[<>=!~;@]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")

    have = {name(p) for p in list(env_spec.get("pip_packages") or [])
            + list(env_spec.get("conda_packages") or [])}
    extra = [p for p in packages if name(p) not in have]
    if not extra:
        return env_spec
    return {**env_spec, "pip_packages": list(env_spec.get("pip_packages") or []) + extra}
