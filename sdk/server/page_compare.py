"""Two runs side by side for the studio page (``GET /api/v1/page/compare?a=ID&b=ID``).

A pipeline run is compared step by step (steps matched by their node id, else their name): each
step's status, whether it ran or was reused, its reuse key and the key's components (the
environment's lock digest, the source snapshot, the script, the resolved arguments and
parameters, the inputs' content digests, the outputs' destinations, the sandbox, the version:
see ``amlocal._engine.reuse``) with the parts that differ marked, and its environment digest. A
step run is compared as a one-step run; a script run has no steps. Parameters are a pipeline
run's parameter values (the defaults with the submitted values over them) or a script run's
arguments; metrics are compared by their last value (a series' last point), per step.
"""
from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, Field

from .._engine.reuse import COMPONENTS

SERIES = ("scalar", "list")


class RunSide(BaseModel):
    runId: str
    displayName: str | None = None
    experiment: str
    kind: str
    status: str
    createdUtc: str
    startTimeUtc: str | None = None
    endTimeUtc: str | None = None
    durationSeconds: float | None = None
    submittedVia: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    arguments: list[Any] = Field(default_factory=list)
    tags: dict[str, Any] = Field(default_factory=dict)


class ValueDiff(BaseModel):
    name: str
    a: Any = None
    b: Any = None
    differs: bool


class StepSide(BaseModel):
    runId: str
    status: str
    decision: str | None = Field(None, description="ran or reused")
    reason: str | None = None
    reusedFrom: str | None = None
    reuseKey: str | None = None
    environmentDigest: str | None = None
    image: str | None = None
    durationSeconds: float | None = None


class StepDiff(BaseModel):
    name: str
    a: StepSide | None = None
    b: StepSide | None = None
    differs: bool = Field(description="the reuse keys differ, or the step is in one run only")
    changed: list[str] = Field(default_factory=list,
                               description="the reuse key's parts that differ")
    components: list[ValueDiff] = Field(default_factory=list)


class MetricDiff(BaseModel):
    name: str
    step: str | None = Field(None, description="the step that logged it (pipeline runs)")
    kind: str
    a: Any = None
    b: Any = None
    aRunId: str | None = None
    bRunId: str | None = None
    differs: bool
    chart: str | None = Field(None, description="the page showing both series on one chart")


class Comparison(BaseModel):
    a: RunSide
    b: RunSide
    parameters: list[ValueDiff]
    steps: list[StepDiff]
    differingSteps: list[str]
    metrics: list[MetricDiff]


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    try:
        parse = lambda t: datetime.fromisoformat(t.replace("Z", "+00:00"))  # noqa: E731
        return max(0.0, (parse(end) - parse(start)).total_seconds())
    except ValueError:
        return None


def _parameters(info) -> dict:
    definition = info.definition or {}
    if info.kind == "pipeline":
        graph = definition.get("graph") or {}
        return _safe({**(graph.get("parameters") or {}), **(definition.get("parameters") or {})})
    return {}


def _side(info) -> RunSide:
    from .api_page import submitted_by          # the runs list's words: Python, CLI, REST, ...
    via = submitted_by(info.properties or {}) if info.kind != "step" else None
    arguments = (info.definition or {}).get("arguments")
    return RunSide(runId=info.id, displayName=info.name, experiment=info.experiment,
                   kind=info.kind, status=info.status, createdUtc=info.created_at,
                   startTimeUtc=info.started_at, endTimeUtc=info.ended_at,
                   durationSeconds=_seconds(info.started_at, info.ended_at),
                   submittedVia=via, parameters=_parameters(info),
                   arguments=list(arguments) if isinstance(arguments, list) else [],
                   tags=dict(info.tags or {}))


def _steps(store, info) -> dict:
    """``{key: (display name, step run)}``: a pipeline run's steps, a step run itself."""
    if info.kind == "step":
        runs = [info]
    elif info.kind == "pipeline":
        runs = sorted(store.list_runs(parent_id=info.id), key=lambda i: (i.created_at, i.id))
    else:
        return {}
    steps = {}
    for run in runs:
        key = ((run.definition or {}).get("node_id") or (run.properties or {}).get("azureml.nodeid")
               or run.name or run.id)
        steps[str(key)] = (run.name or str(key), run)
    return steps


def _reuse(run) -> dict:
    record = (run.definition or {}).get("reuse")
    return record if isinstance(record, dict) else {}


def _step_side(run) -> StepSide:
    record = _reuse(run)
    props = run.properties or {}
    return StepSide(runId=run.id, status=run.status, decision=record.get("decision"),
                    reason=record.get("reason"), reusedFrom=run.reused_from,
                    reuseKey=run.reuse_key or record.get("key"),
                    environmentDigest=props.get("amlocal.environment_digest"),
                    image=props.get("amlocal.image"),
                    durationSeconds=_seconds(run.started_at, run.ended_at))


