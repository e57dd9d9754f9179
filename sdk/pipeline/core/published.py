"""PublishedPipeline: an immutable, frozen pipeline with its own id.

There is no way to change a published pipeline in place: every ``publish`` gives a new id. Its
graph names content-addressed snapshots, so editing a script afterwards changes nothing that the
id runs. ``disable()``/``enable()`` only set its status; a disabled pipeline refuses submissions.

Its ``endpoint`` is an http URL on the home's studio server, in Azure's path
(``.../PipelineRuns/PipelineSubmit/{id}``): ``requests.post(endpoint, headers=auth
.get_authentication_header(), json={"ExperimentName": ...})`` starts a run through the same
:meth:`PublishedPipeline.submit` code path. Publishing starts the server (in the background, with
a one-line notice) when none runs for the home, and so does reading ``endpoint``.
"""
from __future__ import annotations

import logging
import re
import uuid

from ...errors import NotFoundError, UserErrorException

_SERVICE_PATH = ("/pipelines/v1.0/subscriptions/{s}/resourceGroups/{rg}/providers/"
                 "Microsoft.MachineLearningServices/workspaces/{ws}")


def _server_url(start: bool = True) -> str:
    """The home's studio server URL; started (with its notice) when none runs. Inside a step
    nothing is started: the URL is the running server's, else the configured address."""
    from ... import _context
    from ..._engine import studio
    if _context.job_context() is None:
        if start:
            return studio.ensure_running().url
        found = studio.running()
        if found is not None:
            return found.url
    host, port = studio.wanted_address()
    host = "127.0.0.1" if host in ("0.0.0.0", "") else host
    return f"http://{host}:{port or studio.DEFAULT_PORT}"


def _service_url(workspace, start: bool = True) -> str:
    """Azure's pipeline-service base URL of ``workspace`` on the studio server."""
    from urllib.parse import quote
    return _server_url(start) + _SERVICE_PATH.format(
        s=quote(str(workspace.subscription_id), safe=""),
        rg=quote(str(workspace.resource_group), safe=""), ws=quote(str(workspace.name), safe=""))


def _ensure_server() -> None:
    """Start the home's studio server when none runs (host only), so the URLs handed out
    answer."""
    from ... import _context
    if _context.job_context() is None:
        _server_url(start=True)


class PipelineDisabledError(UserErrorException, ValueError):
    """A disabled published pipeline (or pipeline endpoint) was submitted."""


