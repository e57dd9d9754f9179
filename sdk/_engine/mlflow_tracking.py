"""MLflow tracking over an amlocal store: the REST API MLflow's tracking client speaks
(``<tracking uri>/api/2.0/mlflow/...`` and ``/api/2.0/mlflow-artifacts/artifacts/...``)
translated into :class:`~amlocal.store.base.Store` calls. The studio server
(``amlocal.server.mlflow_api``, over the home's store) and the loopback proxy inside a step
(``amlocal._runtime.mlflow_proxy``, over the step's run service) both answer through
:class:`Tracking`, so MLflow means the same thing in both places.

How MLflow maps onto amlocal (as Azure ML maps it onto its run history):

- an MLflow experiment is an amlocal experiment of the workspace; its ``experiment_id`` is a
  stable UUID derived from the workspace and the name (:func:`experiment_id`); ``"0"`` is
  MLflow's default experiment, the amlocal experiment ``Default``. An archived experiment is
  ``deleted``; ``delete_experiment``/``restore_experiment`` archive and reactivate it.
- an MLflow run is an amlocal script run (``Run``, ``get_metrics()``, ``Experiment.get_runs``,
  ``amlocal run list|show``); its ``artifact_uri`` is ``mlflow-artifacts:/<run id>``, and its
  files are the run's files. ``start_run(nested=True)`` (tag ``mlflow.parentRunId``) makes a child
  run. Statuses: RUNNING/SCHEDULED/FINISHED/FAILED/KILLED are Running/NotStarted/Completed/
  Failed/Canceled (a pipeline or step run's Finished reads FINISHED; CancelRequested reads KILLED).
- metrics are the run's scalar metrics, with their step and time (``run.log_list``, rows,
  tables and images are not MLflow metrics and are left out of MLflow's view of a run).
- params are run properties (both are set once and never change; logging another value for a
  param is refused, as MLflow refuses it); properties that are amlocal's or Azure's own
  bookkeeping are not shown as params. Tags are run tags; ``mlflow.runName`` is the run's name.

Inside a step (``step_run_id``) everything stays within the step's trust boundary: the step's
own run is the active run (its status is its runner's: ``end_run`` leaves it alone), a run that
``start_run`` creates is a child of the step run in the step's experiment, and the run service
refuses what a step may not do (``PERMISSION_DENIED``).

Only the standard library at module top: the step runtime imports this module.
"""
from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .._status import RunStatus
from ..errors import AmlocalError, UserErrorException
from .mlflow_search import (SearchError, match_experiment, match_run, order_runs,
                            parse_filter, whole_number)
from .mlflow_search import page as paging

API_PREFIX = "/api/2.0/"
ARTIFACTS_ROUTE = "mlflow-artifacts/artifacts"
DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT = "Default"
PARENT_TAG = "mlflow.parentRunId"
RUN_NAME_TAG = "mlflow.runName"
USER_TAG = "mlflow.user"
# a workspace's tracking URI on the studio server: Azure's shape
WORKSPACE_PREFIX = ("/mlflow/v1.0/subscriptions/{subscription_id}/resourceGroups/"
                    "{resource_group}/providers/Microsoft.MachineLearningServices/workspaces/"
                    "{workspace_name}")
_NAMESPACE = uuid.UUID("5b0c8a52-27c5-4d0e-9a51-6f6d6c666c77")
# properties that are bookkeeping, not params
_NOT_PARAMS = ("amlocal.", "azureml.", "_azureml.", "ContentSnapshotId")
_TO_MLFLOW = {RunStatus.COMPLETED: "FINISHED", RunStatus.FINISHED: "FINISHED",
              RunStatus.FAILED: "FAILED", RunStatus.CANCELED: "KILLED",
              RunStatus.CANCEL_REQUESTED: "KILLED", RunStatus.NOT_STARTED: "SCHEDULED",
              RunStatus.QUEUED: "SCHEDULED"}
