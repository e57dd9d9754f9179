"""JSON the studio page needs beyond the read API (``/api/v1/page/...``).

- ``GET /workspaces/{workspace}/runs``: the top-level runs, filtered by ``experiment`` and
  ``status`` (as the read API) and ``submitted_by`` (Python, CLI, REST, Schedule, Rerun: from
  the run's properties ``amlocal.rerun_of``, ``amlocal.submitted_via`` and ``runSource``),
  sorted by ``sort`` (a field, ``-`` first for descending), in pages of ``top`` with the
  ``continuation`` token of the previous page. Each run carries ``submittedBy``. The store
  sorts, counts and pages (a page costs the same with 100 or 10,000 runs), except for the
  ``duration`` sort and the ``submitted_by`` filter, which sort and filter the runs' few list
  columns in this process.
- ``GET /runs/{run_id}``: one run for its page: the read API's summary, ``submittedBy``, whether
  it is ``terminal``, its parameters, environment (name and digest), script and arguments, its
  reuse record (a step), its parent and its image artifacts.
- ``GET /runs/{run_id}/graph``: a pipeline run's step graph: ``nodes`` (each step with its run,
  status and reuse record: decision, reason, changed parts, reused_from, compared_with) and
  ``edges`` (``source`` -> ``target``, ``label``: the output that flows; empty for an ordering
  dependency without data).
- ``POST /runs/{run_id}/rerun-step`` (key required): ``{"step": NAME}`` reruns that step of the
  pipeline run as ``amlocal run rerun-step`` does; answers the new run's id.
"""
from __future__ import annotations

import base64
import binascii
import json
import re

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field

from .._status import TERMINAL, RunStatus
from . import api_read
from . import api_read_models as m
from .auth import read_access, require_key

router = APIRouter(prefix="/api/v1/page", tags=["page"])

SUBMITTERS = ("Python", "CLI", "REST", "Schedule", "Rerun")
_VIA = {"sdk": "Python", "python": "Python", "cli": "CLI", "rest": "REST", "api": "REST",
        "http": "REST", "schedule": "Schedule", "rerun": "Rerun"}
SORTS = ("created", "started", "duration", "status", "name", "experiment")
IMAGE = re.compile(r"\.(png|jpe?g|gif|svg|webp)$", re.IGNORECASE)
MAX_TOP = 500
# sorts the SQL store pages itself; the others (duration: computed from two times) and the
# submitted_by filter (from several properties) go through the light in-memory list
SQL_SORTS = ("created", "started", "status", "name", "experiment")


def submitted_by(properties: dict) -> str:
    """Who submitted a run: Python (the SDK), CLI, REST, Schedule or Rerun."""
    properties = properties or {}
    if properties.get("amlocal.rerun_of"):
        return "Rerun"
    via = properties.get("amlocal.submitted_via") or properties.get("runSource") or ""
    return _VIA.get(str(via).lower(), str(via) if via else "Python")


class PageRun(m.RunSummary):
    submittedBy: str = Field(description="Python, CLI, REST, Schedule or Rerun")


class PageRuns(BaseModel):
    value: list[PageRun]
    count: int = Field(description="how many runs match the filters, over all pages")
    continuationToken: str | None = Field(
        None, description="pass as `continuation` for the next page; null on the last one")
    experiments: list[str] = Field(description="the workspace's experiments (for the filter)")


def _page_run(info) -> PageRun:
    return PageRun(**api_read._run_summary(info).model_dump(),
                   submittedBy=submitted_by(info.properties))


def _seconds(info) -> float:
    from datetime import datetime
    if not info.started_at:
        return -1.0
    try:
        start = datetime.fromisoformat(info.started_at.replace("Z", "+00:00"))
        end = (datetime.fromisoformat(info.ended_at.replace("Z", "+00:00")) if info.ended_at
               else datetime.now(start.tzinfo))
        return (end - start).total_seconds()
    except ValueError:
        return -1.0


