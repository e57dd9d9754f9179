"""Pipeline: steps wired by their data, validated, submitted or published."""
from __future__ import annotations

from ...errors import UserErrorException

SERVICE_ENDPOINT = "amlocal://local"


class Pipeline:
    """``Pipeline(workspace, steps, description=None, default_datastore=None,
    default_source_directory=None, resolve_closure=True)``. Steps run in dependency order
    (data edges plus ``run_after``) whatever the list order; ``steps`` may be a
    ``StepSequence`` (its items run one after the other)."""

    def __init__(self, workspace, steps, description: str | None = None, default_datastore=None,
                 default_source_directory: str | None = None, resolve_closure: bool = True,
                 _workflow_provider=None, _service_endpoint=None, **kwargs):
        unknown = set(kwargs) - {"enable_email_notification"}
        if unknown:
            raise UserErrorException(f"Pipeline() got unexpected arguments {sorted(unknown)}")
        self._workspace = workspace
        self._steps = _step_list(steps)
        self._description = description
        self._default_datastore = default_datastore
        self._default_source_directory = default_source_directory
        self._resolve_closure = resolve_closure

    @property
    def workspace(self):
        return self._workspace

    @property
    def graph(self) -> dict:
        """The pipeline as amlocal freezes it (plain data: steps with their scripts, arguments,
        inputs, outputs, environments and dependencies; parameters), without taking snapshots.
        Deliberate difference: Azure returns its service ``Graph`` object; amlocal's graph is
        the dict ``PipelineRun.get_graph()`` and ``PublishedPipeline.get_graph()`` return.
        Raises ValidationError listing every problem when the pipeline is not valid."""
        from ...errors import ValidationError
        from ._freeze import freeze
        graph, errors = freeze(self, take_snapshots=False)
        if errors:
            raise ValidationError(errors)
        return graph

    def service_endpoint(self) -> str:
        """Where the pipeline is run: ``amlocal://local`` (the value steps see as
        ``AZUREML_SERVICE_ENDPOINT``), as Azure returns its pipelines service URL."""
        return SERVICE_ENDPOINT

    @staticmethod
    def load_yaml(workspace, filename, _workflow_provider=None, _service_endpoint=None) -> "Pipeline":
        """A Pipeline from Azure's pipeline YAML (``pipeline:`` with ``parameters``,
        ``data_references``, ``default_compute`` and ``steps``). Steps of ``type:
        PythonScriptStep`` and ``ParallelRunStep`` are built; other step types raise
        UserErrorException naming them. The schema and where amlocal differs are described in
        ``amlocal.pipeline.core._pipeline_yaml``."""
        from ._pipeline_yaml import load
        steps, description = load(workspace, filename)
        return Pipeline(workspace, steps, description=description)

    def validate(self) -> list[str]:
        """Every problem that would stop this pipeline, as a list of messages (empty when
        valid). Nothing is stored and no container starts."""
        from ._freeze import freeze
        try:
            _, errors = freeze(self, take_snapshots=False)
        except UserErrorException as exc:
            return [str(exc)]
        return errors

    def _freeze(self) -> dict:
        from ._freeze import freeze_or_raise
        return freeze_or_raise(self)

    def submit(self, experiment_name: str, pipeline_parameters: dict | None = None,
               continue_on_step_failure: bool = False, regenerate_outputs: bool = False,
               parent_run_id: str | None = None, credential_passthrough=None, **kwargs):
        """Validate, snapshot and start a run; returns a PipelineRun at once."""
        from ...core.experiment import Experiment
        return self._submit_to_experiment(
            Experiment(self._workspace, experiment_name), pipeline_parameters=pipeline_parameters,
            continue_on_step_failure=continue_on_step_failure,
            regenerate_outputs=regenerate_outputs, parent_run_id=parent_run_id)

    def _submit_to_experiment(self, experiment, pipeline_parameters=None,
                              continue_on_step_failure=False, regenerate_outputs=False,
                              parent_run_id=None, **kwargs):
        from ._submit import launch
        return launch(experiment, self._freeze(), pipeline_parameters=pipeline_parameters,
                      continue_on_step_failure=continue_on_step_failure,
                      regenerate_outputs=regenerate_outputs, parent_run_id=parent_run_id)

    def publish(self, name: str | None = None, description: str | None = None,
                version: str | None = None, continue_on_step_failure: bool | None = None):
        """Freeze this pipeline as a new PublishedPipeline (a new id every time). Starts the
        home's studio server in the background when none runs, so that the published
        pipeline's ``endpoint`` URL answers."""
        from .published import PublishedPipeline
        return PublishedPipeline._create(self._workspace, self._freeze(), name=name,
                                         description=description or self._description,
                                         version=version,
                                         continue_on_step_failure=continue_on_step_failure)

    def __repr__(self) -> str:
        return f"Pipeline(steps={[s.name for s in self._steps]})"


def _step_list(steps) -> list:
    """The steps of ``steps``: a step, a list of steps (they may run side by side), or a
    StepSequence (each item after the previous one, through ``run_after``), nested freely."""
    from .builder import StepSequence, _steps_of
    if isinstance(steps, StepSequence):
        return steps._flatten()
    if isinstance(steps, (list, tuple)):
        return _steps_of(list(steps))
    return [steps]