_REFUSAL = re.compile(r"\bmay (not|create|call|read|write)\b")
_FROM_MLFLOW = {"RUNNING": RunStatus.RUNNING, "SCHEDULED": RunStatus.NOT_STARTED,
                "FINISHED": RunStatus.COMPLETED, "FAILED": RunStatus.FAILED,
                "KILLED": RunStatus.CANCELED}


class MlflowError(Exception):
    """An answer in MLflow's error shape: ``{"error_code": ..., "message": ...}``."""

    def __init__(self, error_code: str, message: str, status: int = 400):
        super().__init__(message)
        self.error_code = error_code
        self.message = message
        self.status = status

    def body(self) -> dict:
        return {"error_code": self.error_code, "message": self.message}


def _missing(what: str) -> MlflowError:
    return MlflowError("RESOURCE_DOES_NOT_EXIST", what, 404)


def _bad(message: str) -> MlflowError:
    return MlflowError("INVALID_PARAMETER_VALUE", message, 400)


@dataclass(frozen=True)
class Reply:
    """A JSON answer, or a file to send (``file``; the caller removes its scratch folder)."""

    status: int = 200
    json: dict | None = None
    file: Path | None = None


def experiment_id(workspace_id: str, name: str) -> str:
    """The MLflow id of experiment ``name`` of a workspace (stable; ``"0"`` for Default)."""
    if name == DEFAULT_EXPERIMENT:
        return DEFAULT_EXPERIMENT_ID
    return str(uuid.uuid5(_NAMESPACE, f"{workspace_id}/{name}"))


def tracking_path(subscription_id: str, resource_group: str, workspace_name: str) -> str:
    """The path of a workspace's tracking URI on the studio server (URL-quoted)."""
    from urllib.parse import quote
    return WORKSPACE_PREFIX.format(subscription_id=quote(subscription_id, safe=""),
                                   resource_group=quote(resource_group, safe=""),
                                   workspace_name=quote(workspace_name, safe=""))


def to_mlflow_status(status: str) -> str:
    value = RunStatus.of(status)
    return _TO_MLFLOW.get(value, "RUNNING")


def _ms(text: str | None) -> int | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