_SORT_KEYS = {
    "created": lambda i: (i.created_at, i.id),
    "started": lambda i: (i.started_at or "", i.id),
    "duration": lambda i: (_seconds(i), i.id),
    "status": lambda i: (i.status, i.created_at, i.id),
    "name": lambda i: ((i.name or "").lower(), i.created_at, i.id),
    "experiment": lambda i: (i.experiment.lower(), i.created_at, i.id),
}


def _token(offset: int, signature: str) -> str:
    raw = json.dumps([offset, signature]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _offset(token: str, signature: str) -> int:
    try:
        offset, sig = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if isinstance(offset, int) and offset >= 0 and sig == signature:
            return offset
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        pass
    raise HTTPException(status_code=400, detail=(
        "continuation is not a token this server gave for these filters and this sort: pass the "
        "continuationToken of the previous page unchanged, or leave it out for the first page"))


class _Light:
    """The few fields of a run the list filters and sorts on."""
    __slots__ = ("id", "created_at", "started_at", "ended_at", "status", "name", "experiment",
                 "properties")

    def __init__(self, *values):
        for name, value in zip(self.__slots__, values):
            setattr(self, name, value)


def _top_level_runs(store, workspace_id: str, experiment: str | None, *,
                    properties: bool) -> list:
    """The workspace's top-level runs, light: read straight from the SQL store's table (only
    the columns a list filters and sorts on; ``properties`` when the filter needs them) when it
    has one, else through ``list_runs``. Runs not terminal are settled first."""
    engine = getattr(store, "_engine", None)
    if engine is None:
        return api_read._settled(store, store.list_runs(workspace_id, experiment, top_level=True,
                                                        with_definition=False))
    import sqlalchemy as sa

    from ..store import schema as t
    names = _Light.__slots__ if properties else _Light.__slots__[:-1]
    query = sa.select(*(t.runs.c[n] for n in names)).where(
        (t.runs.c.workspace_id == workspace_id) & t.runs.c.parent_id.is_(None))
    if experiment is not None:
        query = query.where(t.runs.c.experiment == experiment)
    with engine.connect() as conn:
        light = [_Light(*row) for row in conn.execute(query)]
    live = [i.id for i in light if RunStatus.of(i.status) not in TERMINAL]
    if live:
        settled = {i.id: i for i in api_read._settled(store, [store.get_run(r) for r in live])}
        for item in light:
            if item.id in settled:
                item.status, item.ended_at = settled[item.id].status, settled[item.id].ended_at
    return light


@router.get("/workspaces/{workspace}/runs", response_model=PageRuns,
            dependencies=[Depends(read_access)])
def list_runs(
        request: Request, workspace: str = api_read.WorkspaceKey,
        experiment: str | None = Query(None, max_length=255,
                                       description="only runs of this experiment"),
        status: api_read.RunStatusName | None = Query(None, description="only this status"),
        submitted_by_: str | None = Query(None, alias="submitted_by",
                                          description="Python, CLI, REST, Schedule or Rerun"),
        sort: str = Query("-created", description="created, started, duration, status, name or "
                                                  "experiment; a leading - sorts descending"),
        top: int = Query(50, ge=1, le=MAX_TOP, description="runs per page"),
        continuation: str | None = Query(None, max_length=2000,
                                         description="the continuationToken of the previous page")):
    store = api_read._store(request)
    ws = api_read._find_workspace(store, workspace)
    field = sort.lstrip("-")
    if field not in _SORT_KEYS or sort.count("-") > 1:
        raise HTTPException(status_code=400, detail=(
            f"cannot sort by {sort!r}: give one of {', '.join(SORTS)}, with a leading - for "
            "descending (e.g. -created, the default)"))
    if submitted_by_ is not None and submitted_by_ not in SUBMITTERS:
        raise HTTPException(status_code=400, detail=(
            f"submitted_by {submitted_by_!r} is not one of {', '.join(SUBMITTERS)}"))
    signature = "|".join(str(x) for x in (experiment, status and status.value, submitted_by_,
                                           sort))
    start = _offset(continuation, signature) if continuation else 0
    statuses = None if status is None else [status.value]
    if field in SQL_SORTS and submitted_by_ is None and hasattr(store, "sorted_runs"):
        api_read.settle_active(store, ws.id, experiment)       # paged in the store
        found = store.sorted_runs(ws.id, experiment, statuses=statuses, sort=field,
                                  descending=sort.startswith("-"), offset=start, limit=top + 1)
        page, more = found[:top], len(found) > top
        count = store.count_runs(ws.id, experiment, top_level=True, statuses=statuses)
    else:
        infos = _top_level_runs(store, ws.id, experiment, properties=submitted_by_ is not None)
        if status is not None:
            infos = [i for i in infos if i.status == status.value]
        if submitted_by_ is not None:
            infos = [i for i in infos if submitted_by(i.properties) == submitted_by_]
        infos.sort(key=_SORT_KEYS[field], reverse=sort.startswith("-"))
        page, more, count = infos[start:start + top], len(infos) > start + top, len(infos)
        page = [store.get_run(i.id) if isinstance(i, _Light) else i for i in page]
    return PageRuns(value=[_page_run(i) for i in page if i is not None], count=count,
                    continuationToken=_token(start + top, signature) if more else None,
                    experiments=sorted(e.name for e in store.list_experiments(ws.id)))


# -- one run --------------------------------------------------------------------------------------
class PageRunDetail(PageRun):
    terminal: bool
    parameters: dict = Field(default_factory=dict)
    environment: str | None = None
    environmentDigest: str | None = None
    script: str | None = None
    arguments: list = Field(default_factory=list)
    reuse: dict | None = Field(None, description="a step's reuse record")
    parent: m.RunSummary | None = None
    children: list[m.RunSummary] = Field(
        default_factory=list, description="child runs (not a pipeline's steps: see /graph)")
    childCount: int = 0
    images: list[str] = Field(default_factory=list, description="image artifacts")
    files: list[str] = Field(default_factory=list)


def _parameters(info) -> dict:
    definition = info.definition or {}
    if info.kind == "pipeline":
        graph = (definition.get("graph") or {}).get("parameters") or {}
        return {**graph, **(definition.get("parameters") or {})}
    components = (definition.get("reuse") or {}).get("components") or {}
    return dict(components.get("parameters") or {})


@router.get("/runs/{run_id}", response_model=PageRunDetail, dependencies=[Depends(read_access)])
def get_run(request: Request, run_id: str = api_read.RunId):
    store = api_read._store(request)
    info = api_read._get_run(store, run_id)
    definition = info.definition or {}
    children = sorted(store.list_runs(parent_id=info.id), key=lambda i: (i.created_at, i.id))
    parent = store.get_run(info.parent_id) if info.parent_id else None
    files = store.list_artifacts(info.id)
    shown = children if info.kind != "pipeline" else []
    arguments = definition.get("arguments")
    return PageRunDetail(
        **_page_run(info).model_dump(), terminal=RunStatus.of(info.status) in TERMINAL,
        parameters=_parameters(info), environment=definition.get("environment")
        if isinstance(definition.get("environment"), str) else None,
        environmentDigest=(info.properties or {}).get("amlocal.environment_digest"),
        script=definition.get("script"),
        arguments=list(arguments) if isinstance(arguments, list) else [],
        reuse=definition.get("reuse") if isinstance(definition.get("reuse"), dict) else None,
        parent=api_read._run_summary(parent) if parent else None,
        children=[api_read._run_summary(c) for c in api_read._settled(store, shown[:500])],
        childCount=len(children), images=[f for f in files if IMAGE.search(f)], files=files)


# -- a pipeline run's graph -----------------------------------------------------------------------
class GraphNode(BaseModel):
    id: str
    name: str
    runId: str | None = None
    status: str
    script: str | None = None
    compute: str | None = None
    startTimeUtc: str | None = None
    endTimeUtc: str | None = None
    reused: bool = False
    reuse: dict | None = Field(None, description="decision, reason, changed, reused_from, "
                                                 "compared_with")
    outputs: list[str] = Field(default_factory=list)
    inputs: list[str] = Field(default_factory=list, description="datasets and data references")


class GraphEdge(BaseModel):
    source: str
    target: str
    label: str = Field("", description="the output that flows (empty: ordering only)")


class RunGraph(BaseModel):
    runId: str
    status: str
    terminal: bool
    nodes: list[GraphNode]
    edges: list[GraphEdge]


def _reuse_report(record) -> dict | None:
    if not isinstance(record, dict):
        return None
    return {k: record.get(k) for k in ("decision", "reason", "changed", "reused_from",
                                       "compared_with")}


@router.get("/runs/{run_id}/graph", response_model=RunGraph, dependencies=[Depends(read_access)])
def get_graph(request: Request, run_id: str = api_read.RunId):
    store = api_read._store(request)
    info = api_read._get_run(store, run_id)
    if info.kind != "pipeline":
        raise HTTPException(status_code=400, detail=(
            f"run {info.id} is a {info.kind} run; only a pipeline run has a step graph"))
    steps = (((info.definition or {}).get("graph") or {}).get("steps")) or []
    runs = {}
    for step in api_read._settled(store, store.list_runs(parent_id=info.id)):
        runs.setdefault((step.definition or {}).get("node_id"), step)
    producers = {}
    for node in steps:
        for out in node.get("outputs") or ():
            producers[out.get("name")] = node.get("id")
    nodes, edges = [], []
    for node in steps:
        node_id = node.get("id")
        step = runs.get(node_id)
        record = _reuse_report((step.definition or {}).get("reuse")) if step else None
        linked = set()
        inputs = []
        for inp in node.get("inputs") or ():
            source = producers.get(inp.get("data")) if inp.get("type") == "output" else None
            if source is not None:
                edges.append(GraphEdge(source=source, target=node_id, label=inp.get("data")))
                linked.add(source)
            else:
                inputs.append(inp.get("name") or "?")
        edges += [GraphEdge(source=d, target=node_id) for d in node.get("depends_on") or ()
                  if d not in linked]
        nodes.append(GraphNode(
            id=node_id, name=node.get("name") or node_id, runId=step.id if step else None,
            status=step.status if step else RunStatus.NOT_STARTED.value,
            script=node.get("script_name"), compute=(node.get("compute") or {}).get("name"),
            startTimeUtc=step.started_at if step else None,
            endTimeUtc=step.ended_at if step else None,
            reused=bool(step and (step.reused_from or (record or {}).get("decision") == "reused")),
            reuse=record, outputs=[o.get("name") for o in node.get("outputs") or ()],
            inputs=inputs))
    return RunGraph(runId=info.id, status=info.status,
                    terminal=RunStatus.of(info.status) in TERMINAL, nodes=nodes, edges=edges)


# -- rerun one step -------------------------------------------------------------------------------
class RerunRequest(BaseModel):
    step: str = Field(min_length=1, max_length=255, description="the step's name")


class RerunAnswer(BaseModel):
    runId: str = Field(description="the new pipeline run (of that one step)")
    rerunOf: str = Field(description="the step run it reruns")


@router.post("/runs/{run_id}/rerun-step", response_model=RerunAnswer,
             dependencies=[Depends(require_key)])
def rerun_step(request: Request, run_id: str = api_read.RunId,
               body: RerunRequest = Body(...)):
    from .._engine.rerun import rerun_step as rerun
    store = api_read._store(request)
    info = api_read._get_run(store, run_id)
    if info.kind != "pipeline":
        raise HTTPException(status_code=400, detail=(
            f"run {info.id} is a {info.kind} run; give the pipeline run that holds the step"))
    new = rerun(store, info.id, body.step)   # UserErrorException -> 400/404 JSON (app.py)
    return RerunAnswer(runId=new.id, rerunOf=(new.properties or {}).get("amlocal.rerun_of", ""))
