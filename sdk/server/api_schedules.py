"""Schedules on the studio server (``/api/v1/schedules``): list them (filters ``workspace``,
``active_only``, ``pipeline_id``, ``pipeline_endpoint_id``), one schedule, its firings (every
decision the scheduler took: fired, skipped, missed, deferred, failed, newest first), the runs
it submitted, and ``POST .../enable`` / ``.../disable`` (a key required). Reads follow the
server's read rule (``auth.read_access``). Enabling and disabling go through the same
``Schedule`` methods as Python."""
from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel

from .auth import read_access, require_key

router = APIRouter(prefix="/api/v1/schedules", tags=["schedules"])

_ID = Path(..., min_length=1, max_length=64, description="the schedule id")


class RecurrenceModel(BaseModel):
    frequency: str
    interval: int
    start_time: Optional[str] = None
    time_zone: Optional[str] = None
    hours: Optional[list[int]] = None
    minutes: Optional[list[int]] = None
    week_days: Optional[list[str]] = None


class ScheduleModel(BaseModel):
    id: str
    workspace_id: str
    name: str
    description: Optional[str] = None
    status: str
    schedule_type: str
    pipeline_id: Optional[str] = None
    pipeline_endpoint_id: Optional[str] = None
    experiment_name: str
    recurrence: Optional[RecurrenceModel] = None
    datastore_name: Optional[str] = None
    path_on_datastore: Optional[str] = None
    polling_interval: Optional[int] = None
    data_path_parameter_name: Optional[str] = None
    continue_on_step_failure: Optional[bool] = None
    pipeline_parameters: dict
    created_at: str
    updated_at: str
    evaluated_until: Optional[str] = None
    next_run_time: Optional[str] = None


class FiringModel(BaseModel):
    seq: int
    decided_at: str
    due_at: Optional[str] = None
    decision: str
    reason: str
    run_id: Optional[str] = None
    data_path: Optional[str] = None
    count: int


class ScheduleRunModel(BaseModel):
    id: str
    experiment: str
    status: str
    created_at: str


def _next_run(info, now) -> Optional[str]:
    from datetime import timezone

    from ..pipeline.core._schedule_times import RecurrenceSpec, next_occurrence
    from ..store.entities import parse_utc
    from .scheduler import _iso
    if info.status != "Active" or not info.recurrence:
        return None
    spec = RecurrenceSpec.from_dict(info.recurrence)
    after = parse_utc(info.evaluated_until) or parse_utc(info.created_at)
    if not info.evaluated_until and not spec.start_time:
        return info.created_at
    try:
        return _iso(next_occurrence(spec, parse_utc(info.created_at),
                                    max(after, now).astimezone(timezone.utc)))
    except ValueError:
        return None


def _now(request: Request):
    """The scheduler's time (an injected clock in tests), else the system's."""
    from .scheduler import system_clock
    scheduler = getattr(request.app.state, "scheduler", None)
    try:
        return scheduler.clock() if scheduler is not None else system_clock()
    except (OSError, ValueError):
        return system_clock()


def _model(info, now) -> ScheduleModel:
    return ScheduleModel(**{k: v for k, v in info.__dict__.items()},
                         schedule_type=info.schedule_type, next_run_time=_next_run(info, now))


def _get(request: Request, schedule_id: str):
    info = request.app.state.store.get_schedule(schedule_id)
    if info is None:
        raise HTTPException(404, f"no schedule with id {schedule_id}; list them with "
                                 "GET /api/v1/schedules")
    return info


def _workspace_id(store, workspace: Optional[str]) -> Optional[str]:
    from .api_read import _find_workspace
    return None if workspace is None else _find_workspace(store, workspace).id


@router.get("", response_model=list[ScheduleModel], summary="List schedules")
def list_schedules(request: Request, _=Depends(read_access),
                   workspace: Optional[str] = Query(None, max_length=255,
                                                    description="a workspace id or name"),
                   active_only: bool = Query(True),
                   pipeline_id: Optional[str] = Query(None, max_length=64),
                   pipeline_endpoint_id: Optional[str] = Query(None, max_length=64)):
    """As ``Schedule.list``: with a pipeline or endpoint id, its schedules whatever their
    status; else the Active ones unless ``active_only=false``."""
    store = request.app.state.store
    found = store.list_schedules(
        _workspace_id(store, workspace),
        active_only=active_only and pipeline_id is None and pipeline_endpoint_id is None,
        pipeline_id=pipeline_id, pipeline_endpoint_id=pipeline_endpoint_id)
    now = _now(request)
    return [_model(s, now) for s in found]


@router.get("/{schedule_id}", response_model=ScheduleModel, summary="One schedule")
def get_schedule(request: Request, schedule_id: str = _ID, _=Depends(read_access)):
    return _model(_get(request, schedule_id), _now(request))


@router.get("/{schedule_id}/firings", response_model=list[FiringModel],
            summary="The scheduler's decisions for a schedule, newest first")
def list_firings(request: Request, schedule_id: str = _ID, _=Depends(read_access),
                 decision: Optional[str] = Query(
                     None, pattern="^(fired|skipped|missed|deferred|failed)$"),
                 top: int = Query(100, ge=1, le=1000)):
    _get(request, schedule_id)
    return [FiringModel(**f.__dict__) for f in request.app.state.store.list_schedule_firings(
        schedule_id, decision=decision, limit=top)]


@router.get("/{schedule_id}/runs", response_model=list[ScheduleRunModel],
            summary="The pipeline runs a schedule submitted, newest first")
def list_runs(request: Request, schedule_id: str = _ID, _=Depends(read_access)):
    _get(request, schedule_id)
    store = request.app.state.store
    runs = []
    for firing in store.list_schedule_firings(schedule_id, decision="fired"):
        info = store.get_run(firing.run_id) if firing.run_id else None
        if info is not None:
            runs.append(ScheduleRunModel(id=info.id, experiment=info.experiment,
                                         status=str(info.status), created_at=info.created_at))
    return runs


def _set_status(request: Request, schedule_id: str, enable: bool) -> ScheduleModel:
    from ..core.workspace import Workspace
    from ..pipeline.core.schedule import Schedule
    info = _get(request, schedule_id)
    store = request.app.state.store
    ws = next((w for w in store.find_workspaces() if w.id == info.workspace_id), None)
    if ws is None:
        raise HTTPException(404, f"the workspace of schedule {schedule_id} no longer exists")
    workspace = Workspace(ws.subscription_id, ws.resource_group, ws.name, _store=store, _info=ws)
    schedule = Schedule(workspace, _info=info)
    if enable:
        schedule.update(status="Active")
        scheduler = getattr(request.app.state, "scheduler", None)
        if scheduler is not None:
            scheduler.wake()
    else:
        schedule.disable()
    return _model(store.get_schedule(schedule_id), _now(request))


@router.post("/{schedule_id}/enable", response_model=ScheduleModel,
             summary="Enable a schedule (it fires from now on; nothing is back-filled)")
def enable(request: Request, schedule_id: str = _ID, _=Depends(require_key)):
    return _set_status(request, schedule_id, True)


@router.post("/{schedule_id}/disable", response_model=ScheduleModel,
             summary="Disable a schedule")
def disable(request: Request, schedule_id: str = _ID, _=Depends(require_key)):
    return _set_status(request, schedule_id, False)
