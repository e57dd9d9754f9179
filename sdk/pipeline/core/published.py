"""PublishedPipeline: an immutable, frozen pipeline with its own id.

There is no way to change a published pipeline in place: every ``publish`` gives a new id. Its
graph names content-addressed snapshots, so editing a script afterwards changes nothing that the
id runs. ``disable()``/``enable()`` only set its status; a disabled pipeline refuses submissions.
"""
from __future__ import annotations

import logging
import re
import uuid

from ...errors import NotFoundError, UserErrorException


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
        ws = self._workspace
        return (f"amlocal://subscriptions/{ws.subscription_id}/resourceGroups/{ws.resource_group}"
                f"/workspaces/{ws.name}/PipelineRuns/PipelineSubmit/{self.id}")

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
                              continue_on_step_failure=None, regenerate_outputs=False, **kwargs):
        from ._submit import launch
        self._info = self._workspace._store.get_pipeline(self.id) or self._info
        if self.status != "Active":
            raise UserErrorException(
                f"published pipeline {self.id} ('{self.name}') is {self.status} and cannot be "
                f"submitted; enable it with `amlocal pipeline enable {self.id}` or "
                "PublishedPipeline.enable()")
        cosf = self.continue_on_step_failure if continue_on_step_failure is None else continue_on_step_failure
        return launch(experiment, self._info.definition, pipeline_parameters=pipeline_parameters,
                      continue_on_step_failure=cosf, regenerate_outputs=regenerate_outputs,
                      parent_run_id=parent_run_id, published_pipeline_id=self.id)

    def default_experiment_name(self) -> str:
        """``az ml run submit-pipeline`` names the experiment after the pipeline."""
        return re.sub(r"[^0-9a-zA-Z_-]", "_", self.name)

    def __repr__(self) -> str:
        return f"PublishedPipeline(Name: {self.name}, Id: {self.id}, Status: {self.status})"
