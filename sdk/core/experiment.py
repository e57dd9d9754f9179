"""Experiment: a named group of runs in a workspace (``azureml.core.experiment``)."""
from __future__ import annotations

import re
import sys
import uuid

from .._status import RunStatus
from ..errors import UserErrorException
from ._run_filters import _matches, _paged, _run_filter  # noqa: F401 - also importable here
from ._workspace_object import WorkspaceObject, object_class

_NAME = re.compile(r"^[a-zA-Z0-9][\w\-]{0,254}$")
_KIND_OF_TYPE = {"azureml.PipelineRun": "pipeline", "azureml.StepRun": "step",
                 "azureml.scriptrun": "script"}


class ViewType:
    """Which experiments ``Experiment.list`` shows: active ones (the default), all, or only
    archived ones (:meth:`Experiment.archive`)."""

    ActiveOnly = "ActiveOnly"
    All = "All"
    ArchivedOnly = "ArchivedOnly"


def _docs_url(cls) -> str:
    """The documentation page of the azureml class ``cls`` mirrors, built as Azure's
    ``get_docs_url`` builds it (azureml.core and azureml.data pages are azureml-core's)."""
    full = cls.__module__.replace("amlocal", "azureml", 1) + "." + cls.__name__
    suffix = (f"azureml-core/{full}" if full.startswith(("azureml.core", "azureml.data"))
              else "overview/azure/ml/intro")
    return f"https://docs.microsoft.com/en-us/python/api/{suffix}?view=azure-ml-py"


