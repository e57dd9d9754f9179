"""Debugging one step: run it again as it ran, as a new run linked to the old one.

``rerun_step`` takes a step of an earlier pipeline run and starts a new pipeline run of just
that step, with the recorded snapshot, environment, parameters and arguments, and with the
outputs of the earlier run's upstream steps as its inputs. It always runs (no reuse). The new run
carries ``amlocal.rerun_of`` (the old step run) and ``amlocal.rerun_of_pipeline``.
"""
from __future__ import annotations

import uuid

from ...errors import UserErrorException


def prepare_rerun(workspace, run_id: str, step_name: str):
    """Record the new pipeline run (and its one step run); returns the new PipelineRun."""
    from ...core.experiment import Experiment
    from ...store.entities import RunInfo
    from .run import PipelineRun

    store = workspace._store
    old = store.get_run(run_id)
    if old is None or old.kind != "pipeline":
        raise UserErrorException(f"{run_id} is not a pipeline run; give the id of the pipeline run "
                                 "that holds the step (`amlocal run list`)")
    graph = old.definition["graph"]
    nodes = [n for n in graph["steps"] if step_name in (n["name"], n["id"])]
    if not nodes:
        names = ", ".join(n["name"] for n in graph["steps"])
        raise UserErrorException(f"pipeline run {run_id} has no step {step_name!r}; its steps: {names}")
    node = dict(nodes[0])
    steps = {r.definition.get("node_id"): r for r in store.list_runs(parent_id=run_id)}
    old_step = steps[node["id"]]
    producers = {o["name"]: steps[n["id"]] for n in graph["steps"] for o in n["outputs"]}
    seed = {}
    for inp in node["inputs"]:
        if inp["type"] != "output":
            continue
        producer = producers.get(inp["data"])
        location = ((producer.definition or {}).get("outputs") or {}).get(inp["data"]) if producer else None
        if location is None:
            raise UserErrorException(
                f"step '{node['name']}' reads '{inp['data']}', which the upstream step did not "
                f"produce in run {run_id} (status {producer.status if producer else 'missing'}); "
                "rerun the whole pipeline instead")
        seed[inp["data"]] = location
    node["depends_on"] = []
    new_id = str(uuid.uuid4())
    definition = {"graph": {**graph, "steps": [node]}, "parameters": old.definition["parameters"],
                  "continue_on_step_failure": False, "regenerate_outputs": True,
                  "seed_outputs": seed, "published_pipeline_id": None}
    properties = {"azureml.runsource": "azureml.PipelineRun", "amlocal.rerun_of": old_step.id,
                  "amlocal.rerun_of_pipeline": run_id}
    info = store.create_run(RunInfo(id=new_id, workspace_id=old.workspace_id,
                                    experiment=old.experiment, kind="pipeline", status="NotStarted",
                                    target="local", definition=definition, properties=properties))
    store.create_run(RunInfo(id=str(uuid.uuid4()), workspace_id=old.workspace_id,
                             experiment=old.experiment, kind="step", status="NotStarted",
                             name=node["name"], parent_id=new_id, target=node["compute"]["name"],
                             definition={"node_id": node["id"]},
                             properties={"azureml.nodeid": node["id"], "amlocal.rerun_of": old_step.id}))
    return PipelineRun(Experiment(workspace, old.experiment, _skip_create=True), new_id, _info=info)


def rerun_step(workspace, run_id: str, step_name: str, *, shell: bool = False):
    """Start the rerun (detached, like any run) and return its PipelineRun; with ``shell``, open
    an interactive shell in the step's container in this process and return its exit status."""
    from ..._engine.runner import Runner
    from ._submit import start_runner
    run = prepare_rerun(workspace, run_id, step_name)
    if shell:
        return Runner(workspace._store, run.id).shell()
    start_runner(run.id)
    return run