def _iso(ms) -> str:
    try:
        value = int(ms)
        moment = datetime.fromtimestamp(value / 1000, timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        raise _bad(f"{ms!r} is not a time in milliseconds since 1970") from None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _text(args: dict, key: str, *, required: bool = True, default: str | None = None) -> str | None:
    value = args.get(key)
    if value is None or value == "":
        if required:
            raise _bad(f"missing value for required parameter '{key}'")
        return default
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _bad(f"parameter '{key}' must be a string, not {type(value).__name__}")
    return str(value)


def _number(value, key: str) -> float:
    if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity"):
        return float(value.replace("Infinity", "inf"))
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _bad(f"metric '{key}' must have a number as its value, not {value!r}")
    try:
        return float(value)
    except OverflowError:
        raise _bad(f"metric '{key}' has a value too large for a double: {value!r}") from None


def _pairs(args: dict, key: str) -> list[tuple[str, str]]:
    value = args.get(key) or []
    if not isinstance(value, list):
        raise _bad(f"parameter '{key}' must be a list of {{\"key\": ..., \"value\": ...}}")
    pairs = []
    for item in value:
        if not isinstance(item, dict):
            raise _bad(f"every entry of '{key}' is an object {{\"key\": ..., \"value\": ...}}")
        pairs.append((_text(item, "key"), _text(item, "value", required=False, default="")))
    return pairs


class Tracking:
    """Answers MLflow requests over ``store`` for one workspace (see the module docstring).
    ``step_run_id``: answering inside that step run (through its run service)."""

    def __init__(self, store, workspace_id: str, *, step_run_id: str | None = None,
                 step_experiment: str | None = None):
        self.store = store
        self.workspace_id = workspace_id
        self.step_run_id = step_run_id
        self.step_experiment = step_experiment
        self._routes = {
            ("GET", "mlflow/experiments/get-by-name"): self.experiment_by_name,
            ("GET", "mlflow/experiments/get"): self.get_experiment,
            ("POST", "mlflow/experiments/create"): self.create_experiment,
            ("POST", "mlflow/experiments/search"): self.search_experiments,
            ("GET", "mlflow/experiments/search"): self.search_experiments,
            ("GET", "mlflow/experiments/list"): self.search_experiments,
            ("POST", "mlflow/experiments/set-experiment-tag"): self.set_experiment_tag,
            ("POST", "mlflow/experiments/delete"): self.delete_experiment,
            ("POST", "mlflow/experiments/restore"): self.restore_experiment,
            ("POST", "mlflow/runs/create"): self.create_run,
            ("GET", "mlflow/runs/get"): self.get_run,
            ("POST", "mlflow/runs/update"): self.update_run,
            ("POST", "mlflow/runs/log-metric"): self.log_metric,
            ("POST", "mlflow/runs/log-parameter"): self.log_param,
            ("POST", "mlflow/runs/set-tag"): self.set_tag,
            ("POST", "mlflow/runs/delete-tag"): self.delete_tag,
            ("POST", "mlflow/runs/log-batch"): self.log_batch,
            ("POST", "mlflow/runs/search"): self.search_runs,
            ("GET", "mlflow/metrics/get-history"): self.metric_history,
        }

    def routes(self) -> list[tuple[str, str]]:
        """The ``(method, route)`` pairs served besides the run files (``ARTIFACTS_ROUTE``)."""
        return sorted(self._routes)

    # -- dispatch ---------------------------------------------------------------------------
    def handle(self, method: str, route: str, args: dict, *, upload: Path | None = None,
               scratch: Path | None = None) -> Reply:
        """Answer ``method route`` (``route`` is what follows ``/api/2.0/``); ``args`` are the
        query parameters merged with the JSON body; ``upload`` is a PUT's body saved to a file;
        ``scratch`` a folder a download may be written to. Never raises for bad input."""
        try:
            method = method.upper()
            if route == ARTIFACTS_ROUTE or route.startswith(ARTIFACTS_ROUTE + "/"):
                return self._artifacts(method, route[len(ARTIFACTS_ROUTE):].strip("/"), args,
                                       upload, scratch)
            handler = self._routes.get((method, route))
            if handler is None:
                raise MlflowError("ENDPOINT_NOT_FOUND", f"amlocal's MLflow tracking does not "
                                  f"serve {method} {API_PREFIX}{route}; it serves: "
                                  f"{', '.join(sorted({r for _, r in self._routes}))} and "
                                  f"{ARTIFACTS_ROUTE}", 404)
            return Reply(200, handler(args))
        except MlflowError as exc:
            return Reply(exc.status, exc.body())
        except SearchError as exc:
            return Reply(400, {"error_code": "INVALID_PARAMETER_VALUE", "message": str(exc)})
        except UserErrorException as exc:
            # inside a step the run service's refusals (403 there) arrive as this class too
            if self.step_run_id and _REFUSAL.search(str(exc)):
                return Reply(403, {"error_code": "PERMISSION_DENIED", "message": str(exc)})
            return Reply(400, {"error_code": "INVALID_PARAMETER_VALUE", "message": str(exc)})
        except (AmlocalError, ValueError, TypeError, KeyError) as exc:
            return Reply(400, {"error_code": "INVALID_PARAMETER_VALUE", "message": str(exc)})

    # -- experiments ------------------------------------------------------------------------
    def _experiment_json(self, info) -> dict:
        eid = experiment_id(self.workspace_id, info.name)
        return {"experiment_id": eid, "name": info.name,
                "artifact_location": f"mlflow-artifacts:/experiments/{eid}",
                "lifecycle_stage": "deleted" if info.archived_time else "active",
                "creation_time": _ms(info.created_at), "last_update_time": _ms(info.created_at),
                "tags": [{"key": k, "value": "" if v is None else str(v)}
                         for k, v in sorted((info.tags or {}).items())]}

    def _experiment(self, eid: str):
        """The ExperimentInfo with MLflow id ``eid`` (Default is made when asked for)."""
        if eid == DEFAULT_EXPERIMENT_ID:
            return (self.store.get_experiment(self.workspace_id, DEFAULT_EXPERIMENT)
                    or _default_info(self.workspace_id))
        for info in self.store.list_experiments(self.workspace_id):
            if experiment_id(self.workspace_id, info.name) == eid:
                return info
        raise _missing(f"no experiment with id {eid!r} in this workspace (MLflow ids: "
                       "mlflow.get_experiment_by_name(name).experiment_id)")

    def experiment_by_name(self, args: dict) -> dict:
        name = _text(args, "experiment_name")
        info = self.store.get_experiment(self.workspace_id, name)
        if info is None and name == DEFAULT_EXPERIMENT:
            info = _default_info(self.workspace_id)
        if info is None:
            raise _missing(f"no experiment named {name!r} in this workspace")
        return {"experiment": self._experiment_json(info)}

    def get_experiment(self, args: dict) -> dict:
        return {"experiment": self._experiment_json(self._experiment(_text(args,
                                                                           "experiment_id")))}

    def create_experiment(self, args: dict) -> dict:
        from ..runservice import _validate as check
        name = check.experiment_name(_text(args, "name"))
        tags = dict(_pairs(args, "tags"))
        if self.store.get_experiment(self.workspace_id, name) is not None:
            raise MlflowError("RESOURCE_ALREADY_EXISTS",
                              f"experiment {name!r} already exists in this workspace")
        self.store.ensure_experiment(self.workspace_id, name)
        if tags:
            self._host_only("experiment tags")
            self.store.update_experiment(self.workspace_id, name, set_tags=tags)
        return {"experiment_id": experiment_id(self.workspace_id, name)}

    def search_experiments(self, args: dict) -> dict:
        view = str(args.get("view_type") or "ACTIVE_ONLY").upper()
        if view not in ("ACTIVE_ONLY", "DELETED_ONLY", "ALL"):
            raise _bad(f"view_type {view!r} is not one of ACTIVE_ONLY, DELETED_ONLY, ALL")
        infos = self.store.list_experiments(self.workspace_id)
        if not any(i.name == DEFAULT_EXPERIMENT for i in infos):
            infos = [_default_info(self.workspace_id), *infos]
        found = [self._experiment_json(i) for i in infos
                 if view == "ALL" or (view == "DELETED_ONLY") == bool(i.archived_time)]
        clauses = parse_filter(args.get("filter"), ("attribute", "tag"))
        found = [e for e in found if all(match_experiment(e, c) for c in clauses)]
        page, token = paging(found, args)
        return {"experiments": page, **({"next_page_token": token} if token else {})}

    def set_experiment_tag(self, args: dict) -> dict:
        info = self._experiment(_text(args, "experiment_id"))
        self._host_only("experiment tags")
        self.store.ensure_experiment(self.workspace_id, info.name)
        self.store.update_experiment(self.workspace_id, info.name,
                                     set_tags={_text(args, "key"): _text(args, "value",
                                                                         required=False,
                                                                         default="")})
        return {}

    def delete_experiment(self, args: dict, archived: bool = True) -> dict:
        info = self._experiment(_text(args, "experiment_id"))
        self._host_only("archiving experiments")
        self.store.ensure_experiment(self.workspace_id, info.name)
        self.store.update_experiment(self.workspace_id, info.name, archived=archived)
        return {}

    def restore_experiment(self, args: dict) -> dict:
        return self.delete_experiment(args, archived=False)

    def _host_only(self, what: str) -> None:
        if self.step_run_id:
            raise MlflowError("PERMISSION_DENIED", f"a step may not change {what}: change them "
                              "on the host (the studio server's tracking URI)", 403)

    # -- runs -------------------------------------------------------------------------------
    def _run(self, args: dict):
        run_id = _text(args, "run_id", required=False) or _text(args, "run_uuid")
        info = self.store.get_run(run_id)
        if info is None or info.workspace_id != self.workspace_id:
            raise _missing(f"no run with id {run_id!r} in this workspace")
        return info

    def _run_json(self, info, *, with_data: bool = True) -> dict:
        tags = {k: "" if v is None else str(v) for k, v in (info.tags or {}).items()}
        if info.name:
            tags[RUN_NAME_TAG] = info.name
        if info.parent_id:
            tags[PARENT_TAG] = info.parent_id
        run_info = {"run_id": info.id, "run_uuid": info.id, "run_name": info.name or "",
                    "experiment_id": experiment_id(info.workspace_id, info.experiment),
                    "user_id": tags.get(USER_TAG, ""),
                    "status": to_mlflow_status(info.status),
                    "start_time": _ms(info.started_at or info.created_at),
                    "artifact_uri": f"mlflow-artifacts:/{info.id}", "lifecycle_stage": "active"}
        if info.ended_at:
            run_info["end_time"] = _ms(info.ended_at)
        if not with_data:
            return run_info
        latest: dict = {}
        for m in self._metrics(info.id):
            latest[m["key"]] = m
        params = [{"key": k, "value": str(v)} for k, v in sorted((info.properties or {}).items())
                  if not str(k).startswith(_NOT_PARAMS)]
        return {"info": run_info, "data": {
            "metrics": list(latest.values()), "params": params,
            "tags": [{"key": k, "value": v} for k, v in sorted(tags.items())]}, "inputs": {}}

    def _metrics(self, run_id: str, key: str | None = None) -> list[dict]:
        out = []
        for r in self.store.get_metric_records(run_id, name=key):  # the store filters by name
            if r.kind != "scalar":
                continue
            if isinstance(r.value, bool) or not isinstance(r.value, (int, float)):
                continue
            value = float(r.value)
            out.append({"key": r.name, "value": value if math.isfinite(value) else str(value)
                        .replace("inf", "Infinity").replace("nan", "NaN"),
                        "timestamp": _ms(r.created_at) or 0, "step": r.step or 0})
        return out

    def create_run(self, args: dict) -> dict:
        tags = dict(_pairs(args, "tags"))
        name = _text(args, "run_name", required=False) or tags.get(RUN_NAME_TAG)
        parent_id = tags.pop(PARENT_TAG, None) or None
        if self.step_run_id:
            # inside a step: a child of the step run, in the step's experiment
            if parent_id not in (None, self.step_run_id):
                parent = self.store.get_run(parent_id)
                if parent is None or parent.workspace_id != self.workspace_id:
                    raise _missing(f"no run with id {parent_id!r} (the parent run)")
            parent_id = parent_id or self.step_run_id
            experiment = self.step_experiment
        else:
            experiment = self._experiment(_text(args, "experiment_id", required=False,
                                                default=DEFAULT_EXPERIMENT_ID)).name
            if parent_id is not None:
                parent = self.store.get_run(parent_id)
                if parent is None or parent.workspace_id != self.workspace_id:
                    raise _missing(f"no run with id {parent_id!r} (the parent run named by "
                                   f"tag {PARENT_TAG})")
        if name is not None and len(name) > 255:
            raise _bad("a run name has at most 255 characters")
        user = _text(args, "user_id", required=False)
        if user and USER_TAG not in tags:
            tags[USER_TAG] = user
        tags.pop(RUN_NAME_TAG, None)
        start = args.get("start_time")
        from ..store.entities import RunInfo, utcnow
        started = _iso(start) if start not in (None, "") else utcnow()
        info = RunInfo(id=str(uuid.uuid4()), workspace_id=self.workspace_id,
                       experiment=experiment, kind="script", status=RunStatus.RUNNING,
                       name=name, parent_id=parent_id, tags=tags,
                       # in a step the run service stamps the start of the runs a step makes
                       started_at=None if self.step_run_id else started)
        self.store.ensure_experiment(self.workspace_id, experiment)
        created = self.store.create_run(info)
        return {"run": self._run_json(self.store.get_run(created.id) or created)}

    def get_run(self, args: dict) -> dict:
        return {"run": self._run_json(self._run(args))}

    def update_run(self, args: dict) -> dict:
        info = self._run(args)
        fields: dict = {}
        status = _text(args, "status", required=False)
        if status is not None:
            if status.upper() not in _FROM_MLFLOW:
                raise _bad(f"status {status!r} is not one of {', '.join(_FROM_MLFLOW)}")
            fields["status"] = _FROM_MLFLOW[status.upper()].value
        end = args.get("end_time")
        if end not in (None, ""):
            fields["ended_at"] = _iso(end)
        name = _text(args, "run_name", required=False)
        if name is not None:
            fields["name"] = name
        if info.id == self.step_run_id or info.kind in ("pipeline", "step"):
            # a step's (or pipeline's) status and times are its runner's
            fields.clear()
        elif fields.get("status") == RunStatus.COMPLETED.value and RunStatus.of(
                info.status).terminal:
            fields.pop("status")   # end_run after run.fail()/cancel(): keep what was decided
        if fields:
            info = self.store.update_run(info.id, **fields) or self.store.get_run(info.id)
        return {"run_info": self._run_json(info, with_data=False)}

    def log_metric(self, args: dict) -> dict:
        info = self._run(args)
        self._write_metrics(info.id, [args])
        return {}

    def _write_metrics(self, run_id: str, metrics: list) -> None:
        from ..store.entities import MetricRecord, utcnow
        records = []
        for m in metrics:
            if not isinstance(m, dict):
                raise _bad("every metric is an object {\"key\", \"value\", \"timestamp\", "
                           "\"step\"}")
            key = _text(m, "key")
            stamp = m.get("timestamp")
            step = whole_number(m, "step", 0)
            if not -(1 << 63) <= step < (1 << 63):
                raise _bad(f"the step of metric '{key}' is not a 64-bit whole number: {step}")
            records.append(MetricRecord(
                name=key, kind="scalar", value=_number(m.get("value"), key), step=step,
                created_at=_iso(stamp) if stamp not in (None, "") else utcnow()))
        self.store.log_metrics(run_id, records)

    def log_param(self, args: dict) -> dict:
        info = self._run(args)
        self._write_params(info, [(_text(args, "key"), _text(args, "value", required=False,
                                                             default=""))])
        return {}

    def _write_params(self, info, pairs) -> None:
        if not pairs:
            return
        current = info.properties or {}
        for key, value in pairs:
            if key in current and str(current[key]) != value:
                raise _bad(f"Changing param values is not allowed. Param with key='{key}' was "
                           f"already logged with value='{current[key]}' for run ID="
                           f"'{info.id}'. Attempted logging new value '{value}'.")
        self.store.add_properties(info.id, dict(pairs))

    def set_tag(self, args: dict) -> dict:
        info = self._run(args)
        self._write_tags(info, [(_text(args, "key"), _text(args, "value", required=False,
                                                           default=""))])
        return {}

    def _write_tags(self, info, pairs) -> None:
        tags = dict(pairs)
        name = tags.pop(RUN_NAME_TAG, None)
        if name is not None and info.id != self.step_run_id and info.kind == "script":
            self.store.update_run(info.id, name=name)
        elif name is not None:
            tags[RUN_NAME_TAG] = name
        tags.pop(PARENT_TAG, None)    # the run's parent is fixed when it is created
        if tags:
            self.store.set_tags(info.id, tags)

    def delete_tag(self, args: dict) -> dict:
        info = self._run(args)
        key = _text(args, "key")
        if key not in (info.tags or {}):
            raise _missing(f"no tag with name: {key} in run with id {info.id}")
        self.store.remove_tags(info.id, [key])
        return {}

    def log_batch(self, args: dict) -> dict:
        info = self._run(args)
        metrics = args.get("metrics") or []
        if not isinstance(metrics, list):
            raise _bad("parameter 'metrics' must be a list")
        self._write_params(info, _pairs(args, "params"))
        self._write_tags(info, _pairs(args, "tags"))
        self._write_metrics(info.id, metrics)
        return {}

    def search_runs(self, args: dict) -> dict:
        ids = args.get("experiment_ids") or []
        if isinstance(ids, str):
            ids = [ids]
        if not isinstance(ids, list):
            raise _bad("parameter 'experiment_ids' must be a list of experiment ids")
        view = str(args.get("run_view_type") or "ACTIVE_ONLY").upper()
        if view not in ("ACTIVE_ONLY", "DELETED_ONLY", "ALL"):
            raise _bad(f"run_view_type {view!r} is not one of ACTIVE_ONLY, DELETED_ONLY, ALL")
        clauses = parse_filter(args.get("filter"), ("attribute", "metric", "param", "tag"))
        order = args.get("order_by") or []
        if isinstance(order, str):
            order = [order]
        runs = []
        if view != "DELETED_ONLY":
            for eid in ids:
                info = self._experiment(str(eid))
                for run in self.store.list_runs(workspace_id=self.workspace_id,
                                                experiment=info.name):
                    runs.append(self._run_json(run))
        runs = [r for r in runs if all(match_run(r, c) for c in clauses)]
        runs = order_runs(runs, order)
        page, token = paging(runs, args)
        return {"runs": page, **({"next_page_token": token} if token else {})}

    def metric_history(self, args: dict) -> dict:
        info = self._run(args)
        history = self._metrics(info.id, _text(args, "metric_key"))
        page, token = paging(history, args, default=25000)
        return {"metrics": page, **({"next_page_token": token} if token else {})}

    # -- artifacts --------------------------------------------------------------------------
    def _artifacts(self, method: str, path: str, args: dict, upload, scratch) -> Reply:
        from ..runservice import _validate as check
        if method == "GET" and not path:
            return Reply(200, self._list_artifacts(_text(args, "path", required=False,
                                                         default="")))
        run_id, _, name = path.partition("/")
        info = self._run({"run_id": run_id})
        if not name:
            raise _bad(f"name a file of run {run_id}: {ARTIFACTS_ROUTE}/{run_id}/<path>")
        name = check.artifact_name(name)
        if method == "PUT":
            if upload is None:
                raise _bad("a PUT carries the file's bytes as its body")
            self.store.put_artifact(info.id, name, upload)
            return Reply(200, {})
        if method == "GET":
            if name not in self.store.list_artifacts(info.id):
                raise _missing(f"run {info.id} has no file {name!r}")
            if scratch is None:
                raise _bad("downloads need a scratch folder")
            target = Path(scratch) / "artifact"
            self.store.fetch_artifact(info.id, name, target)
            return Reply(200, file=target)
        raise MlflowError("ENDPOINT_NOT_FOUND", f"{method} is not served for run files: PUT "
                          "uploads, GET downloads (amlocal never deletes a run's files)", 404)

    def _list_artifacts(self, path: str) -> dict:
        from ..runservice import _validate as check
        run_id, _, prefix = path.strip("/").partition("/")
        if not run_id:
            raise _bad("list a run's files with ?path=<run id>[/<folder>]")
        info = self._run({"run_id": run_id})
        prefix = check.artifact_name(prefix) if prefix else ""
        names = self.store.list_artifacts(info.id)
        if prefix in names:
            return {"files": [{"path": prefix.rsplit("/", 1)[-1], "is_dir": False}]}
        base = prefix + "/" if prefix else ""
        entries: dict = {}
        for name in names:
            if not name.startswith(base):
                continue
            head, sep, _ = name[len(base):].partition("/")
            entries[head] = entries.get(head, False) or bool(sep)
        return {"files": [{"path": head, "is_dir": is_dir}
                          for head, is_dir in sorted(entries.items())]}


def _default_info(workspace_id: str):
    from ..store.entities import ExperimentInfo
    return ExperimentInfo(workspace_id=workspace_id, name=DEFAULT_EXPERIMENT)


