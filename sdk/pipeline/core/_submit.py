"""Starting a pipeline run: check parameters, record the runs, start the runner process.

As on Azure, ``submit`` returns at once and the run goes on without the submitting process: it
is executed by a detached runner (``python -m amlocal.pipeline.core._runner RUN_ID``) that
survives the end of ``python pipeline.py``. ``wait_for_completion`` and ``--wait`` follow it.
"""
from __future__ import annotations

import os
import subprocess
import sys
import uuid

from ...errors import UserErrorException
from .builder import coerce_parameter


def resolve_parameters(graph: dict, given: dict | None) -> dict:
    """Defaults overridden by ``given``; unknown names and unconvertible values raise before
    anything runs."""
    defaults = graph.get("parameters", {})
    values = dict(defaults)
    for name, value in (given or {}).items():
        if name not in defaults:
            known = ", ".join(sorted(defaults)) or "(this pipeline has none)"
            raise UserErrorException(f"Pipeline parameter with name {name} does not exist. "
                                     f"Known parameters: {known}")
        try:
            values[name] = coerce_parameter(name, defaults[name], value)
        except ValueError as exc:
            raise UserErrorException(str(exc)) from None
    return values


def launch(experiment, graph: dict, *, pipeline_parameters=None, continue_on_step_failure=False,
           regenerate_outputs=False, parent_run_id=None, published_pipeline_id=None):
    """Record a pipeline run and its step runs, then start the runner. Returns a PipelineRun."""
    from ...store.entities import RunInfo
    from .run import PipelineRun

    ws = experiment.workspace
    store = ws._store
    params = resolve_parameters(graph, pipeline_parameters)
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


def start_runner(run_id: str) -> None:
    """Start the detached runner and record its pid, so a watcher can tell a dead runner."""
    from ... import _settings
    settings = _settings.current()
    log_dir = settings.home / "runner-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "AMLOCAL_HOME": str(settings.home)}
    env.pop("AZUREML_RUN_ID", None)
    with open(log_dir / f"{run_id}.log", "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "amlocal.pipeline.core._runner", run_id],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
            start_new_session=True, close_fds=True)
    from ...store import open_store
    open_store(settings).add_properties(run_id, {"amlocal.runner_pid": str(process.pid)})
