"""The frozen pipeline and the run request as typed, frozen data.

The azureml facades freeze a ``Pipeline`` (or a ``ScriptRunConfig``'s single step) into a
:class:`Graph`; a published pipeline keeps it, a run request carries it, and every part of the
execution layer reads it through these classes, never through string keys. ``to_dict`` /
``from_dict`` are the one storage form (JSON in the store): ``from_dict`` raises
:class:`GraphFormatError` naming the field when a stored graph is damaged, so a run whose record
was altered fails with that message instead of half running.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping

from ..errors import AmlocalError

GRAPH_FORMAT = 1


class GraphFormatError(AmlocalError):
    """A stored graph or run request that does not have the fields the engine needs."""


class InputType(str, enum.Enum):
    OUTPUT = "output"                # an output of another step (PipelineData, an output config)
    DATASET = "dataset"              # a FileDataset / TabularDataset (or a dataset parameter)
    DATAREFERENCE = "datareference"  # a DataReference, DataPath or PortDataReference


class OutputKind(str, enum.Enum):
    PIPELINE_DATA = "pipeline_data"
    OUTPUT_DATASET = "output_dataset"    # OutputFileDatasetConfig
    DATA_REFERENCE = "data_reference"    # a DataReference in upload mode


def _need(data: Mapping, key: str, what: str):
    try:
        return data[key]
    except (KeyError, TypeError):
        raise GraphFormatError(f"{what} has no '{key}': the stored graph is damaged; submit "
                               "the pipeline again (or publish it again)") from None


def _known(cls, data: Mapping) -> dict:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


@dataclass(frozen=True)
class NodeInput:
    """One input of a node. Which fields matter depends on ``type``: ``data`` (and ``reader``,
    ``glob``, ``partition_format`` when an output is read as a TabularDataset) for OUTPUT;
    ``definition`` for DATASET; ``datastore``, ``path_on_datastore`` and ``overwrite`` for
    DATAREFERENCE. ``parameter`` names the pipeline parameter whose submitted value replaces
    the default (a dataset or a DataPath)."""

    name: str
    type: InputType
    mode: str = "mount"
    path_on_compute: str | None = None
    data: str | None = None
    reader: dict | None = None
    glob: str | None = None
    partition_format: str | None = None
    definition: dict | None = None
    datastore: str | None = None
    path_on_datastore: str | None = None
    overwrite: bool = False
    parameter: str | None = None

    def to_dict(self) -> dict:
        data = {"name": self.name, "type": self.type.value, "mode": self.mode,
                "path_on_compute": self.path_on_compute}
        for f in fields(self)[4:]:
            value = getattr(self, f.name)
            if value not in (None, False):
                data[f.name] = value
        return data

    @classmethod
    def from_dict(cls, data: Mapping, where: str = "an input") -> "NodeInput":
        what = f"{where} '{data.get('name', '?')}'" if isinstance(data, Mapping) else where
        try:
            kind = InputType(_need(data, "type", what))
        except ValueError:
            raise GraphFormatError(f"{what} has an unknown type {data['type']!r}") from None
        return cls(**{**_known(cls, data), "name": _need(data, "name", what), "type": kind,
                      "mode": data.get("mode") or "mount",
                      "overwrite": bool(data.get("overwrite"))})


@dataclass(frozen=True)
class NodeOutput:
    """One output of a node: where it goes (``datastore``, ``path`` with ``{run-id}`` and
    ``{output-name}`` placeholders) and how (``mode``: mount, upload, ...)."""

    name: str
    kind: OutputKind
    datastore: str | None
    path: str
    mode: str = "mount"
    overwrite: bool = False
    source_globs: Any = None
    registration: dict | None = None
    path_on_compute: str | None = None
    parameter: str | None = None

    def to_dict(self) -> dict:
        data = {"name": self.name, "kind": self.kind.value, "datastore": self.datastore,
                "path": self.path, "mode": self.mode, "registration": self.registration}
        for key in ("overwrite", "source_globs", "path_on_compute", "parameter"):
            value = getattr(self, key)
            if value not in (None, False):
                data[key] = value
        return data

    @classmethod
    def from_dict(cls, data: Mapping, where: str = "an output") -> "NodeOutput":
        what = f"{where} '{data.get('name', '?')}'" if isinstance(data, Mapping) else where
        try:
            kind = OutputKind(_need(data, "kind", what))
        except ValueError:
            raise GraphFormatError(f"{what} has an unknown kind {data['kind']!r}") from None
        return cls(**{**_known(cls, data), "name": _need(data, "name", what), "kind": kind,
                      "datastore": data.get("datastore"), "path": data.get("path") or "",
                      "mode": data.get("mode") or "mount",
                      "overwrite": bool(data.get("overwrite"))})


@dataclass(frozen=True)
class ComputeRef:
    name: str     # the compute target's name ('local', 'cpu-cluster', ...)
    kind: str     # the backend that runs it: 'docker', 'local' or 'host'


@dataclass(frozen=True)
class StepParameter:
    """A value of ``PythonScriptStep(params=...)``: a fixed ``value``, or the pipeline
    parameter named ``parameter``."""

    value: Any = None
    parameter: str | None = None

    def to_dict(self) -> dict:
        return {"parameter": self.parameter} if self.parameter is not None else {"value": self.value}


@dataclass(frozen=True)
class Node:
    """One step of a frozen pipeline."""

    id: str
    name: str
    script_name: str
    snapshot: str | None
    environment: dict                 # an amlocal.compute.EnvironmentSpec as a dict
    compute: ComputeRef
    kind: str = "python_script"
    source_directory: str | None = None
    arguments: tuple[str, ...] = ()
    params: Mapping[str, StepParameter] = field(default_factory=dict)
    inputs: tuple[NodeInput, ...] = ()
    outputs: tuple[NodeOutput, ...] = ()
    environment_name: str | None = None
    environment_variables: Mapping[str, str] = field(default_factory=dict)
    sandbox: dict | None = None
    allow_reuse: bool = True
    version: str | None = None
    depends_on: tuple[str, ...] = ()
    # What the step asks of a cluster (``StepSpec.resources``: num_cpus, num_gpus, memory in
    # bytes), from its run configuration (amlocal.core._runconfig_requests); None: nothing.
    resources: dict | None = None
    # How many copies a cluster starts (``StepSpec.node_count``): a ParallelRunStep's
    # node_count, a fixed value or a pipeline parameter. Not part of the reuse key.
    node_count: StepParameter = StepParameter(value=1)
    # A DataTransferStep (kind "data_transfer", run on the host): what moves where, as
    # amlocal.pipeline.steps._data_transfer_freeze documents it; None for other steps.
    transfer: Mapping[str, Any] | None = None

    def node_count_for(self, params: Mapping[str, Any]) -> int:
        """The number of copies for a run whose parameter values are ``params`` (at least 1).
        Raises GraphFormatError for a value that is not a whole number."""
        p = self.node_count
        value = params.get(p.parameter, 1) if p.parameter is not None else p.value
        try:
            count = int(str(value).strip())
        except ValueError:
            count = 0
        if isinstance(value, bool) or count < 1:
            raise GraphFormatError(f"step '{self.name}': node_count must be a whole number >= 1, "
                                   f"not {value!r}")
        return count

    def output(self, name: str) -> NodeOutput | None:
        return next((o for o in self.outputs if o.name == name), None)

    def to_dict(self) -> dict:
        return {
            "id": self.id, "name": self.name, "kind": self.kind, "script_name": self.script_name,
            "source_directory": self.source_directory, "snapshot": self.snapshot,
            "arguments": list(self.arguments),
            "params": {k: p.to_dict() for k, p in self.params.items()},
            "inputs": [i.to_dict() for i in self.inputs],
            "outputs": [o.to_dict() for o in self.outputs],
            "environment": dict(self.environment), "environment_name": self.environment_name,
            "environment_variables": dict(self.environment_variables),
            "compute": {"name": self.compute.name, "kind": self.compute.kind},
            "sandbox": self.sandbox, "allow_reuse": self.allow_reuse, "version": self.version,
            "depends_on": list(self.depends_on),
            **({"resources": dict(self.resources)} if self.resources else {}),
            **({"node_count": self.node_count.to_dict()}
               if self.node_count != StepParameter(value=1) else {}),
            **({"transfer": dict(self.transfer)} if self.transfer is not None else {})}

    @classmethod
    def from_dict(cls, data: Mapping) -> "Node":
        if not isinstance(data, Mapping):
            raise GraphFormatError(f"a step of the stored graph is {type(data).__name__}, not an "
                                   "object: the stored graph is damaged")
        what = f"step '{data.get('name', data.get('id', '?'))}'"
        compute = _need(data, "compute", what)
        environment = _need(data, "environment", what)
        if not isinstance(environment, Mapping):
            raise GraphFormatError(f"{what}: 'environment' is not an object")
        depends = _need(data, "depends_on", what)
        params = {}
        for key, value in (data.get("params") or {}).items():
            params[key] = (StepParameter(parameter=value["parameter"]) if "parameter" in value
                           else StepParameter(value=value.get("value")))
        return cls(
            id=_need(data, "id", what), name=_need(data, "name", what),
            kind=data.get("kind") or "python_script",
            script_name=_need(data, "script_name", what),
            source_directory=data.get("source_directory"), snapshot=data.get("snapshot"),
            arguments=tuple(data.get("arguments") or ()), params=params,
            inputs=tuple(NodeInput.from_dict(i, f"{what}: input") for i in data.get("inputs") or ()),
            outputs=tuple(NodeOutput.from_dict(o, f"{what}: output")
                          for o in data.get("outputs") or ()),
            environment=dict(environment), environment_name=data.get("environment_name"),
            environment_variables=dict(data.get("environment_variables") or {}),
            compute=ComputeRef(_need(compute, "name", f"{what}: compute"),
                               _need(compute, "kind", f"{what}: compute")),
            sandbox=data.get("sandbox"), allow_reuse=bool(data.get("allow_reuse", True)),
            version=data.get("version"), depends_on=tuple(depends),
            resources=_resources(data.get("resources"), what),
            node_count=_node_count(data.get("node_count"), what),
            transfer=dict(data["transfer"]) if isinstance(data.get("transfer"), Mapping) else None)


def _resources(value, what: str) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise GraphFormatError(f"{what}: 'resources' is not an object")
    return dict(value)


def _node_count(value, what: str) -> StepParameter:
    """A stored ``node_count``: absent (1), an int, or ``{"value": n}`` / ``{"parameter": p}``."""
    if value is None:
        return StepParameter(value=1)
    if isinstance(value, Mapping):
        return (StepParameter(parameter=value["parameter"]) if "parameter" in value
                else StepParameter(value=value.get("value", 1)))
    if isinstance(value, int) and not isinstance(value, bool):
        return StepParameter(value=value)
    raise GraphFormatError(f"{what}: 'node_count' is {value!r}, not a whole number")


@dataclass(frozen=True)
class WebServicePort:
    """A WebServiceInput: the node and input port it feeds, and its schema."""

    node: str
    port: str
    schema: Any = None


@dataclass(frozen=True)
class WebServiceResult:
    """A WebServiceOutput: the node and the output (``data``) it returns."""

    node: str
    data: str


@dataclass(frozen=True)
class WebService:
    inputs: Mapping[str, WebServicePort] = field(default_factory=dict)
    outputs: Mapping[str, WebServiceResult] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"inputs": {k: {"node": v.node, "port": v.port, "schema": v.schema}
                           for k, v in self.inputs.items()},
                "outputs": {k: {"node": v.node, "data": v.data} for k, v in self.outputs.items()}}

    @classmethod
    def from_dict(cls, data: Mapping) -> "WebService":
        return cls({k: WebServicePort(v["node"], v["port"], v.get("schema"))
                    for k, v in (data.get("inputs") or {}).items()},
                   {k: WebServiceResult(v["node"], v["data"])
                    for k, v in (data.get("outputs") or {}).items()})


@dataclass(frozen=True)
class PipelineOutput:
    """``PipelineData(pipeline_output_name=...)``: the node and output it names."""

    node: str
    output: str


@dataclass(frozen=True)
class Graph:
    """A frozen pipeline: its steps in dependency order, its parameters' defaults (JSON: a
    DataPath as ``{"kind": "datapath", ...}``, a dataset as ``{"kind": "dataset", ...}``)."""

    steps: tuple[Node, ...]
    parameters: Mapping[str, Any] = field(default_factory=dict)
    description: str | None = None
    pipeline_outputs: Mapping[str, PipelineOutput] = field(default_factory=dict)
    webservice: WebService | None = None
    format: int = GRAPH_FORMAT

    def node(self, node_id: str) -> Node:
        for node in self.steps:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def find(self, name_or_id: str) -> Node | None:
        return next((n for n in self.steps if name_or_id in (n.name, n.id)), None)

    def producers(self) -> dict[str, Node]:
        """The node that writes each output, by output name."""
        return {o.name: n for n in self.steps for o in n.outputs}

    def with_steps(self, steps) -> "Graph":
        return replace(self, steps=tuple(steps))

    def to_dict(self) -> dict:
        data = {"format": self.format, "description": self.description,
                "parameters": dict(self.parameters), "steps": [n.to_dict() for n in self.steps]}
        if self.pipeline_outputs:
            data["pipeline_outputs"] = {k: {"node": v.node, "output": v.output}
                                        for k, v in self.pipeline_outputs.items()}
        if self.webservice is not None:
            data["webservice"] = self.webservice.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping) -> "Graph":
        if isinstance(data, Graph):
            return data
        if not isinstance(data, Mapping):
            raise GraphFormatError("the stored graph is not an object: it is damaged")
        if data.get("format", GRAPH_FORMAT) != GRAPH_FORMAT:
            raise GraphFormatError(f"the graph has format {data.get('format')!r}; this amlocal "
                                   f"reads format {GRAPH_FORMAT}: publish the pipeline again")
        web = data.get("webservice")
        steps = tuple(Node.from_dict(n) for n in _need(data, "steps", "the graph"))
        seen: set[str] = set()
        for node in steps:  # dependency order, every dependency a step of the graph
            unknown = [d for d in node.depends_on if d not in seen]
            if unknown:
                raise GraphFormatError(
                    f"step '{node.name}' depends on {', '.join(map(repr, unknown))}, which is not "
                    "a step before it in the graph: the stored graph is damaged")
            seen.add(node.id)
        return cls(
            steps=steps,
            parameters=dict(data.get("parameters") or {}), description=data.get("description"),
            pipeline_outputs={k: PipelineOutput(v["node"], v["output"])
                              for k, v in (data.get("pipeline_outputs") or {}).items()},
            webservice=WebService.from_dict(web) if web else None)


@dataclass(frozen=True)
class RunRequest:
    """What a run executes: the graph, the parameters' values for this run, and how to run it.
    ``seed_outputs`` hands a rerun of one step the outputs its upstream steps made (by output
    name, as :class:`amlocal._engine.outputs.OutputLocation` dicts)."""

    graph: Graph
    parameters: Mapping[str, Any] = field(default_factory=dict)
    continue_on_step_failure: bool = False
    regenerate_outputs: bool = False
    published_pipeline_id: str | None = None
    seed_outputs: Mapping[str, dict] = field(default_factory=dict)
    node_id: str | None = None       # a script run: the node that is the run itself

    def to_dict(self) -> dict:
        data = {"graph": self.graph.to_dict(), "parameters": dict(self.parameters),
                "continue_on_step_failure": self.continue_on_step_failure,
                "regenerate_outputs": self.regenerate_outputs,
                "published_pipeline_id": self.published_pipeline_id}
        if self.seed_outputs:
            data["seed_outputs"] = dict(self.seed_outputs)
        if self.node_id is not None:
            data["node_id"] = self.node_id
        return data

    @classmethod
    def from_dict(cls, data: Mapping) -> "RunRequest":
        if not isinstance(data, Mapping):
            raise GraphFormatError("the run's request is not an object: the run record is damaged")
        return cls(graph=Graph.from_dict(_need(data, "graph", "the run's request")),
                   parameters=dict(data.get("parameters") or {}),
                   continue_on_step_failure=bool(data.get("continue_on_step_failure")),
                   regenerate_outputs=bool(data.get("regenerate_outputs")),
                   published_pipeline_id=data.get("published_pipeline_id"),
                   seed_outputs=dict(data.get("seed_outputs") or {}),
                   node_id=data.get("node_id"))


def node_of_run(store, info) -> Node | None:
    """The frozen node a step run or a script run executed (None for other runs): a script run
    holds its request itself, a step run's request is its pipeline run's."""
    definition = (info.definition or {}) if info is not None else {}
    node_id = definition.get("node_id")
    if node_id is None:
        return None
    holder = info if "graph" in definition else (
        store.get_run(info.parent_id) if info.parent_id else None)
    if holder is None or "graph" not in (holder.definition or {}):
        return None
    graph = Graph.from_dict(holder.definition["graph"])
    return next((n for n in graph.steps if n.id == node_id), None)
