"""``azureml.pipeline.core.schedule``: ``Schedule``, ``ScheduleRecurrence``, ``TimeZone``.

A schedule submits a published pipeline (``Schedule.create``) or a pipeline endpoint's default
version (``create_for_pipeline_endpoint``) on a recurrence, or when files are added or changed
under a datastore path. The home's studio server fires them (``amlocal.server.scheduler``):
``Schedule.create`` starts it in the background when none runs, and a restarted server picks the
schedules up from the store. Every firing decision (fired, skipped, missed, deferred, failed) is
recorded: ``Schedule._get_firings()``, ``GET /api/v1/schedules/{id}/firings``.

Deliberate differences from Azure:

- Datastore schedules: Azure accepts only Azure Blob datastores (``Datastore must be of type
  AzureBlobDatastore``); amlocal watches every datastore it has (``file://`` folders, Azure Blob
  containers including Azurite, and the other fsspec stores). Only files directly under
  ``path_on_datastore`` count, as on Azure; files there when the schedule is created do not fire.
- ``wait_for_provisioning`` has nothing to wait for: a schedule is active once created.
- ``create`` with neither a recurrence nor a datastore raises UserErrorException (Azure's client
  sends it and makes a DataStore schedule with no datastore, which never fires).
- ``create``/``update`` check ``pipeline_parameters`` against the pipeline (unknown names, wrong
  types) and that ``data_path_parameter_name`` is a DataPath parameter, before anything fires;
  Azure's service finds out at the first firing.
- ``get_all`` keeps ``pipeline_endpoint_id`` (Azure's drops it).
- Rules Azure leaves open (module docstring of ``amlocal.server.scheduler``): a firing while the
  previous run of the schedule still runs is skipped and recorded; firings missed while the
  server was down give at most one catch-up run.
"""
from __future__ import annotations

import logging
import uuid

from ...errors import NotFoundError, UserErrorException
from ._schedule_recurrence import ScheduleRecurrence, TimeZone

__all__ = ["Schedule", "ScheduleRecurrence", "TimeZone"]

_YAML_KEYS = ("description", "pipeline_parameters", "wait_for_provisioning", "wait_timeout",
              "datastore_name", "polling_interval", "data_path_parameter_name",
              "continue_on_step_failure", "path_on_datastore", "recurrence")
_RECURRENCE_YAML_KEYS = ("frequency", "interval", "start_time", "time_zone", "hours", "minutes",
                         "time_of_day", "week_days")


def _ensure_server() -> None:
    from ... import _context
    from ..._engine import studio
    if _context.job_context() is None:
        studio.ensure_running()


def _check_kind(recurrence, datastore, data_path_parameter_name, path_on_datastore) -> None:
    if recurrence is not None:
        if datastore is not None:
            raise ValueError("Can not specify both a Recurrence and a Datastore")
        if data_path_parameter_name is not None:
            raise ValueError("Data Path parameter name can only be specified for Datastore "
                             "schedules.")
        if path_on_datastore is not None:
            raise ValueError("Path on datastore parameter can only be specified for Datastore "
                             "schedules.")
        if not isinstance(recurrence, ScheduleRecurrence):
            raise ValueError("recurrence must be a ScheduleRecurrence, e.g. "
                             "ScheduleRecurrence(frequency='Hour', interval=1)")
        recurrence.validate()


def _datastore_name(workspace, datastore) -> str | None:
    """Any datastore amlocal has (Azure: AzureBlob only; see the module docstring)."""
    if datastore is None:
        return None
    name = getattr(datastore, "name", None)
    if not isinstance(name, str):
        raise ValueError("datastore must be a Datastore, e.g. Datastore.get(ws, 'mystore')")
    if workspace._store.get_datastore(workspace._id, name) is None:
        raise NotFoundError(f"no datastore '{name}' in workspace '{workspace.name}'")
    return name


def _polling_interval(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"The polling interval must be greater than 0 (minutes), not {value!r}")
    return value


def _target_graph(workspace, pipeline_id, pipeline_endpoint_id) -> dict:
    """The graph the schedule would run today (a published pipeline's, or an endpoint's default
    version's); raises NotFoundError for an unknown id."""
    from .published import PublishedPipeline
    if pipeline_id is not None:
        return PublishedPipeline.get(workspace, pipeline_id).get_graph()
    from .pipeline_endpoint import PipelineEndpoint
    return PipelineEndpoint.get(workspace, id=pipeline_endpoint_id).get_pipeline().get_graph()


