"""Helpers shared by the ``amlocal run`` commands: run ids, lookup, the JSON shape of a run."""
from __future__ import annotations

import click

from ..errors import NotFoundError, UserErrorException
from ._common import open_store

KINDS = {"pipeline": "azureml.PipelineRun", "step": "azureml.StepRun", "script": "azureml.scriptrun"}
DIGEST = "amlocal.environment_digest"


def run_id_options(func):
    """``RUN_ID`` as an argument or as az's ``-r/--run``."""
    func = click.option("-r", "--run", "run_option", default=None, metavar="RUN_ID",
                        help="The run id (az ml's spelling; same as the argument).")(func)
    return click.argument("run_id", required=False)(func)


def pick_run_id(run_id: str | None, run_option: str | None) -> str:
    if run_id and run_option and run_id != run_option:
        raise UserErrorException(f"two run ids given ({run_id} and -r {run_option}); give one")
    chosen = run_id or run_option
    if not chosen:
        raise UserErrorException("give the run id, as an argument or with -r/--run (list runs "
                                 "with `amlocal run list`)")
    return chosen


def get_run(selector, run_id: str):
    """The Run (PipelineRun, StepRun or Run) ``run_id`` of the selected workspace, or of its
    own workspace when none is selected. Raises NotFoundError."""
    from ..core.run import Run
    info = open_store().get_run(run_id)
    if info is None:
        raise NotFoundError(f"no run with id {run_id}; list runs with `amlocal run list`")
    run = Run._by_id(selector.resolve(owner_workspace_id=info.workspace_id), run_id)
    run._settle_if_runner_lost()  # a run whose runner died reads Failed, its leftovers removed
    return run


def settle_active(store, workspace_id: str, experiment: str | None = None) -> list[str]:
    """Settle the workspace's unfinished runs whose runner died (found by status through an
    index, so listing finished runs reads none of them); the ids settled now."""
    from .._engine.settle import settle_runs
    from .._status import TERMINAL, RunStatus
    active = [s.value for s in RunStatus if s not in TERMINAL]
    live = store.list_runs(workspace_id, experiment, statuses=active, with_definition=False)
    return settle_runs(store, live) if live else []


def settled_runs(store, workspace_id: str, experiment: str | None = None, *,
                 top_level: bool = False, last: int | None = None) -> tuple[list, int]:
    """The newest ``last`` runs of a workspace (all when None), after settling those whose
    runner died, without their definitions; and how many match in all."""
    settle_active(store, workspace_id, experiment)
    infos = store.list_runs(workspace_id, experiment, top_level=top_level, limit=last,
                            with_definition=False)
    if last is None or len(infos) < last:
        return infos, len(infos)
    return infos, store.count_runs(workspace_id, experiment, top_level=top_level)


def info_summary(info) -> dict:
    """The JSON shape of one run, from its store record."""
    return {"runId": info.id, "displayName": info.name, "type": KINDS.get(info.kind, info.kind),
            "status": info.status, "experiment": info.experiment, "target": info.target,
            "parentRunId": info.parent_id, "createdUtc": info.created_at,
            "startTimeUtc": info.started_at, "endTimeUtc": info.ended_at,
            "environmentDigest": (info.properties or {}).get(DIGEST),
            "tags": dict(info.tags or {}), "properties": dict(info.properties or {}),
            "error": info.error}
