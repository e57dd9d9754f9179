"""The read API of the studio server (``/api/v1``): JSON for clients and the page.

- ``/workspaces`` and ``/workspaces/{workspace}`` (a workspace id, or its name when no other
  workspace has that name), and under a workspace: ``experiments``, ``runs`` (filters:
  ``experiment``, ``status``, ``kind``, ``parent``, ``include_children``, ``created_after``,
  ``created_before``; pages of ``top`` runs, newest first, with ``skip`` or the
  ``continuation`` token of the previous page, a ``count`` of all matches and a ``nextLink``),
  ``pipelines`` (published), ``models``, ``datasets`` and ``environments`` (each name's
  versions, newest first).
- ``/runs/{run_id}`` (the run with its direct children: a pipeline run's steps),
  ``/runs/{run_id}/metrics``, ``/log`` (from a byte ``offset``, for tailing), ``/artifacts``,
  ``/artifacts/{name}`` (the file), ``/outputs``; ``/pipelines/{pipeline_id}``.

Reads need no key on a loopback bind, a key otherwise (``auth.read_access``). Unknown ids are
404 and bad values 400/422, with a JSON ``detail`` saying what to send instead. Runs whose
runner process died are settled (marked Failed) before they are shown, as ``amlocal run``
does. Run lists are filtered, counted and paged in the store (SQL), without reading the runs'
definitions: a page costs the same with 100 or 10,000 runs.
"""
from __future__ import annotations

import base64
import binascii
import enum
import json
import mimetypes
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Path as PathParam, Query, Request
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from .._status import PIPELINE_LOG, STD_LOG, TERMINAL, RunStatus
from ..core._metrics import shape_metrics
from ..runservice import _validate
from . import api_read_models as m
from .auth import read_access

router = APIRouter(prefix="/api/v1", tags=["read"], dependencies=[Depends(read_access)])

KIND_TYPES = {"pipeline": "azureml.PipelineRun", "step": "azureml.StepRun",
              "script": "azureml.scriptrun"}
MAX_TOP = 1000
MAX_LOG_CHUNK = 1 << 20


RunStatusName = enum.Enum("RunStatusName", {s.name: s.value for s in RunStatus}, type=str)
RunStatusName.__doc__ = "Azure's run status strings."


def _store(request: Request):
    return request.app.state.store


def _not_found(message: str) -> HTTPException:
    return HTTPException(status_code=404, detail=message)


# -- workspaces ---------------------------------------------------------------------------------
def _workspace_model(info) -> m.Workspace:
    return m.Workspace(id=info.id, name=info.name, subscriptionId=info.subscription_id,
                       resourceGroup=info.resource_group, location=info.location,
                       defaultDatastore=info.default_datastore, createdUtc=info.created_at)


def _find_workspace(store, key: str):
    infos = store.find_workspaces()
    by_id = [i for i in infos if i.id == key]
    if by_id:
        return by_id[0]
    named = [i for i in infos if i.name == key]
    if len(named) == 1:
        return named[0]
    if named:
        raise HTTPException(status_code=400, detail=(
            f"several workspaces are named {key!r} (resource groups "
            f"{', '.join(sorted(i.resource_group for i in named))}); use the workspace id "
            "from GET /api/v1/workspaces"))
    raise _not_found(f"no workspace with id or name {key!r}; GET /api/v1/workspaces lists them")


WorkspaceKey = PathParam(description="the workspace id, or its name when it is unique")


@router.get("/workspaces", response_model=list[m.Workspace])
def list_workspaces(request: Request):
    return [_workspace_model(i) for i in _store(request).find_workspaces()]


@router.get("/workspaces/{workspace}", response_model=m.Workspace)
def get_workspace(request: Request, workspace: str = WorkspaceKey):
    return _workspace_model(_find_workspace(_store(request), workspace))


# -- experiments --------------------------------------------------------------------------------
def _experiment_model(info) -> m.Experiment:
    return m.Experiment(name=info.name, workspaceId=info.workspace_id, createdUtc=info.created_at,
                        tags=dict(info.tags or {}), archived=info.archived_time is not None,
                        archivedUtc=info.archived_time)