def _stored_parameters(workspace, graph: dict, given: dict | None,
                       data_path_parameter_name: str | None) -> dict:
    """The given pipeline parameters checked against the graph (unknown names and wrong types
    raise now, not at the first firing), in the JSON form the store keeps."""
    from ._submit import resolve_parameters
    if given is not None and not isinstance(given, dict):
        raise UserErrorException("pipeline_parameters must be a dict {name: value}")
    resolved = resolve_parameters(graph, given or {}, workspace)
    if data_path_parameter_name is not None:
        default = graph.get("parameters", {}).get(data_path_parameter_name)
        if not (isinstance(default, dict) and default.get("kind") == "datapath"):
            raise UserErrorException(
                f"data_path_parameter_name '{data_path_parameter_name}' is not a DataPath "
                "pipeline parameter of the scheduled pipeline; its DataPath parameters: "
                + (", ".join(sorted(n for n, v in graph.get("parameters", {}).items()
                                    if isinstance(v, dict) and v.get("kind") == "datapath"))
                   or "(none)"))
    return {name: resolved[name] for name in (given or {})}


class Schedule:
    """A schedule of a published pipeline or pipeline endpoint. Made by :meth:`create` or
    :meth:`create_for_pipeline_endpoint`, found by :meth:`get` and :meth:`list`."""

    def __init__(self, workspace, id=None, name=None, description=None, pipeline_id=None,
                 status=None, recurrence=None, datastore_name=None, polling_interval=None,
                 data_path_parameter_name=None, continue_on_step_failure=None,
                 path_on_datastore=None, _schedule_provider=None, pipeline_endpoint_id=None,
                 *, _info=None):
        self._workspace = workspace
        if _info is None:
            _info = workspace._store.get_schedule(id)
            if _info is None or _info.workspace_id != workspace._id:
                raise NotFoundError(f"no schedule with id {id} in workspace '{workspace.name}'; "
                                    "list them with Schedule.list(workspace)")
        self._set_info(_info)

    def _set_info(self, info) -> None:
        self._info = info
        self._recurrence = (ScheduleRecurrence._from_spec(info.recurrence)
                            if info.recurrence else None)

    # -- properties -------------------------------------------------------------------------
    id = property(lambda self: self._info.id)
    name = property(lambda self: self._info.name)
    description = property(lambda self: self._info.description)
    pipeline_id = property(lambda self: self._info.pipeline_id)
    pipeline_endpoint_id = property(lambda self: self._info.pipeline_endpoint_id)
    status = property(lambda self: self._info.status)
    recurrence = property(lambda self: self._recurrence)
    datastore_name = property(lambda self: self._info.datastore_name)
    polling_interval = property(lambda self: self._info.polling_interval)
    data_path_parameter_name = property(lambda self: self._info.data_path_parameter_name)
    continue_on_step_failure = property(lambda self: self._info.continue_on_step_failure)
    path_on_datastore = property(lambda self: self._info.path_on_datastore)
    _schedule_type = property(lambda self: self._info.schedule_type)

    # -- creating ---------------------------------------------------------------------------
    @staticmethod
    def create(workspace, name, pipeline_id, experiment_name, recurrence=None, description=None,
               pipeline_parameters=None, wait_for_provisioning=False, wait_timeout=3600,
               datastore=None, polling_interval=5, data_path_parameter_name=None,
               continue_on_step_failure=None, path_on_datastore=None, _workflow_provider=None,
               _service_endpoint=None) -> "Schedule":
        """Schedule published pipeline ``pipeline_id`` to run in experiment ``experiment_name``
        on ``recurrence``, or when files are added or changed directly under
        ``path_on_datastore`` of ``datastore`` (polled every ``polling_interval`` minutes; with
        ``data_path_parameter_name`` the changed file is passed in that DataPath parameter)."""
        return Schedule._create(workspace, name, experiment_name, recurrence, description,
                                pipeline_parameters, datastore, polling_interval,
                                data_path_parameter_name, continue_on_step_failure,
                                path_on_datastore, pipeline_id=pipeline_id)

    @staticmethod
    def create_for_pipeline_endpoint(workspace, name, pipeline_endpoint_id, experiment_name,
                                     recurrence=None, description=None, pipeline_parameters=None,
                                     wait_for_provisioning=False, wait_timeout=3600,
                                     datastore=None, polling_interval=5,
                                     data_path_parameter_name=None, continue_on_step_failure=None,
                                     path_on_datastore=None, _workflow_provider=None,
                                     _service_endpoint=None) -> "Schedule":
        """As :meth:`create`, for a pipeline endpoint: each firing runs the endpoint's default
        version at that time."""
        return Schedule._create(workspace, name, experiment_name, recurrence, description,
                                pipeline_parameters, datastore, polling_interval,
                                data_path_parameter_name, continue_on_step_failure,
                                path_on_datastore, pipeline_endpoint_id=pipeline_endpoint_id)

    @staticmethod
    def _create(workspace, name, experiment_name, recurrence, description, pipeline_parameters,
                datastore, polling_interval, data_path_parameter_name, continue_on_step_failure,
                path_on_datastore, pipeline_id=None, pipeline_endpoint_id=None) -> "Schedule":
        from ...store.entities import utcnow
        from ...store.sql_schedules import ScheduleInfo
        from ._schedule_data import _clean, list_watched
        _check_kind(recurrence, datastore, data_path_parameter_name, path_on_datastore)
        if not isinstance(name, str) or not name.strip():
            raise UserErrorException("a schedule needs a name, e.g. Schedule.create(ws, "
                                     "name='hourly', ...)")
        if not isinstance(experiment_name, str) or not experiment_name.strip():
            raise UserErrorException("a schedule needs the experiment_name its runs go to")
        store_name = _datastore_name(workspace, datastore)
        is_datastore = recurrence is None
        if is_datastore:
            if store_name is None:
                raise UserErrorException(
                    "a schedule needs a recurrence (ScheduleRecurrence(frequency='Hour', "
                    "interval=1)) or a datastore to watch (datastore=Datastore.get(ws, name))")
            polling_interval = _polling_interval(polling_interval)
        graph = _target_graph(workspace, pipeline_id, pipeline_endpoint_id)
        parameters = _stored_parameters(workspace, graph, pipeline_parameters,
                                        data_path_parameter_name)
        now = utcnow()
        info = ScheduleInfo(
            id=str(uuid.uuid4()), workspace_id=workspace._id, name=name,
            experiment_name=experiment_name, description=description, pipeline_id=pipeline_id,
            pipeline_endpoint_id=pipeline_endpoint_id,
            recurrence=recurrence._spec().to_dict() if recurrence is not None else None,
            datastore_name=store_name, polling_interval=polling_interval if is_datastore else None,
            path_on_datastore=_clean(path_on_datastore) or None if is_datastore else None,
            data_path_parameter_name=data_path_parameter_name,
            continue_on_step_failure=continue_on_step_failure,
            pipeline_parameters=parameters, created_at=now, updated_at=now,
            evaluated_until=now if is_datastore else None)
        if is_datastore:   # files already there when the schedule is made do not fire
            workspace._store.set_watched_files(
                info.id, list_watched(datastore, info.path_on_datastore))
        workspace._store.put_schedule(info)
        _ensure_server()
        return Schedule(workspace, _info=info)

    # -- changing ---------------------------------------------------------------------------
    def update(self, name=None, description=None, recurrence=None, pipeline_parameters=None,
               status=None, wait_for_provisioning=False, wait_timeout=3600, datastore=None,
               polling_interval=None, data_path_parameter_name=None,
               continue_on_step_failure=None, path_on_datastore=None) -> None:
        """Change the given fields (None leaves a field as it is). A new recurrence, datastore,
        path or a re-enabled schedule starts from now: nothing is back-filled."""
        from ...store.entities import utcnow
        from ._schedule_data import _clean, list_watched
        changes = {}
        if recurrence is not None:
            if self._schedule_type != "Recurrence":
                raise ValueError("Can not specify a recurrence for a Datastore schedule.")
            if not isinstance(recurrence, ScheduleRecurrence):
                raise ValueError("recurrence must be a ScheduleRecurrence")
            changes["recurrence"] = recurrence._spec().to_dict()
            changes["evaluated_until"] = utcnow()
        if datastore is not None:
            if self._schedule_type != "DataStore":
                raise ValueError("Can not specify a Datastore for a Recurrence schedule.")
            changes["datastore_name"] = _datastore_name(self._workspace, datastore)
            if polling_interval is not None and polling_interval < 0:
                raise ValueError("The polling interval must be greater")
        if status is not None and status not in ("Active", "Disabled"):
            raise ValueError("Status must be either Active or Disabled")
        if polling_interval is not None:
            if self._schedule_type != "DataStore":
                raise ValueError("polling_interval can only be specified for Datastore "
                                 "schedules.")
            changes["polling_interval"] = _polling_interval(polling_interval)
        for key, value in (("data_path_parameter_name", data_path_parameter_name),
                           ("path_on_datastore", path_on_datastore)):
            if value is not None:
                if self._schedule_type != "DataStore":
                    label = ("Data Path parameter name" if key == "data_path_parameter_name"
                             else "Path on datastore parameter")
                    raise ValueError(f"{label} can only be specified for Datastore schedules.")
                changes[key] = _clean(value) if key == "path_on_datastore" else value
        if name is not None:
            changes["name"] = name
        if description is not None:
            changes["description"] = description
        if continue_on_step_failure is not None:
            changes["continue_on_step_failure"] = bool(continue_on_step_failure)
        if pipeline_parameters is not None or "data_path_parameter_name" in changes:
            graph = _target_graph(self._workspace, self.pipeline_id, self.pipeline_endpoint_id)
            given = pipeline_parameters if pipeline_parameters is not None else None
            checked = _stored_parameters(
                self._workspace, graph, given,
                changes.get("data_path_parameter_name", self.data_path_parameter_name))
            if pipeline_parameters is not None:
                changes["pipeline_parameters"] = checked
        if status is not None and status != self.status:
            changes["status"] = status
            if status == "Active":
                changes["evaluated_until"] = utcnow()   # no catch-up for the disabled time
        store = self._workspace._store
        if self._schedule_type == "DataStore" and (
                {"datastore_name", "path_on_datastore"} & set(changes)):
            from ...core.datastore import Datastore
            watched = Datastore.get(self._workspace,
                                    changes.get("datastore_name", self.datastore_name))
            seen = list_watched(watched, changes.get("path_on_datastore", self.path_on_datastore))
            store.set_watched_files(self.id, seen, gone=[
                p for p in store.get_watched_files(self.id) if p not in seen])
        if changes:
            self._set_info(store.update_schedule(self.id, **changes))
        else:
            self._set_info(store.get_schedule(self.id))

    def enable(self, wait_for_provisioning=False, wait_timeout=3600) -> None:
        """Make the schedule Active again; it fires from now on (nothing back-filled)."""
        self.update(status="Active")
        _ensure_server()

    def disable(self, wait_for_provisioning=False, wait_timeout=3600) -> None:
        """Make the schedule Disabled: it fires nothing until enabled."""
        self.update(status="Disabled")

    # -- runs -------------------------------------------------------------------------------
    def get_pipeline_runs(self) -> list:
        """The pipeline runs this schedule submitted, newest first."""
        from ...core.experiment import Experiment
        from .run import PipelineRun
        store = self._workspace._store
        runs = []
        for firing in store.list_schedule_firings(self.id, decision="fired"):
            info = store.get_run(firing.run_id) if firing.run_id else None
            if info is not None:
                runs.append(PipelineRun(Experiment(self._workspace, info.experiment), info.id,
                                        _info=info))
        return runs

    def get_last_pipeline_run(self):
        """The newest pipeline run of this schedule, or None."""
        runs = self.get_pipeline_runs()
        return runs[0] if runs else None

    def _get_firings(self, limit: int | None = 100) -> list:
        """amlocal: the scheduler's decisions for this schedule (ScheduleFiring records: fired,
        skipped, missed, deferred, failed, with the reason and run id), newest first."""
        return self._workspace._store.list_schedule_firings(self.id, limit=limit)

    # -- lookup -----------------------------------------------------------------------------
    @staticmethod
    def get(workspace, id, _workflow_provider=None, _service_endpoint=None) -> "Schedule":
        return Schedule(workspace, id=id)

    @staticmethod
    def list(workspace, active_only=True, pipeline_id=None, pipeline_endpoint_id=None,
             _workflow_provider=None, _service_endpoint=None) -> list:
        """The workspace's schedules (Active ones by default). With ``pipeline_id`` or
        ``pipeline_endpoint_id``: that target's schedules, whatever their status (as Azure)."""
        store = workspace._store
        if pipeline_id is not None:
            found = store.list_schedules(workspace._id, pipeline_id=pipeline_id)
        elif pipeline_endpoint_id is not None:
            found = store.list_schedules(workspace._id, pipeline_endpoint_id=pipeline_endpoint_id)
        else:
            found = store.list_schedules(workspace._id, active_only=active_only)
        return [Schedule(workspace, _info=info) for info in found]

    @staticmethod
    def get_all(workspace, active_only=True, pipeline_id=None, pipeline_endpoint_id=None,
                _workflow_provider=None, _service_endpoint=None) -> list:
        """Deprecated alias of :meth:`list` (with Azure's warning). Unlike Azure's, it does not
        drop ``pipeline_endpoint_id``."""
        logging.getLogger(__name__).warning(
            "Schedule.get_all(workspace) is being deprecated. Use Schedule.list(workspace) "
            "instead.")
        return Schedule.list(workspace, active_only=active_only, pipeline_id=pipeline_id,
                             pipeline_endpoint_id=pipeline_endpoint_id)

    @staticmethod
    def get_schedules_for_pipeline_id(workspace, pipeline_id, _workflow_provider=None,
                                      _service_endpoint=None) -> list:
        return Schedule.list(workspace, pipeline_id=pipeline_id)

    @staticmethod
    def get_schedules_for_pipeline_endpoint_id(workspace, pipeline_endpoint_id,
                                               _workflow_provider=None,
                                               _service_endpoint=None) -> list:
        return Schedule.list(workspace, pipeline_endpoint_id=pipeline_endpoint_id)

    @staticmethod
    def load_yaml(workspace, filename, _workflow_provider=None, _service_endpoint=None) -> dict:
        """The ``Schedule:`` section of a YAML file as a dict of :meth:`create` arguments (not
        a Schedule, as on Azure): ``datastore_name`` becomes a Datastore object and
        ``recurrence`` a ScheduleRecurrence (which needs all of its keys; null is fine)."""
        import yaml

        from ...core.datastore import Datastore
        with open(filename, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
        if not isinstance(data, dict) or "Schedule" not in data:
            raise ValueError('Schedule Yaml file must have a "Schedule:" section')
        section = data["Schedule"] or {}
        result = {}
        for key in _YAML_KEYS:
            if key not in section:
                continue
            value = section[key]
            if key == "datastore_name" and value is not None:
                value = Datastore.get(workspace, value)
            elif key == "recurrence" and value is not None:
                values = {k: value[k] for k in _RECURRENCE_YAML_KEYS}   # KeyError, as Azure
                zone = values.pop("time_zone")
                value = ScheduleRecurrence(
                    time_zone=TimeZone(zone) if zone is not None else None, **values)
            result[key] = value
        return result

    # -- display ----------------------------------------------------------------------------
    def _base_info(self) -> dict:
        info = {"Name": self.name, "Id": self.id, "Status": self.status,
                "Pipeline Id": self.pipeline_id,
                "Pipeline Endpoint Id": self.pipeline_endpoint_id}
        if self._recurrence is not None:
            r = self._recurrence
            text = "Runs"
            if r.hours is not None or r.minutes is not None:
                times = [f"{h}:{m:02d}" for h in (r.hours or [0]) for m in (r.minutes or [0])]
                text += " at " + ", ".join(times)
            if r.week_days:
                text += " on " + ", ".join(r.week_days)
            text += (f" every {r.frequency}" if r.interval == 1
                     else f" every {r.interval} {r.frequency}s")
            info["Recurrence Details"] = text
        else:
            info["Datastore"] = self.datastore_name
            if self.path_on_datastore is not None:
                info["Path on Datastore"] = self.path_on_datastore
        return info

    def _to_dict_cli(self, verbose=True) -> dict:
        info = self._base_info()
        if verbose:
            info["Description"] = self.description
        return info

    def __str__(self) -> str:
        return "Pipeline(" + ",\n".join(f"{k}: {v}" for k, v in self._base_info().items()) + ")"

    __repr__ = __str__