class PublishedPipeline:
    def __init__(self, workspace, info):
        self._workspace = workspace
        self._info = info

    @classmethod
    def _create(cls, workspace, graph, name, description, version, continue_on_step_failure):
        from ...store.entities import PublishedPipelineInfo
        info = workspace._store.put_pipeline(PublishedPipelineInfo(
            id=str(uuid.uuid4()), workspace_id=workspace._id, name=name or "pipeline",
            definition=graph, description=description, version=version,
            continue_on_step_failure=bool(continue_on_step_failure)))
        _ensure_server()
        return cls(workspace, info)

    # -- properties -------------------------------------------------------------------------
    id = property(lambda self: self._info.id)
    name = property(lambda self: self._info.name)
    description = property(lambda self: self._info.description)
    version = property(lambda self: self._info.version)
    status = property(lambda self: self._info.status)
    continue_on_step_failure = property(lambda self: self._info.continue_on_step_failure)
    graph_id = property(lambda self: self._info.id)
    total_run_steps = property(lambda self: len(self._info.definition.get("steps", [])))

    @property
    def endpoint(self) -> str:
        """The REST URL that submits this pipeline (``POST`` with Azure's body and a bearer
        key); reading it starts the home's studio server when none runs."""
        return self._endpoint(start=True)

    def _endpoint(self, start: bool = True) -> str:
        """``endpoint``; with ``start=False`` no server is started (listings): the URL is the
        running server's, else the configured address's."""
        return f"{_service_url(self._workspace, start)}/PipelineRuns/PipelineSubmit/{self.id}"

    # -- lookup -----------------------------------------------------------------------------
    @staticmethod
    def get(workspace, id: str, _workflow_provider=None, _service_endpoint=None) -> "PublishedPipeline":
        info = workspace._store.get_pipeline(id)
        if info is None or info.workspace_id != workspace._id:
            raise NotFoundError(f"no published pipeline with id {id} in workspace "
                                f"'{workspace.name}'; list them with `amlocal pipeline list`")
        return PublishedPipeline(workspace, info)

    @staticmethod
    def list(workspace, active_only: bool = True, _service_endpoint=None) -> list:
        return [PublishedPipeline(workspace, i) for i in workspace._store.list_pipelines(workspace._id)
                if not active_only or i.status == "Active"]

    @staticmethod
    def get_all(workspace, active_only: bool = True, _service_endpoint=None) -> list:
        """Deprecated alias of :meth:`list` (as on Azure, with its warning)."""
        logging.getLogger(__name__).warning(
            "PublishedPipeline.get_all(workspace) is being deprecated. "
            "Use PublishedPipeline.list(workspace) instead.")
        return PublishedPipeline.list(workspace, active_only=active_only)

    def get_graph(self, _workflow_provider=None) -> dict:
        """The frozen pipeline this id runs (plain data: steps, parameters). Deliberate
        difference: Azure returns its service ``Graph`` object."""
        return self._info.definition

    def get_step_names(self, _workflow_provider=None) -> list:
        """The names of the pipeline's steps, in the order they run."""
        from ..._engine.graph import Graph
        return [node.name for node in Graph.from_dict(self.get_graph()).steps]

    def save(self, path=None, _workflow_provider=None) -> None:
        """Write the pipeline as Azure's pipeline YAML (which ``Pipeline.load_yaml`` and
        ``amlocal run submit-pipeline -y`` read) to ``path``: a file, or a folder that gets
        ``<name>.yml`` (default: the current folder). A run configuration file per step is
        written beside it. Azure saves only ModuleSteps; amlocal saves PythonScriptSteps and
        raises UserErrorException for what the schema cannot express (see
        ``amlocal.pipeline.core._pipeline_yaml_dump``)."""
        from ._pipeline_yaml_dump import save
        save(self.get_graph(), path, f"{self.name}.yml")

    def _set_status(self, status: str) -> None:
        self._workspace._store.set_pipeline_status(self.id, status)
        self._info = self._workspace._store.get_pipeline(self.id)

    def disable(self) -> None:
        self._set_status("Disabled")

    def enable(self) -> None:
        self._set_status("Active")

    # -- running ----------------------------------------------------------------------------
    def submit(self, workspace, experiment_name: str, pipeline_parameters: dict | None = None,
               _workflow_provider=None, _service_endpoint=None, parent_run_id: str | None = None,
               continue_on_step_failure: bool | None = None):
        from ...core.experiment import Experiment
        return self._submit_to_experiment(Experiment(workspace, experiment_name),
                                          pipeline_parameters=pipeline_parameters,
                                          parent_run_id=parent_run_id,
                                          continue_on_step_failure=continue_on_step_failure)

    def _submit_to_experiment(self, experiment, pipeline_parameters=None, parent_run_id=None,
                              continue_on_step_failure=None, regenerate_outputs=False,
                              _properties=None, _ignore_unknown: bool = False, **kwargs):
        """The one submission path of a published pipeline (Python, CLI, REST, pipeline
        endpoints, schedules). ``_properties``: run properties saying how it was submitted
        (recorded with the run).

        Parameter names the pipeline does not have are refused (Python and the CLI, as
        ``Pipeline.submit`` on Azure) unless ``_ignore_unknown``: then they are left out, as
        Azure's pipeline service leaves them out of a REST submission, and named in the run's
        ``amlocal.ignored_parameters`` property (nothing is dropped without a trace)."""
        from ._submit import launch
        self._info = self._workspace._store.get_pipeline(self.id) or self._info
        if self.status != "Active":
            raise PipelineDisabledError(
                f"published pipeline {self.id} ('{self.name}') is {self.status} and cannot be "
                f"submitted; enable it with `amlocal pipeline enable {self.id}` or "
                "PublishedPipeline.enable()")
        properties = {"runSource": "SDK", "runType": "SDK", "amlocal.submitted_via": "SDK",
                      **(_properties or {})}
        if parent_run_id is not None:
            self._check_parent(parent_run_id, experiment)
        ignored = self._unknown_parameters(pipeline_parameters) if _ignore_unknown else []
        if ignored:
            pipeline_parameters = {k: v for k, v in pipeline_parameters.items() if k not in ignored}
            properties["amlocal.ignored_parameters"] = ", ".join(ignored)
        cosf = self.continue_on_step_failure if continue_on_step_failure is None else continue_on_step_failure
        run = launch(experiment, self._info.definition, pipeline_parameters=pipeline_parameters,
                     continue_on_step_failure=cosf, regenerate_outputs=regenerate_outputs,
                     parent_run_id=parent_run_id, published_pipeline_id=self.id,
                     properties=properties)
        return run

    def _check_parent(self, parent_run_id: str, experiment) -> None:
        """The parent run must exist in the workspace and belong to the experiment (Azure's
        rule for ``parent_run_id``)."""
        parent = self._workspace._store.get_run(str(parent_run_id))
        if parent is None or parent.workspace_id != self._workspace._id:
            raise NotFoundError(f"parent run {parent_run_id} does not exist in workspace "
                                f"'{self._workspace.name}'")
        if parent.experiment != experiment.name:
            raise UserErrorException(
                f"parent run {parent_run_id} belongs to experiment '{parent.experiment}', not "
                f"'{experiment.name}': the parent run must belong to the same experiment as this "
                "pipeline run")

    def _unknown_parameters(self, pipeline_parameters) -> list:
        """The names in ``pipeline_parameters`` this pipeline has no parameter for (sorted)."""
        known = self._info.definition.get("parameters", {})
        return sorted(str(k) for k in (pipeline_parameters or {}) if k not in known)

    def default_experiment_name(self) -> str:
        """``az ml run submit-pipeline`` names the experiment after the pipeline."""
        return re.sub(r"[^0-9a-zA-Z_-]", "_", self.name)

    def __repr__(self) -> str:
        return f"PublishedPipeline(Name: {self.name}, Id: {self.id}, Status: {self.status})"