class Experiment(WorkspaceObject):
    """``Experiment(workspace, name)``; created in the store when missing, as on Azure.

    Deliberate difference: an experiment is one name in its workspace, so writing to an
    archived experiment (a new run, a tag) keeps using it, archived until ``reactivate()``
    (Azure creates a new active experiment of the same name).
    """

    _OBJECT_TYPE = "experiment"

    def __init__(self, workspace, name: str, _skip_name_validation: bool = False, _id=None,
                 _archived_time=None, _create_in_cloud: bool = True, _experiment_dto=None,
                 *, _skip_create: bool = False, **kwargs):
        if not _skip_name_validation and (not isinstance(name, str) or not _NAME.match(name)):
            raise UserErrorException(
                f"experiment name {name!r} is not valid: use 1-255 letters, digits, '_' or '-', "
                "starting with a letter or digit")
        self._workspace = workspace
        self._name = name
        self._info = None if _skip_create else workspace._store.ensure_experiment(workspace._id, name)

    @property
    def name(self) -> str:
        return self._name

    def _loaded(self):
        if self._info is None:
            self.refresh()
        return self._info

    @property
    def tags(self) -> dict:
        """The experiment's tags (``{key: value}``, a value may be None)."""
        return dict(self._loaded().tags or {})

    @property
    def archived_time(self) -> str | None:
        """When the experiment was archived (ISO-8601 UTC), None while it is active."""
        return self._loaded().archived_time

    def refresh(self) -> None:
        """Read the experiment's tags and archived state again from the workspace."""
        info = self._workspace._store.get_experiment(self._workspace._id, self._name)
        if info is None:
            raise UserErrorException(f"experiment {self._name!r} no longer exists in workspace "
                                     f"'{self._workspace.name}' (was it deleted?)")
        self._info = info

    def _update(self, **change) -> None:
        self._info = self._workspace._store.update_experiment(self._workspace._id, self._name,
                                                              **change)

    def tag(self, key: str, value=None) -> None:
        """Tag the experiment with ``key`` and an optional value; tags can be changed later."""
        self.set_tags({key: value})

    def set_tags(self, tags: dict) -> None:
        """Add or change these tags; tags not named are left as they are."""
        if not isinstance(tags, dict):
            raise UserErrorException(f"set_tags takes a dict of tags, not {type(tags).__name__}")
        self._update(set_tags={str(k): (None if v is None else str(v)) for k, v in tags.items()})

    def remove_tags(self, tags) -> None:
        """Remove the tags with these keys."""
        if isinstance(tags, str):
            raise UserErrorException("remove_tags takes a list of tag keys, e.g. ['stage']")
        self._update(remove_tags=[str(k) for k in tags])

    def archive(self) -> None:
        """Archive the experiment: ``Experiment.list`` no longer shows it by default (its runs
        stay readable). Undo with :meth:`reactivate`."""
        self._update(archived=True)

    def reactivate(self, new_name: str | None = None) -> None:
        """Make an archived experiment active again. ``new_name`` is refused, as on Azure."""
        if new_name is not None:
            raise UserErrorException(
                "Cannot rename an experiment: reactivate() takes no new_name. If the name "
                "conflicts with an active experiment, delete that one first")
        self._update(archived=False)

    @staticmethod
    def delete(workspace, experiment_id: str) -> None:
        """Delete an experiment with all its runs, their metrics and files.
        ``experiment_id`` is ``experiment.id`` (the experiment's name is accepted too). Refused
        while one of its runs has not finished. Registered models keep their files."""
        prefix = f"{workspace._id}/"
        name = experiment_id[len(prefix):] if str(experiment_id).startswith(prefix) else experiment_id
        if workspace._store.get_experiment(workspace._id, name) is None:
            raise UserErrorException(f"no experiment with id {experiment_id!r} in workspace "
                                     f"'{workspace.name}'; list them with Experiment.list(ws)")
        workspace._store.delete_experiment(workspace._id, name)

    @staticmethod
    def from_directory(path, auth=None) -> "Experiment":
        """(Deprecated on Azure) The experiment of a project folder: the workspace from its
        ``config.json`` (found as ``Workspace.from_config(path)`` finds it) and the experiment
        named by the config's ``experiment_name`` key, else by the folder's name."""
        import json
        import os
        from .workspace import Workspace
        ws = Workspace.from_config(path=path, auth=auth)
        name = None
        for folder in (".azureml", "aml_config", "."):
            config = os.path.join(path, folder, "config.json")
            if os.path.isfile(config):
                with open(config, encoding="utf-8") as f:
                    name = json.load(f).get("experiment_name")
                break
        name = name or os.path.basename(os.path.abspath(path))
        return Experiment(ws, name)

    @classmethod
    def get_docs_url(cls) -> str:
        """The URL of this class's documentation (Azure's v1 reference page)."""
        return _docs_url(cls)

    @property
    def workspace(self):
        return self._workspace

    @property
    def id(self) -> str:
        return f"{self._workspace._id}/{self._name}"

    def submit(self, config, tags: dict | None = None, **kwargs):
        """Submit a Pipeline, PublishedPipeline, PipelineEndpoint or ScriptRunConfig; kwargs go
        to its submit function (``pipeline_parameters``, ``continue_on_step_failure``,
        ``regenerate_outputs``; ``pipeline_version`` for a PipelineEndpoint)."""
        submit = getattr(config, "_submit_to_experiment", None)
        if submit is None:
            raise UserErrorException(
                f"cannot submit a {type(config).__name__}: submit a Pipeline, PublishedPipeline, "
                "PipelineEndpoint or ScriptRunConfig")
        run = submit(self, **kwargs)
        if tags:
            run.set_tags(tags)
        return run

    def get_runs(self, type=None, tags=None, properties=None, include_children: bool = False,
                 status=None):
        """Runs of this experiment, newest first, as a generator (as on Azure): it reads the
        store a page at a time as it is iterated, so the first runs come as fast with 10,000
        runs as with 100. ``tags`` and ``properties``: a str (the key exists), a dict (each key
        has that value) or a list (each key exists; Azure raises for a list). Bad filters
        raise here, not when iterating."""
        tag_filter = _run_filter("tags", tags)
        property_filter = _run_filter("properties", properties)
        return self._runs(type, tag_filter, property_filter, include_children, status)

    def _run_of(self, info):
        """The run of this experiment a stored RunInfo describes, as its own class
        (PipelineRun, StepRun, ScriptRun or Run)."""
        return object_class("run")._rehydrate(self, info)

    def _runs(self, type, tag_filter, property_filter, include_children, status):
        store, kind = self._workspace._store, _KIND_OF_TYPE.get(type)
        if type and type not in _KIND_OF_TYPE:
            return              # no stored run has another type
        for info in _paged(store, self._workspace._id, self._name, top_level=not include_children,
                           statuses=[str(status)] if status else None,
                           kind=kind if kind != "script" else None):
            if not _matches(info.tags, tag_filter) or not _matches(info.properties, property_filter):
                continue
            run = self._run_of(info)
            if type and run.type != type:
                continue
            yield run

    def start_logging(self, *args, outputs=None, snapshot_directory=".", name: str | None = None,
                      run_id: str | None = None, display_name: str | None = None, **kwargs):
        """An interactive run, status Running, that this process logs to (run type External).

        ``outputs``: None/True track ``./outputs``, False nothing, a str or list those folders;
        they are created now and uploaded as artifacts on complete/fail/cancel or when the
        ``with`` block ends. ``snapshot_directory`` (default ``.``) is snapshotted now
        (``.amlignore`` honoured, at most 2000 files and 300 MB); None or "" skips it.
        ``with exp.start_logging() as run:`` completes the run, or fails it with the exception
        and re-raises."""
        from .. import _context
        from ..errors import SnapshotException
        from ..store.entities import RunInfo, utcnow
        run_id = run_id or str(uuid.uuid4())
        info = self._workspace._store.create_run(RunInfo(
            id=run_id, workspace_id=self._workspace._id, experiment=self._name, kind="script",
            status=RunStatus.RUNNING, started_at=utcnow(), target="local",
            name=display_name or name))
        run = object_class("run")(self, run_id, _info=info)
        run._track_outputs(outputs)
        if snapshot_directory not in (None, ""):
            if _context.job_context() is not None:
                print(f"amlocal: start_logging inside a job takes no snapshot of "
                      f"{snapshot_directory!r} (snapshots are taken on the host)", file=sys.stderr)
            else:
                try:
                    run.take_snapshot(snapshot_directory)
                except SnapshotException as exc:
                    run.fail(error_details=exc)
                    raise SnapshotException(
                        f"Failed to take a snapshot of {snapshot_directory}. Pass "
                        "snapshot_directory=None to start_logging to skip it, or list large "
                        f"files in a .amlignore file there ({exc})") from None
        return run

    @staticmethod
    def list(workspace, experiment_name=None, view_type=ViewType.ActiveOnly, tags=None) -> list:
        """The workspace's experiments (``view_type`` is a :class:`ViewType` value)."""
        if view_type not in (ViewType.ActiveOnly, ViewType.All, ViewType.ArchivedOnly):
            raise UserErrorException(f"view_type {view_type!r} is not valid: use ViewType.ActiveOnly, "
                                     "ViewType.All or ViewType.ArchivedOnly")
        wanted = _run_filter("tags", tags)
        found = []
        for info in workspace._store.list_experiments(workspace._id):
            archived = info.archived_time is not None
            if ((view_type == ViewType.ActiveOnly and archived)
                    or (view_type == ViewType.ArchivedOnly and not archived)):
                continue
            if experiment_name is not None and info.name != experiment_name:
                continue
            if not _matches(info.tags or {}, wanted):
                continue
            experiment = Experiment(workspace, info.name, _skip_name_validation=True,
                                    _skip_create=True)
            experiment._info = info
            found.append(experiment)
        return found

    def __repr__(self) -> str:
        return f"Experiment(Name: {self._name}, Workspace: {self._workspace.name})"
