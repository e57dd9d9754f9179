"""Debugging one step: run it again as it ran, as a new run linked to the old one.

A rerun takes a step of an earlier pipeline run and submits a new pipeline run of just that
step, with the recorded snapshot, environment, parameters and arguments, and with the outputs
the earlier run's upstream steps made as its inputs. It always runs (no reuse). The new run
carries ``amlocal.rerun_of`` (the old step run) and ``amlocal.rerun_of_pipeline``. With
``shell`` nothing runs detached: the caller's process becomes the run's runner and opens an
interactive shell where the step would run (a backend with the SHELL capability).
"""
from __future__ import annotations

from dataclasses import replace

from ..errors import UserErrorException
from .graph import InputType, RunRequest
from .submit import Submission, submit


def rerun_request(store, run_id: str, step_name: str):
    """``(request, old pipeline run, old step run)`` of a rerun of one step. Raises
    UserErrorException when the run or step is unknown or an input was never produced."""
    old = store.get_run(run_id)
    if old is None or old.kind != "pipeline":
        raise UserErrorException(f"{run_id} is not a pipeline run; give the id of the pipeline run "
                                 "that holds the step (`amlocal run list`)")
    before = RunRequest.from_dict(old.definition)
    node = before.graph.find(step_name)
    if node is None:
        names = ", ".join(n.name for n in before.graph.steps)
        raise UserErrorException(f"pipeline run {run_id} has no step {step_name!r}; its steps: {names}")
    steps = {r.definition.get("node_id"): r for r in store.list_runs(parent_id=run_id)}
    producers = {name: steps.get(n.id) for name, n in before.graph.producers().items()}
    seed = {}
    for inp in node.inputs:
        if inp.type is not InputType.OUTPUT:
            continue
        producer = producers.get(inp.data)
        location = ((producer.definition or {}).get("outputs") or {}).get(inp.data) if producer else None
        if location is None:
            raise UserErrorException(
                f"step '{node.name}' reads '{inp.data}', which the upstream step did not "
                f"produce in run {run_id} (status {producer.status if producer else 'missing'}); "
                "rerun the whole pipeline instead")
        seed[inp.data] = location
    request = RunRequest(before.graph.with_steps([replace(node, depends_on=())]),
                         before.parameters, regenerate_outputs=True, seed_outputs=seed)
    return request, old, steps[node.id]


def rerun_step(store, run_id: str, step_name: str, *, shell: bool = False):
    """Submit the rerun and return its RunInfo (``shell``: recorded, not started: the caller
    runs it with :func:`open_shell`)."""
    request, old, old_step = rerun_request(store, run_id, step_name)
    submission = Submission(old.workspace_id, old.experiment, properties={
        "azureml.runsource": "azureml.PipelineRun", "amlocal.rerun_of": old_step.id,
        "amlocal.rerun_of_pipeline": run_id}, step_properties={"amlocal.rerun_of": old_step.id})
    return submit(store, submission, request, start=not shell)


def open_shell(store, run_id: str) -> int:
    """Be the runner of the recorded run ``run_id`` in this process and open a shell in its
    single step; returns the shell's exit status."""
    from .runner import Runner
    return Runner(store, run_id).shell()


__all__ = ["open_shell", "rerun_request", "rerun_step"]
