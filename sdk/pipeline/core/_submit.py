"""Submitting a pipeline: the parameters' values are checked against the graph here (they may
be facade objects: DataPath, datasets), then the run request goes to the execution layer
(:mod:`amlocal._engine.submit`), which records the runs and starts the runner.
"""
from __future__ import annotations

from ...errors import UserErrorException
from .builder import coerce_parameter


def resolve_parameters(graph: dict, given: dict | None, workspace=None) -> dict:
    """Defaults overridden by ``given``; unknown names and values of the wrong type raise before
    anything runs.

    Accepted values, as on Azure (checked by exact type, so numpy scalars are refused): str,
    int, float and bool for scalar parameters (converted to the default's type, so ``"3"`` is
    accepted for an int); a ``DataPath`` for a DataPath parameter; a ``FileDataset`` or
    ``TabularDataset`` (the default's kind) for a dataset parameter. The JSON forms a frozen
    graph keeps are accepted too (a published pipeline's stored values).
    """
    defaults = graph.get("parameters", {})
    values = dict(defaults)
    for name, value in (given or {}).items():
        if name not in defaults:
            known = ", ".join(sorted(defaults)) or "(this pipeline has none)"
            raise UserErrorException(f"Pipeline parameter with name {name} does not exist. "
                                     f"Known parameters: {known}")
        values[name] = _parameter_value(name, defaults[name], value, workspace)
    return values


def _parameter_value(name: str, default, value, workspace):
    from ...data.datapath import DataPath
    from ...data.file_dataset import FileDataset
    from ...data.tabular_dataset import TabularDataset
    kind = default.get("kind") if isinstance(default, dict) else None
    if isinstance(value, dict) and value.get("kind") == kind and kind:
        return value
    if type(value) not in (str, int, float, bool, FileDataset, TabularDataset, DataPath):
        raise UserErrorException(
            f"Invalid parameter type {type(value)} for pipeline parameter '{name}': pass a str, "
            "int, float, bool, DataPath, FileDataset or TabularDataset")
    if kind == "datapath":
        if not isinstance(value, DataPath):
            raise UserErrorException(
                f"pipeline parameter '{name}' takes a DataPath (its default is "
                f"{default['datastore']}/{default.get('path_on_datastore') or ''}), not "
                f"{type(value).__name__} {value!r}: pass DataPath(datastore, 'path') "
                f"(CLI: -d \"{name}=datastore/path\")")
        _same_workspace(name, value._datastore, workspace)
        return {"kind": "datapath", "datastore": value.datastore_name,
                "path_on_datastore": value.path_on_datastore}
    if kind == "dataset":
        expected = default["definition"].get("type", "FileDataset")
        if not isinstance(value, (FileDataset, TabularDataset)) or type(value).__name__ != expected:
            raise UserErrorException(
                f"pipeline parameter '{name}' takes a {expected} (the kind of its default), not "
                f"{type(value).__name__} {value!r}")
        _same_workspace(name, None, workspace, value)
        return {"kind": "dataset", "definition": value._to_definition()}
    if isinstance(value, (DataPath, FileDataset, TabularDataset)):
        raise UserErrorException(
            f"pipeline parameter '{name}' takes a {type(default).__name__} (default {default!r}), "
            f"not a {type(value).__name__}")
    try:
        return coerce_parameter(name, default, value)
    except ValueError as exc:
        raise UserErrorException(str(exc)) from None


def _same_workspace(name: str, datastore, workspace, dataset=None) -> None:
    """A DataPath or dataset of another workspace cannot be read by this run."""
    if workspace is None:
        return
    other = getattr(datastore, "workspace", None) if datastore is not None \
        else getattr(dataset, "_workspace", None)
    if other is not None and getattr(other, "_id", None) != workspace._id:
        raise UserErrorException(
            f"pipeline parameter '{name}': the value belongs to workspace '{other.name}', the "
            f"run to workspace '{workspace.name}'; use a datastore or dataset of the run's workspace")


def _with_value_requirements(graph, params: dict):
    """The graph (an ``amlocal._engine.graph.Graph``), with each step that reads a submitted
    dataset given what reading it needs (a submitted dataset may need another package than the
    default, e.g. an http(s) URL)."""
    from dataclasses import replace

    from ._freeze_io import data_requirements, with_packages
    changed = {n for n, v in params.items() if isinstance(v, dict) and v.get("kind") == "dataset"
               and v != graph.parameters.get(n)}
    if not changed:
        return graph
    steps = []
    for node in graph.steps:
        used = [{"definition": params[i.parameter]["definition"]} for i in node.inputs
                if i.parameter in changed]
        if used:
            node = replace(node, environment=with_packages(node.environment,
                                                           data_requirements(used)))
        steps.append(node)
    return graph.with_steps(steps)


def launch(experiment, graph: dict, *, pipeline_parameters=None, continue_on_step_failure=False,
           regenerate_outputs=False, parent_run_id=None, published_pipeline_id=None,
           properties=None):
    """Submit a pipeline run of ``graph`` through the execution layer (``properties``: more run
    properties, e.g. how it was submitted). Returns a PipelineRun."""
    from ..._engine.graph import Graph, RunRequest
    from ..._engine.submit import Submission, submit

    ws = experiment.workspace
    params = resolve_parameters(graph, pipeline_parameters, ws)
    request = RunRequest(_with_value_requirements(Graph.from_dict(graph), params), params,
                         continue_on_step_failure=bool(continue_on_step_failure),
                         regenerate_outputs=bool(regenerate_outputs),
                         published_pipeline_id=published_pipeline_id)
    properties = {**{k: str(v) for k, v in (properties or {}).items()},
                  "azureml.runsource": "azureml.PipelineRun"}
    if published_pipeline_id:
        properties["azureml.pipelineid"] = published_pipeline_id
    info = submit(ws._store, Submission(ws._id, experiment.name, parent_id=parent_run_id,
                                        properties=properties), request)
    print(f"Submitted PipelineRun {info.id}")
    return experiment._run_of(info)  # a PipelineRun: the run's kind is pipeline
