"""ScriptRunConfig: one script submitted as a run of an experiment.

It runs through the same runner and compute targets as a pipeline step (one entry command,
one environment image); the run is a plain run (``<experiment>_<unix time>_<8 hex>``, status
Completed/Failed/Canceled) with no pipeline around it.
"""
from __future__ import annotations

import time
import uuid
import warnings


class ScriptRunConfig:
    def __init__(self, source_directory: str, script: str | None = None, arguments=None,
                 run_config=None, _telemetry_values=None, compute_target=None, environment=None,
                 distributed_job_config=None, resume_from=None,
                 max_run_duration_seconds: int = 2592000, command=None, docker_runtime_config=None):
        from .runconfig import RunConfiguration
        self.source_directory = source_directory
        self.script = script
        self.arguments = list(arguments or [])
        if run_config is not None and (compute_target is not None or environment is not None):
            warnings.warn("ScriptRunConfig: run_config is given, so compute_target and environment "
                          "are ignored (as on Azure)")
        self.run_config = run_config or RunConfiguration()
        if run_config is None:
            if environment is not None:
                self.run_config.environment = environment
            self.run_config.target = compute_target if compute_target is not None else "local"
        if command:
            raise NotImplementedError("ScriptRunConfig(command=...) is not supported; use script=")

    def _submit_to_experiment(self, experiment, **kwargs):
        from ..errors import ValidationError
        from ..pipeline.core._submit import start_runner
        from ..pipeline.core._freeze import freeze
        from ..pipeline.core.pipeline import Pipeline
        from ..pipeline.steps import PythonScriptStep
        from ..store.entities import RunInfo
        from .run import Run

        step = PythonScriptStep(self.script, name=self.script, arguments=self.arguments,
                                runconfig=self.run_config, source_directory=self.source_directory,
                                compute_target=self.run_config.target, allow_reuse=False)
        graph, errors = freeze(Pipeline(experiment.workspace, [step]))
        if errors:
            raise ValidationError(errors)
        ws = experiment.workspace
        run_id = f"{experiment.name}_{int(time.time())}_{uuid.uuid4().hex[:8]}"
        info = ws._store.create_run(RunInfo(
            id=run_id, workspace_id=ws._id, experiment=experiment.name, kind="script",
            status="NotStarted", name=self.script, target=graph["steps"][0]["compute"]["name"],
            definition={"graph": graph, "parameters": {}, "node_id": graph["steps"][0]["id"]},
            properties={"azureml.runsource": "experiment"}))
        start_runner(run_id)
        return Run(experiment, run_id, _info=info)
