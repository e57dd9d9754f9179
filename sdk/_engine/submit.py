"""Submitting a run request: check it, record the run (and a run per step), start its runner.

As on Azure, a submission returns at once and the run goes on without the submitting process: it
is executed by a detached runner (``python -m amlocal._engine.runner RUN_ID``) that survives the
end of ``python pipeline.py``. Every way of starting work comes through here: a pipeline's
``submit``, a published pipeline, a ``ScriptRunConfig``, ``rerun-step`` and the batch run of a
pipeline web service.
"""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field

from .._status import TERMINAL, RunStatus
from .graph import RunRequest


@dataclass(frozen=True)
class Submission:
    """Who submits what: the run's record besides its request. ``kind`` is ``pipeline`` (a
    run with a step run per node) or ``script`` (a ScriptRunConfig run: the run is its single
    node)."""

    workspace_id: str
    experiment: str
    kind: str = "pipeline"
    run_id: str | None = None
    name: str | None = None
    target: str = "local"
    parent_id: str | None = None
    properties: dict = field(default_factory=dict)
    step_properties: dict = field(default_factory=dict)   # added to every step run


def check_request(request: RunRequest) -> None:
    """What must hold before anything is recorded: the snapshots are intact, and the compute
    the steps need is there (no Docker engine: one plain DockerUnavailableError)."""
    from .. import _settings
    from .snapshot import shared_files, verify
    settings = _settings.current()
    digests = sorted({n.snapshot for n in request.graph.steps if n.snapshot})
    shared = shared_files(settings) if digests else None
    for digest in digests:
        verify(digest, settings.snapshots, shared=shared)  # a modified snapshot fails here
    from amlocal.compute import Capability, get_backend
    kinds = {n.compute.kind for n in request.graph.steps}
    if any(Capability.CONTAINER in get_backend(kind).capabilities for kind in kinds):
        from amlocal.compute.images import docker_client
        docker_client()


def record(store, submission: Submission, request: RunRequest):
    """Record the run and its step runs (NotStarted); returns the run's RunInfo."""
    from ..errors import UserErrorException
    from ..store.entities import RunInfo
    run_id = submission.run_id or str(uuid.uuid4())
    if submission.run_id and store.get_run(run_id) is not None:
        raise UserErrorException(f"a run with id '{run_id}' exists already; choose another "
                                 "run_id or leave it out")
    info = store.create_run(RunInfo(
        id=run_id, workspace_id=submission.workspace_id, experiment=submission.experiment,
        kind=submission.kind, status=RunStatus.NOT_STARTED.value, name=submission.name,
        parent_id=submission.parent_id, target=submission.target,
        definition=request.to_dict(), properties=dict(submission.properties)))
    if submission.kind == "pipeline":
        for node in request.graph.steps:
            store.create_run(RunInfo(
                id=str(uuid.uuid4()), workspace_id=submission.workspace_id,
                experiment=submission.experiment, kind="step",
                status=RunStatus.NOT_STARTED.value, name=node.name, parent_id=run_id,
                target=node.compute.name, definition={"node_id": node.id},
                properties={"azureml.nodeid": node.id, **submission.step_properties}))
    return info


def submit(store, submission: Submission, request: RunRequest, *, start: bool = True):
    """Check, record and (unless ``start`` is False: ``--shell`` runs it in this process)
    start the run; returns its RunInfo. A run whose every step is reused is recorded here and
    needs no runner (see :mod:`amlocal._engine.fast_reuse`)."""
    check_request(request)
    from .query_check import check_queries
    check_queries(store, submission.workspace_id, request)   # a broken SQL query: named now
    info = record(store, submission, request)
    if start:
        from .fast_reuse import record_if_all_reused
        if not record_if_all_reused(store, info.id):
            start_runner(info.id)
    return info


def settle_workspace(store, workspace_id: str) -> None:
    """The next submit notices runs of the workspace whose runner died, and settles them."""
    from .settle import settle_runs
    unfinished = [s.value for s in RunStatus if s not in TERMINAL]
    settle_runs(store, store.list_runs(workspace_id, statuses=unfinished))


def start_runner(run_id: str) -> None:
    """Start the detached runner and record its pid and start time, so a watcher can tell a
    dead runner. Runs of the workspace whose runner died are settled first (any submit).

    The runner is forked by the warm runner host when one answers (see
    :mod:`amlocal._engine.runner_host`); otherwise it is started as its own Python process and
    a host is started for the next submission."""
    from .. import _settings
    from ..store import open_store
    from . import runner_host
    from .settle import runner_properties
    settings = _settings.current()
    log_dir = settings.home / "runner-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(settings)
    settle_workspace(store, store.get_run(run_id).workspace_id)
    env = {**os.environ, "AMLOCAL_HOME": str(settings.home)}
    env.pop("AZUREML_RUN_ID", None)
    pid = runner_host.hand_over(run_id, env, os.getcwd())
    if pid is None:
        with open(log_dir / f"{run_id}.log", "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "amlocal._engine.runner", run_id],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                start_new_session=True, close_fds=True)
        pid = process.pid
        runner_host.start_host(env)
    store.add_properties(run_id, runner_properties(pid))
