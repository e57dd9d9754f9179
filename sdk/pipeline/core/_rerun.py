"""``rerun-step``: the facade over :mod:`amlocal._engine.rerun` (a new pipeline run of one step
of an earlier run, as it ran; with ``shell`` an interactive shell where it would run)."""
from __future__ import annotations


def rerun_step(workspace, run_id: str, step_name: str, *, shell: bool = False):
    """Start the rerun (detached, like any run) and return its PipelineRun; with ``shell``, open
    an interactive shell in the step's container in this process and return its exit status."""
    from ..._engine import rerun
    info = rerun.rerun_step(workspace._store, run_id, step_name, shell=shell)
    if shell:
        return rerun.open_shell(workspace._store, info.id)
    from ...core.experiment import Experiment
    from .run import PipelineRun
    return PipelineRun(Experiment(workspace, info.experiment, _skip_create=True), info.id, _info=info)
