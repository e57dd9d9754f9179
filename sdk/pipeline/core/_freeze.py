"""Freezing a Pipeline into plain data: validation, snapshots, environments, placeholders.

The frozen graph is what a PipelineRun executes and what a PublishedPipeline keeps: JSON only
(script names, snapshot digests, environment specs, argument strings with Azure's placeholders),
so that a published id keeps running exactly what it was published with.

Each step is frozen into its node by ``amlocal.core._freeze_step`` (as a ScriptRunConfig's
single step is); this module adds what only a graph has: node ids, the producers of
intermediate data, pipeline parameters (through :class:`_PipelineLinks`), ``run_after``,
cycles, pipeline outputs, web service ports and snapshots.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..._engine.graph import GRAPH_FORMAT
from ...core._freeze_step import FrozenInput, StepDefinition, StepLinks, freeze_step
from ...core._freeze_step import is_output_config as _is_output_config
from ...errors import ValidationError
from ._freeze_io import argument_string, freeze_input, is_data_input, parameter_default
from .builder import InputPortBinding, PipelineData, PipelineParameter

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


class _PipelineLinks(StepLinks):
    """Freezes what only a pipeline has, for the steps of one graph: PipelineParameters,
    PipelineData (and its bindings), the pipeline's data inputs (``_freeze_io``), pipeline
    outputs and web service inputs. Graph-level problems are appended to ``errors``."""

    def __init__(self, ids: dict[int, str], default_store: str, errors: list[str]):
        self.ids, self.default_store, self.errors = ids, default_store, errors
        self.web_inputs: dict[str, dict] = {}
        self.pipeline_outputs: dict[str, dict] = {}   # PipelineData(pipeline_output_name=...)
        self.step = None

    def argument(self, arg, params: dict) -> str | None:
        data = argument_string(arg)
        if data is not None:
            return data
        if isinstance(arg, PipelineParameter):
            params[arg.name] = parameter_default(arg)
            return f"${arg.env_name}"
        if isinstance(arg, (PipelineData, InputPortBinding)):
            name = arg.input_name if isinstance(arg, InputPortBinding) else arg.name
            return f"{DATAREF}{name}"
        return None

    def param(self, value, params: dict) -> dict | None:
        if not isinstance(value, PipelineParameter):
            return None
        params[value.name] = parameter_default(value)
        return {"parameter": value.name}

    def input(self, inp, params: dict) -> FrozenInput | None:
        if is_data_input(inp):
            return FrozenInput(*freeze_input(inp, params))
        if isinstance(inp, (PipelineData, InputPortBinding)):
            data = inp.bind_object if isinstance(inp, InputPortBinding) else inp
            name = inp.input_name if isinstance(inp, InputPortBinding) else inp.name
            mode = inp.bind_mode if isinstance(inp, InputPortBinding) else "mount"
            entry = {"name": name, "type": "output", "data": data.name, "mode": mode,
                     "path_on_compute": getattr(inp, "path_on_compute", None)}
            table = getattr(inp, "_reader", None)  # a PipelineData read as a TabularDataset
            if table:
                entry.update(mode="direct", path_on_compute=None, reader=table["reader"],
                             glob=table["glob"], partition_format=table["partition_format"])
            return FrozenInput(entry, produced_by=data.name)
        web = getattr(inp, "_web_service_input", None)
        if web is not None and hasattr(inp, "arg_val") and not _is_output_config(getattr(inp, "dataset", None)):
            if web.name in self.web_inputs:
                self.errors.append(f"WebServiceInput '{web.name}' feeds two ports; give each "
                                   "port its own WebServiceInput with its own name")
            self.web_inputs[web.name] = {"node": self.ids[id(self.step)], "port": inp.name,
                                         "schema": web.schema}
        return None   # the dataset itself is frozen as any step's

    def output(self, out) -> dict | None:
        if not isinstance(out, PipelineData):
            return None
        if out.pipeline_output_name is not None:
            if out.pipeline_output_name in self.pipeline_outputs:
                self.errors.append(f"Duplicate pipeline output with name "
                                   f"{out.pipeline_output_name}: give each PipelineData its own "
                                   "pipeline_output_name")
            self.pipeline_outputs[out.pipeline_output_name] = {"node": self.ids[id(self.step)],
                                                               "output": out.name}
        return {"name": out.name, "kind": "pipeline_data",
                "datastore": out.datastore_name or self.default_store,
                "path": "azureml/{run-id}/{output-name}", "mode": out.output_mode,
                "registration": out._registration}


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


def freeze(pipeline, *, take_snapshots: bool = True) -> tuple[dict, list[str]]:
    """Return (graph, errors). With ``take_snapshots`` the sources are stored (only when there
    are no errors, so nothing is stored for an invalid pipeline)."""
    from ... import _settings
    from ..._engine.snapshot import take_snapshot

    errors: list[str] = []
    web_outputs = [s for s in pipeline._steps if getattr(s, "_is_web_service_output", False)]
    listed = [s for s in pipeline._steps if not getattr(s, "_is_web_service_output", False)]
    listed += [o.producer for o in web_outputs if all(o.producer is not s for s in listed)]
    steps = step_closure(listed) if pipeline._resolve_closure else listed
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

    links = _PipelineLinks(ids, _default_datastore(pipeline), errors)
    nodes, parameters = [], {}
    for step in steps:
        links.step = step
        own = getattr(step, "_freeze_node", None)   # a step that is no script (DataTransferStep)
        if own is not None:
            node, params = own(node_id=ids[id(step)], links=links, errors=errors,
                               producers=producers)
        else:
            node, params = freeze_step(_definition(step, pipeline), pipeline._workspace,
                                       node_id=ids[id(step)], errors=errors, producers=producers,
                                       links=links)
        for name, default in params.items():
            if name in parameters and parameters[name] != default:
                errors.append(f"Graph already has pipeline parameter with same name '{name}' but "
                              f"another default ({parameters[name]!r} and {default!r}); use one "
                              "PipelineParameter object")
            parameters[name] = default
        if step._run_after:
            node["depends_on"] = sorted(set(node["depends_on"]) | {
                ids.get(id(other), other.name) for other in step._run_after})
        nodes.append(node)

    order = _topological(nodes)
    if order is None:
        errors.append("the steps form a cycle (through their inputs or run_after); remove one edge")
    if not steps:
        errors.append("the pipeline has no steps")

    snapshots = _settings.current().snapshots
    shared = None
    if take_snapshots and not errors:
        from ..._engine.snapshot import shared_files
        shared = shared_files()        # AMLOCAL_ARTIFACTS_URL: snapshots go there too
    for node in nodes:
        if take_snapshots and not errors and node.get("source_directory"):
            node["snapshot"] = take_snapshot(Path(node["source_directory"]), snapshots,
                                             shared=shared)
    if order:
        nodes.sort(key=lambda n: order.index(n["id"]))
    graph = {"format": GRAPH_FORMAT, "description": pipeline._description,
             "parameters": parameters, "steps": nodes}
    if links.pipeline_outputs:
        graph["pipeline_outputs"] = links.pipeline_outputs
    if links.web_inputs or web_outputs:
        graph["webservice"] = {"inputs": links.web_inputs,
                               "outputs": _web_outputs(web_outputs, ids, errors)}
    return graph, errors


def _definition(step, pipeline) -> StepDefinition:
    """What ``amlocal.core._freeze_step`` freezes of a pipeline step."""
    return StepDefinition(
        name=step.name, script_name=step.script_name,
        source_directory=step._source_dir(pipeline._default_source_directory),
        runconfig=step.runconfig, compute_target=step.compute_target,
        arguments=tuple(step.arguments), inputs=tuple(step.inputs), outputs=tuple(step.outputs),
        params=dict(step.params), allow_reuse=step.allow_reuse, version=step.version,
        sandbox=getattr(step, "sandbox", None), node_count=getattr(step, "_node_count", 1))


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