def _component_diffs(a: dict, b: dict) -> list[ValueDiff]:
    diffs = []
    for key in COMPONENTS:
        left, right = a.get(key), b.get(key)
        if isinstance(left, dict) and isinstance(right, dict) and (left or right):
            for name in sorted(set(left) | set(right)):
                diffs.append(ValueDiff(name=f"{key}.{name}", a=left.get(name), b=right.get(name),
                                       differs=_canonical(left.get(name)) != _canonical(
                                           right.get(name))))
        else:
            diffs.append(ValueDiff(name=key, a=left, b=right,
                                   differs=_canonical(left) != _canonical(right)))
    return diffs


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _step_diffs(store, a, b) -> list[StepDiff]:
    left, right = _steps(store, a), _steps(store, b)
    if a.kind == "step" and b.kind == "step":          # two runs of a step: one row
        (_, ra), (_, rb) = next(iter(left.values())), next(iter(right.values()))
        right = {next(iter(left)): (ra.name or ra.id, rb)}
    order = list(left) + [k for k in right if k not in left]
    diffs = []
    for key in order:
        name = (left.get(key) or right.get(key))[0]
        ra, rb = (left.get(key) or (None, None))[1], (right.get(key) or (None, None))[1]
        diff = StepDiff(name=name, a=_step_side(ra) if ra else None,
                        b=_step_side(rb) if rb else None, differs=ra is None or rb is None)
        if ra is not None and rb is not None:
            ca = _reuse(ra).get("components") or {}
            cb = _reuse(rb).get("components") or {}
            diff.components = _component_diffs(ca, cb) if ca or cb else []
            diff.changed = [c.name for c in diff.components if c.differs]
            keys = (diff.a.reuseKey, diff.b.reuseKey)
            diff.differs = bool(diff.changed) or (None not in keys and keys[0] != keys[1])
        diffs.append(diff)
    return diffs


def _safe(value):
    """A JSON-safe value: non-finite numbers become text."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _safe(v) for k, v in value.items()}
    return value


def _last_values(store, run) -> dict:
    """``{name: (kind, last value)}`` of one run's metrics."""
    last = {}
    for record in store.get_metric_records(run.id):
        value = record.value
        if record.kind == "list" and isinstance(value, list):
            value = value[-1] if value else None
        elif record.kind not in SERIES:
            value = None
        last[record.name] = (record.kind, _safe(value))
    return last


def _metric_sources(store, info, steps: dict) -> dict:
    sources = {None: info}
    if info.kind == "pipeline":
        for name, run in steps.values():
            sources[name] = run
    return sources


def _metric_diffs(store, a, b) -> list[MetricDiff]:
    left = _metric_sources(store, a, _steps(store, a))
    right = _metric_sources(store, b, _steps(store, b))
    diffs = []
    for step in list(left) + [s for s in right if s not in left]:
        ra, rb = left.get(step), right.get(step)
        va = _last_values(store, ra) if ra else {}
        vb = _last_values(store, rb) if rb else {}
        for name in list(va) + [n for n in vb if n not in va]:
            ka, xa = va.get(name, (None, None))
            kb, xb = vb.get(name, (None, None))
            kind = ka or kb
            chart = None
            if ra is not None and rb is not None and kind in SERIES:
                chart = f"#/run/{quote(ra.id, safe='')}?with={quote(rb.id, safe='')}"
            diffs.append(MetricDiff(
                name=name, step=step, kind=kind, a=xa, b=xb,
                aRunId=ra.id if name in va else None, bRunId=rb.id if name in vb else None,
                differs=name not in va or name not in vb or _canonical(xa) != _canonical(xb),
                chart=chart))
    return diffs


def compare(store, a, b) -> Comparison:
    """The comparison of run records ``a`` and ``b``."""
    side_a, side_b = _side(a), _side(b)
    names = list(side_a.parameters) + [n for n in side_b.parameters if n not in side_a.parameters]
    parameters = [ValueDiff(name=n, a=side_a.parameters.get(n), b=side_b.parameters.get(n),
                            differs=(n not in side_a.parameters or n not in side_b.parameters
                                     or _canonical(side_a.parameters[n])
                                     != _canonical(side_b.parameters[n])))
                  for n in names]
    steps = _step_diffs(store, a, b)
    return Comparison(a=side_a, b=side_b, parameters=parameters, steps=steps,
                      differingSteps=[s.name for s in steps if s.differs],
                      metrics=_metric_diffs(store, a, b))