@router.get("/workspaces/{workspace}/experiments", response_model=list[m.Experiment])
def list_experiments(request: Request, workspace: str = WorkspaceKey,
                     include_archived: bool = Query(False, description="archived ones too")):
    store = _store(request)
    ws = _find_workspace(store, workspace)
    return [_experiment_model(e) for e in store.list_experiments(ws.id)
            if include_archived or e.archived_time is None]


@router.get("/workspaces/{workspace}/experiments/{experiment}", response_model=m.Experiment)
def get_experiment(request: Request, experiment: str, workspace: str = WorkspaceKey):
    store = _store(request)
    ws = _find_workspace(store, workspace)
    info = store.get_experiment(ws.id, experiment)
    if info is None:
        raise _not_found(f"no experiment {experiment!r} in workspace '{ws.name}'")
    return _experiment_model(info)


# -- runs ---------------------------------------------------------------------------------------
def _run_summary(info) -> m.RunSummary:
    return m.RunSummary(
        runId=info.id, displayName=info.name, type=KIND_TYPES.get(info.kind, info.kind),
        kind=info.kind, status=info.status, experiment=info.experiment,
        workspaceId=info.workspace_id, target=info.target, parentRunId=info.parent_id,
        createdUtc=info.created_at, startTimeUtc=info.started_at, endTimeUtc=info.ended_at,
        tags=dict(info.tags or {}), properties=dict(info.properties or {}), error=info.error,
        reusedFrom=info.reused_from)


def _settled(store, infos: list) -> list:
    """``infos`` again after settling the runs among them whose runner died."""
    from .._engine.settle import settle_runs
    live = [i for i in infos if i.status not in TERMINAL]
    if live and settle_runs(store, live):
        return [store.get_run(i.id) or i for i in infos]
    return infos


def settle_active(store, workspace_id: str, experiment: str | None = None) -> None:
    """Settle the unfinished runs (found by status, through an index) whose runner died, so a
    list paged in the store shows them Failed and counts them so."""
    from .._engine.settle import settle_runs
    live = store.list_runs(workspace_id, experiment, with_definition=False,
                           statuses=[s.value for s in RunStatus if s not in TERMINAL])
    if live:
        settle_runs(store, live)


def _get_run(store, run_id: str):
    _validate.run_id(run_id)
    info = store.get_run(run_id)
    if info is None:
        raise _not_found(f"no run with id {run_id!r}; GET /api/v1/workspaces/{{workspace}}/runs "
                         "lists runs")
    return _settled(store, [info])[0]


