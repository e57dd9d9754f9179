"""Starting a pipeline run: check parameters, record the runs, start the runner process.

As on Azure, ``submit`` returns at once and the run goes on without the submitting process: it
is executed by a detached runner (``python -m amlocal._engine.runner RUN_ID``) that
survives the end of ``python pipeline.py``. ``wait_for_completion`` and ``--wait`` follow it.
"""
from __future__ import annotations

import os
import subprocess
import sys
import uuid

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


def _with_value_requirements(graph: dict, params: dict) -> dict:
    """The graph, with each step that reads a submitted dataset given what reading it needs (a
    submitted dataset may need another package than the default, e.g. an http(s) URL)."""
    from ._freeze_io import data_requirements, with_packages
    defaults = graph.get("parameters", {})
    changed = {n for n, v in params.items() if isinstance(v, dict) and v.get("kind") == "dataset"
               and v != defaults.get(n)}
    if not changed:
        return graph
    steps = []
    for node in graph["steps"]:
        used = [{"definition": params[i["parameter"]]["definition"]} for i in node["inputs"]
                if i.get("parameter") in changed]
        if used:
            node = {**node, "environment": with_packages(node["environment"],
                                                         data_requirements(used))}
        steps.append(node)
    return {**graph, "steps": steps}


def launch(experiment, graph: dict, *, pipeline_parameters=None, continue_on_step_failure=False,
           regenerate_outputs=False, parent_run_id=None, published_pipeline_id=None):
    """Record a pipeline run and its step runs, then start the runner. Returns a PipelineRun."""
    from ...store.entities import RunInfo
    from .run import PipelineRun

    ws = experiment.workspace
    store = ws._store
    params = resolve_parameters(graph, pipeline_parameters, ws)
    graph = _with_value_requirements(graph, params)
    from ... import _settings
    from ..._engine.snapshot import verify
    for digest in sorted({n["snapshot"] for n in graph["steps"] if n.get("snapshot")}):
        verify(digest, _settings.current().snapshots)  # a modified snapshot fails here
    if any(node["compute"]["kind"] == "docker" for node in graph["steps"]):
        from ...compute.images import docker_client
        docker_client()  # no engine: one plain DockerUnavailableError before anything is recorded
    run_id = str(uuid.uuid4())
    definition = {"graph": graph, "parameters": params,
                  "continue_on_step_failure": bool(continue_on_step_failure),
                  "regenerate_outputs": bool(regenerate_outputs),
                  "published_pipeline_id": published_pipeline_id}
    properties = {"azureml.runsource": "azureml.PipelineRun"}
    if published_pipeline_id:
        properties["azureml.pipelineid"] = published_pipeline_id
    info = store.create_run(RunInfo(
        id=run_id, workspace_id=ws._id, experiment=experiment.name, kind="pipeline",
        status="NotStarted", parent_id=parent_run_id, target="local", definition=definition,
        properties=properties))
    for node in graph["steps"]:
        store.create_run(RunInfo(
            id=str(uuid.uuid4()), workspace_id=ws._id, experiment=experiment.name, kind="step",
            status="NotStarted", name=node["name"], parent_id=run_id,
            target=node["compute"]["name"], definition={"node_id": node["id"]},
            properties={"azureml.nodeid": node["id"]}))
    start_runner(run_id)
    print(f"Submitted PipelineRun {run_id}")
    return PipelineRun(experiment, run_id, _info=info)


def settle_workspace(store, workspace_id: str) -> None:
    """The next submit notices runs of the workspace whose runner died, and settles them."""
    from ..._engine.settle import TERMINAL, settle_runs
    settle_runs(store, [i for i in store.list_runs(workspace_id) if i.status not in TERMINAL])


def start_runner(run_id: str) -> None:
    """Start the detached runner and record its pid and start time, so a watcher can tell a
    dead runner. Runs of the workspace whose runner died are settled first (any submit)."""
    from ... import _settings
    settings = _settings.current()
    log_dir = settings.home / "runner-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    from ...store import open_store
    store = open_store(settings)
    settle_workspace(store, store.get_run(run_id).workspace_id)
    env = {**os.environ, "AMLOCAL_HOME": str(settings.home)}
    env.pop("AZUREML_RUN_ID", None)
    with open(log_dir / f"{run_id}.log", "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "amlocal._engine.runner", run_id],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
            start_new_session=True, close_fds=True)
    from ..._engine.settle import runner_properties
    store.add_properties(run_id, runner_properties(process.pid))
