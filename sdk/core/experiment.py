"""Experiment: a named group of runs in a workspace."""
from __future__ import annotations

import re
import time
import uuid

from ..errors import UserErrorException

_NAME = re.compile(r"^[a-zA-Z0-9][\w\-]{0,254}$")


class Experiment:
    """``Experiment(workspace, name)``; created in the store when missing, as on Azure."""

    def __init__(self, workspace, name: str, _skip_name_validation: bool = False, _id=None,
                 _archived_time=None, _create_in_cloud: bool = True, _experiment_dto=None,
                 *, _skip_create: bool = False, **kwargs):
        if not _skip_name_validation and (not isinstance(name, str) or not _NAME.match(name)):
            raise UserErrorException(
                f"experiment name {name!r} is not valid: use 1-255 letters, digits, '_' or '-', "
                "starting with a letter or digit")
        self._workspace = workspace
        self._name = name
        if not _skip_create:
            workspace._store.ensure_experiment(workspace._id, name)

    @property
    def name(self) -> str:
        return self._name

    @property
    def workspace(self):
        return self._workspace

    @property
    def id(self) -> str:
        return f"{self._workspace._id}/{self._name}"

    def submit(self, config, tags: dict | None = None, **kwargs):
        """Submit a Pipeline, PublishedPipeline or ScriptRunConfig; kwargs go to its submit
        function (``pipeline_parameters``, ``continue_on_step_failure``, ``regenerate_outputs``)."""
        submit = getattr(config, "_submit_to_experiment", None)
        if submit is None:
            raise UserErrorException(
                f"cannot submit a {type(config).__name__}: submit a Pipeline, PublishedPipeline "
                "or ScriptRunConfig")
        run = submit(self, **kwargs)
        if tags:
            run.set_tags(tags)
        return run

    def get_runs(self, type=None, tags=None, properties=None, include_children: bool = False,
                 status=None):
        """Runs of this experiment, newest first (a generator, as on Azure)."""
        from .run import _run_class
        for info in self._workspace._store.list_runs(self._workspace._id, self._name):
            if info.parent_id and not include_children:
                continue
            if status and info.status != status:
                continue
            if tags and any(info.tags.get(k) != v for k, v in (
                    tags.items() if isinstance(tags, dict) else ((t, info.tags.get(t)) for t in tags))):
                continue
            if tags and not isinstance(tags, dict) and not all(t in info.tags for t in tags):
                continue
            if properties and any(info.properties.get(k) != v for k, v in properties.items()):
                continue
            run = _run_class(info.kind)(self, info.id, _info=info)
            if type and run.type != type:
                continue
            yield run

    def start_logging(self, *args, outputs=None, snapshot_directory=".", **kwargs):
        """An interactive run, status Running, that this process logs to."""
        from ..store.entities import RunInfo, utcnow
        from .run import Run
        run_id = f"{self._name}_{int(time.time())}_{uuid.uuid4().hex[:8]}"
        info = self._workspace._store.create_run(RunInfo(
            id=run_id, workspace_id=self._workspace._id, experiment=self._name, kind="script",
            status="Running", started_at=utcnow(), target="local"))
        return Run(self, run_id, _info=info)

    @staticmethod
    def list(workspace, experiment_name=None, view_type=None, tags=None) -> list:
        return [e for name, e in workspace.experiments.items()
                if experiment_name is None or name == experiment_name]

    def __repr__(self) -> str:
        return f"Experiment(Name: {self._name}, Workspace: {self._workspace.name})"