def _utc_text(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        moment = moment.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        raise HTTPException(status_code=400, detail=(
            f"{moment.isoformat()} is out of range in UTC; give a time between the years "
            "1 and 9999")) from None
    return f"{moment.year:04d}" + moment.strftime("-%m-%dT%H:%M:%S.%fZ")


def _encode_token(info) -> str:
    raw = json.dumps([info.created_at, info.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        created, run_id = json.loads(raw)
        if isinstance(created, str) and isinstance(run_id, str):
            return created, run_id
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        pass
    raise HTTPException(status_code=400, detail=(
        "continuation is not a token this server gave: pass the continuationToken of the "
        "previous page unchanged, or leave it out for the first page"))


@router.get("/workspaces/{workspace}/runs", response_model=m.RunPage)
def list_runs(
        request: Request, workspace: str = WorkspaceKey,
        experiment: str | None = Query(None, description="only runs of this experiment"),
        status: RunStatusName | None = Query(None, description="only runs with this status"),
        kind: m.RunKind | None = Query(None, description="pipeline, step or script"),
        parent: str | None = Query(None, description="only the children of this run"),
        include_children: bool = Query(False, description="step runs too (child runs)"),
        created_after: datetime | None = Query(
            None, description="runs created after this moment (ISO-8601; UTC when no zone)"),
        created_before: datetime | None = Query(
            None, description="runs created before this moment (ISO-8601; UTC when no zone)"),
        skip: int = Query(0, ge=0, le=10**9, description="runs to skip"),
        top: int = Query(100, ge=1, le=MAX_TOP, description="runs per page"),
        continuation: str | None = Query(None, max_length=2000,
                                         description="the continuationToken of the previous page")):
    store = _store(request)
    ws = _find_workspace(store, workspace)
    if parent is not None:
        _validate.run_id(parent, "parent")
    filters = {"parent_id": parent, "kind": kind.value if kind else None,
               "top_level": not (include_children or parent is not None
                                 or kind == m.RunKind.step),
               "statuses": None if status is None else [status.value],
               "created_after": _utc_text(created_after),
               "created_before": _utc_text(created_before)}
    settle_active(store, ws.id, experiment)
    before = _decode_token(continuation) if continuation is not None else None
    found = store.list_runs(ws.id, experiment, before=before, offset=skip, limit=top + 1,
                            with_definition=False, **filters)
    page, more = found[:top], len(found) > top
    total = store.count_runs(ws.id, experiment, **filters)
    token = _encode_token(page[-1]) if more and page else None
    next_link = None
    if token:
        params = [(k, v) for k, v in request.query_params.multi_items()
                  if k not in ("skip", "continuation")] + [("continuation", token)]
        next_link = str(request.url.replace(query="&".join(
            f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params)))
    return m.RunPage(value=[_run_summary(i) for i in page], count=total, nextLink=next_link,
                     continuationToken=token)


RunId = PathParam(description="the run id", max_length=256)


@router.get("/runs/{run_id}", response_model=m.RunDetail)
def get_run(request: Request, run_id: str = RunId):
    store = _store(request)
    info = _get_run(store, run_id)
    children = sorted(store.list_runs(parent_id=info.id), key=lambda i: (i.created_at, i.id))
    return m.RunDetail(**_run_summary(info).model_dump(),
                       children=[_run_summary(c) for c in _settled(store, children)],
                       files=store.list_artifacts(info.id),
                       inputDatasets=list((info.definition or {}).get("inputDatasets") or []))


@router.get("/runs/{run_id}/metrics", response_model=m.Metrics)
def get_metrics(request: Request, run_id: str = RunId,
                name: str | None = Query(None, description="only this metric")):
    store = _store(request)
    info = _get_run(store, run_id)
    records = [r for r in store.get_metric_records(info.id) if name is None or r.name == name]
    kinds = {}
    for record in records:
        kinds[record.name] = record.kind
    return m.Metrics(runId=info.id, metrics=shape_metrics(records), kinds=kinds)


def _steps_log(store, info) -> bytes:
    """A pipeline run's steps' logs, each line prefixed with ``[step name]`` (for runs whose
    runner kept no live pipeline log)."""
    lines = []
    for step in sorted(store.list_runs(parent_id=info.id), key=lambda i: (i.created_at, i.id)):
        text = store.read_artifact(step.id, STD_LOG).decode("utf-8", "replace")
        lines += [f"[{step.name}] {line}\n" for line in text.splitlines()]
    return "".join(lines).encode()


@router.get("/runs/{run_id}/log", response_model=m.LogChunk)
def get_log(request: Request, run_id: str = RunId,
            offset: int = Query(0, ge=0, le=1 << 40, description="byte offset to read from"),
            step: str | None = Query(None, description="for a pipeline run: this step's log")):
    """The run's log from ``offset`` on (a pipeline run: every step's lines prefixed with the
    step name). While the run goes on only whole lines are returned; read again from
    ``nextOffset`` to follow it."""
    store = _store(request)
    info = _get_run(store, run_id)
    if step is not None:
        if info.kind != "pipeline":
            raise HTTPException(status_code=400, detail=(
                f"run {info.id} is not a pipeline run; `step` selects a step of a pipeline run"))
        found = [s for s in store.list_runs(parent_id=info.id) if s.name == step]
        if not found:
            raise _not_found(f"pipeline run {info.id} has no step {step!r}")
        info = _settled(store, [found[0]])[0]
    name = PIPELINE_LOG if info.kind == "pipeline" else STD_LOG
    done = info.status in TERMINAL
    data = store.read_artifact(info.id, name, offset)
    if info.kind == "pipeline" and done and not store.read_artifact(info.id, name, 0):
        data = _steps_log(store, info)[offset:]
    if len(data) > MAX_LOG_CHUNK:
        data = data[:MAX_LOG_CHUNK]
        done = False
    end = len(data) if done else data.rfind(b"\n") + 1
    return m.LogChunk(runId=info.id, name=name, offset=offset, nextOffset=offset + end,
                      text=data[:end].decode("utf-8", "replace"), status=info.status,
                      complete=done and end == len(data))


@router.get("/runs/{run_id}/artifacts", response_model=m.Artifacts)
def list_artifacts(request: Request, run_id: str = RunId):
    store = _store(request)
    info = _get_run(store, run_id)
    return m.Artifacts(runId=info.id, files=store.list_artifacts(info.id))


@router.get("/runs/{run_id}/artifacts/{name:path}", response_class=FileResponse,
            responses={200: {"content": {"application/octet-stream": {}},
                             "description": "the file"}})
def download_artifact(request: Request, name: str, run_id: str = RunId):
    store = _store(request)
    info = _get_run(store, run_id)
    name = _validate.artifact_name(name)
    if name not in store.list_artifacts(info.id):
        raise _not_found(f"run {info.id} has no file {name!r}; GET "
                         f"/api/v1/runs/{info.id}/artifacts lists its files")
    fd, tmp = tempfile.mkstemp(prefix="amlocal-artifact-")
    os.close(fd)
    try:
        store.fetch_artifact(info.id, name, Path(tmp))
    except BaseException:
        os.unlink(tmp)
        raise
    media = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return FileResponse(tmp, media_type=media, filename=Path(name).name,
                        background=BackgroundTask(os.unlink, tmp))


def _outputs_of(info) -> dict:
    recorded = (info.definition or {}).get("outputs") or {}
    result = {}
    for key, loc in recorded.items():
        if isinstance(loc, dict) and loc.get("datastore") is not None:
            result[key] = m.OutputLocation(name=str(loc.get("name") or key),
                                           datastore=str(loc["datastore"]),
                                           path=str(loc.get("path") or ""),
                                           digest=loc.get("digest"))
    return result


@router.get("/runs/{run_id}/outputs", response_model=m.RunOutputs)
def get_outputs(request: Request, run_id: str = RunId):
    """A step run's outputs (where each lives: datastore and path), as
    ``StepRun.get_outputs()``; for a pipeline run, each step's."""
    store = _store(request)
    info = _get_run(store, run_id)
    steps = []
    if info.kind == "pipeline":
        steps = [m.StepOutputs(runId=s.id, name=s.name, outputs=_outputs_of(s))
                 for s in sorted(store.list_runs(parent_id=info.id),
                                 key=lambda i: (i.created_at, i.id))]
    return m.RunOutputs(runId=info.id, outputs=_outputs_of(info) if info.kind != "pipeline"
                        else {}, steps=steps)


# -- published pipelines ------------------------------------------------------------------------
def _endpoint(request: Request, store, info) -> str | None:
    """The URL that submits the pipeline (what ``PublishedPipeline.endpoint`` gives), on this
    server as the client reached it."""
    from ..pipeline.core.published import _SERVICE_PATH
    found = [w for w in store.find_workspaces() if w.id == info.workspace_id]
    if not found:
        return None
    ws = found[0]
    base = str(request.base_url).rstrip("/")
    return (base + _SERVICE_PATH.format(s=quote(ws.subscription_id, safe=""),
                                        rg=quote(ws.resource_group, safe=""),
                                        ws=quote(ws.name, safe=""))
            + f"/PipelineRuns/PipelineSubmit/{info.id}")


def _pipeline_model(request: Request, store, info) -> m.PublishedPipeline:
    graph = info.definition or {}
    return m.PublishedPipeline(
        id=info.id, name=info.name, description=info.description, version=info.version,
        status=info.status, workspaceId=info.workspace_id, createdUtc=info.created_at,
        continueOnStepFailure=bool(info.continue_on_step_failure),
        totalRunSteps=len(graph.get("steps") or []), endpoint=_endpoint(request, store, info),
        parameters=dict(graph.get("parameters") or {}))


@router.get("/workspaces/{workspace}/pipelines", response_model=list[m.PublishedPipeline])
def list_pipelines(request: Request, workspace: str = WorkspaceKey,
                   active_only: bool = Query(False, description="only Active ones")):
    store = _store(request)
    ws = _find_workspace(store, workspace)
    return [_pipeline_model(request, store, p) for p in store.list_pipelines(ws.id)
            if not active_only or p.status == "Active"]


@router.get("/pipelines/{pipeline_id}", response_model=m.PublishedPipeline)
def get_pipeline(request: Request, pipeline_id: str = PathParam(max_length=256)):
    store = _store(request)
    info = store.get_pipeline(pipeline_id)
    if info is None:
        raise _not_found(f"no published pipeline with id {pipeline_id!r}")
    return _pipeline_model(request, store, info)


# -- models, datasets, environments -------------------------------------------------------------
def _model_version(i) -> m.ModelVersion:
    return m.ModelVersion(id=f"{i.name}:{i.version}", name=i.name, version=i.version,
                          workspaceId=i.workspace_id, createdUtc=i.created_at,
                          description=i.description, tags=dict(i.tags or {}),
                          properties=dict(i.properties or {}), framework=i.framework,
                          frameworkVersion=i.framework_version, runId=i.run_id,
                          datasets=list(i.datasets or []))


def _dataset_version(i) -> m.DatasetVersion:
    return m.DatasetVersion(id=i.id, name=i.name, version=i.version, workspaceId=i.workspace_id,
                            createdUtc=i.created_at, description=i.description,
                            tags=dict(i.tags or {}), definition=dict(i.definition or {}))


def _environment_version(i) -> m.EnvironmentVersion:
    return m.EnvironmentVersion(name=i.name, version=i.version, workspaceId=i.workspace_id,
                                createdUtc=i.created_at, definition=dict(i.definition or {}))


def _versions(items: list, name: str | None, what: str, ws) -> list:
    """Newest version first per name; 404 when ``name`` is given and has no version."""
    chosen = sorted((i for i in items if name is None or i.name == name),
                    key=lambda i: (i.name, -i.version))
    if name is not None and not chosen:
        raise _not_found(f"no {what} named {name!r} in workspace '{ws.name}'")
    return chosen


def _latest_only(items: list) -> list:
    seen, result = set(), []
    for i in items:
        if i.name not in seen:
            seen.add(i.name)
            result.append(i)
    return result


Latest = Query(False, description="only the latest version of each name")


@router.get("/workspaces/{workspace}/models", response_model=list[m.ModelVersion])
def list_models(request: Request, workspace: str = WorkspaceKey, latest: bool = Latest):
    store = _store(request)
    ws = _find_workspace(store, workspace)
    items = _versions(store.list_models(ws.id), None, "model", ws)
    return [_model_version(i) for i in (_latest_only(items) if latest else items)]


@router.get("/workspaces/{workspace}/models/{name}", response_model=list[m.ModelVersion])
def get_model_versions(request: Request, name: str, workspace: str = WorkspaceKey):
    store = _store(request)
    ws = _find_workspace(store, workspace)
    return [_model_version(i) for i in _versions(store.list_models(ws.id), name, "model", ws)]


@router.get("/workspaces/{workspace}/datasets", response_model=list[m.DatasetVersion])
def list_datasets(request: Request, workspace: str = WorkspaceKey, latest: bool = Latest):
    store = _store(request)
    ws = _find_workspace(store, workspace)
    items = _versions(store.list_datasets(ws.id), None, "dataset", ws)
    return [_dataset_version(i) for i in (_latest_only(items) if latest else items)]


@router.get("/workspaces/{workspace}/datasets/{name}", response_model=list[m.DatasetVersion])
def get_dataset_versions(request: Request, name: str, workspace: str = WorkspaceKey):
    store = _store(request)
    ws = _find_workspace(store, workspace)
    return [_dataset_version(i)
            for i in _versions(store.list_datasets(ws.id), name, "dataset", ws)]


@router.get("/workspaces/{workspace}/environments", response_model=list[m.EnvironmentVersion])
def list_environments(request: Request, workspace: str = WorkspaceKey, latest: bool = Latest):
    store = _store(request)
    ws = _find_workspace(store, workspace)
    items = _versions(store.list_environments(ws.id), None, "environment", ws)
    return [_environment_version(i) for i in (_latest_only(items) if latest else items)]


@router.get("/workspaces/{workspace}/environments/{name}",
            response_model=list[m.EnvironmentVersion])
def get_environment_versions(request: Request, name: str, workspace: str = WorkspaceKey):
    store = _store(request)
    ws = _find_workspace(store, workspace)
    return [_environment_version(i)
            for i in _versions(store.list_environments(ws.id), name, "environment", ws)]
