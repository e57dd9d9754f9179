"""PipelineRun and StepRun.

Statuses as Azure's pipelines report them: NotStarted, Running, Finished, Failed, Canceled
(step runs also Queued). ``wait_for_completion(show_output=True)`` follows the run's live log,
each line prefixed with its step's name. Deliberate difference: Ctrl-C while waiting cancels the
run (its containers are stopped and removed) instead of leaving it running unseen.
"""
from __future__ import annotations

import sys
import time

from ..._status import PIPELINE_LOG, PIPELINE_RUNNING, STD_LOG, TERMINAL, RunStatus
from ...core.run import Run
from ...errors import ActivityFailedException
from ._port_data import PortDataReference

# Azure's pipeline running set: a public list of Azure's plain strings, as azureml's is
RUNNING_STATES = [status.value for status in PIPELINE_RUNNING]


class PipelineRun(Run):
    def get_steps(self):
        """The step runs, in the order they were defined to run."""
        yield from self.get_children()

    def find_step_run(self, name: str) -> list:
        return [s for s in self.get_steps() if s.name == name]

    def get_graph(self) -> dict:
        return self._info.definition.get("graph", {})

    def wait_for_completion(self, show_output: bool = True, timeout_seconds: float = sys.maxsize,
                            raise_on_error: bool = True) -> str:
        """Follow the run until it ends and return its final status. With ``show_output`` the
        steps' output is printed live, prefixed with the step name. Raises
        ActivityFailedException when the run fails and ``raise_on_error``."""
        if show_output:
            print(f"PipelineRunId: {self._id}")
        try:
            status = self._follow(PIPELINE_LOG if show_output else None,
                                  deadline=time.monotonic() + timeout_seconds, max_pause=0.25)
            if status not in TERMINAL:
                return status
        except KeyboardInterrupt:
            print(f"\nCanceling pipeline run {self._id} ...", file=sys.stderr)
            self.cancel()
            while self.status not in TERMINAL and not self._runner_lost():
                time.sleep(0.25)
            raise
        if show_output:
            print(f"PipelineRun Status: {status}")
        if status == RunStatus.FAILED and raise_on_error:
            failed = [s for s in self.get_steps() if s._info.status == RunStatus.FAILED]
            detail = "\n".join(
                f"step '{s.name}': {(s._info.error or {}).get('message', 'failed')}\n"
                + "\n".join((s._info.error or {}).get("log_tail", "").splitlines()[-15:])
                for s in failed) or (self._info.error or {}).get("message", "")
            raise ActivityFailedException(f"pipeline run {self._id} failed: {detail}", self._id)
        return status

    def get_pipeline_output(self, pipeline_output_name: str) -> "PortDataReference":
        """The output promoted with ``PipelineData(..., pipeline_output_name=name)``, as a
        PortDataReference (``download(path)`` fetches it). Raises UserErrorException for a name
        the pipeline has no output of, or when its step has not produced it yet."""
        from ...errors import UserErrorException
        promoted = self.get_graph().get("pipeline_outputs") or {}
        if pipeline_output_name not in promoted:
            known = ", ".join(sorted(promoted)) or "none (give PipelineData a pipeline_output_name)"
            raise UserErrorException(f"pipeline run {self._id} has no pipeline output "
                                     f"{pipeline_output_name!r}; its pipeline outputs: {known}")
        where = promoted[pipeline_output_name]
        for step in self.get_steps():
            if (step._info.definition or {}).get("node_id") == where["node"]:
                outputs = step.get_outputs()
                if where["output"] not in outputs:
                    raise UserErrorException(
                        f"pipeline output {pipeline_output_name!r} is written by step "
                        f"'{step.name}', which has not produced it (status {step.get_status()}); "
                        "wait for the run with run.wait_for_completion()")
                found = outputs[where["output"]].get_port_data_reference()
                found.data_reference_name = pipeline_output_name
                return found
        raise UserErrorException(f"pipeline run {self._id} has no step run for node "
                                 f"{where['node']} (pipeline output {pipeline_output_name!r})")

    @staticmethod
    def get_pipeline_runs(workspace, pipeline_id: str, _service_endpoint=None) -> list:
        """The runs submitted from the published pipeline ``pipeline_id``, newest first."""
        from ...core.experiment import Experiment
        found = []
        for info in workspace._store.list_runs(workspace_id=workspace._id, kind="pipeline"):
            if (info.definition or {}).get("published_pipeline_id") == pipeline_id:
                found.append(PipelineRun(Experiment(workspace, info.experiment, _skip_create=True),
                                         info.id, _info=info))
        return found

    def save(self, path=None) -> None:
        """Write the run's pipeline as Azure's pipeline YAML to ``path``: a file, or a folder
        that gets ``pipeline.yml`` (default: the current folder); see
        ``PublishedPipeline.save``."""
        from ._pipeline_yaml_dump import save
        save(self.get_graph(), path, "pipeline.yml")

    def publish_pipeline(self, name: str, description: str, version: str,
                         continue_on_step_failure: bool | None = None):
        from .published import PublishedPipeline
        return PublishedPipeline._create(self._experiment.workspace, self.get_graph(), name=name,
                                         description=description, version=version,
                                         continue_on_step_failure=continue_on_step_failure)


class StepRun(Run):
    @property
    def pipeline_run_id(self) -> str:
        return self._info.parent_id

    def get_job_log(self) -> str:
        return self._store.read_artifact(self._id, STD_LOG).decode("utf-8", "replace")

    get_log = get_job_log

    def get_stdout_log(self) -> str:
        """The step's log. Deliberate difference: amlocal records what the step writes to
        stdout and stderr as one log, in the order it was written (Azure keeps two files), so
        this and :meth:`get_stderr_log` return the same text."""
        return self.get_job_log()

    def get_stderr_log(self) -> str:
        """The step's log: stdout and stderr merged in order (see :meth:`get_stdout_log`), so a
        traceback is there with the output that led to it."""
        return self.get_job_log()

    def _recorded_outputs(self) -> dict:
        self._refresh()
        return dict((self._info.definition or {}).get("outputs") or {})

    def get_outputs(self) -> dict:
        """``{output name: StepRunOutput}`` of every output this step run produced (empty
        before the step has run)."""
        pipeline_run_id = self.pipeline_run_id
        return {name: StepRunOutput(self._experiment.workspace, pipeline_run_id, self, name, location)
                for name, location in self._recorded_outputs().items()}

    def get_output(self, name: str) -> "StepRunOutput":
        """The output ``name`` as a :class:`StepRunOutput`. Raises KeyError for a name the step
        has no output of (as on Azure); the message lists the outputs. An
        ExecutePythonScriptStep's outputs also answer to their short names ``result_dataset``
        and ``python_device``."""
        outputs = self.get_outputs()
        if name not in outputs:
            ending = [n for n in outputs if n.endswith(f"_{name}")]
            if len(ending) != 1:
                known = ", ".join(outputs) or "(none: the step has not run, or declares no outputs)"
                raise KeyError(f"step '{self.name}' has no output {name!r}; its outputs: {known}")
            name = ending[0]
        return outputs[name]

    def get_output_data(self, name: str) -> "PortDataReference":
        """``get_output(name).get_port_data_reference()``: where the output ``name`` lives.
        Raises KeyError for an unknown name."""
        return self.get_output(name).get_port_data_reference()

    def wait_for_completion(self, show_output: bool = True, timeout_seconds: float = sys.maxsize,
                            raise_on_error: bool = True) -> str:
        deadline = time.monotonic() + timeout_seconds
        while self.status not in TERMINAL and time.monotonic() < deadline:
            time.sleep(0.25)
        if show_output:
            print(self.get_job_log(), end="")
        if self._info.status == RunStatus.FAILED and raise_on_error:
            raise ActivityFailedException(
                f"step run {self._id} ('{self.name}') failed: "
                f"{(self._info.error or {}).get('message', '')}", self._id)
        return self._info.status


class StepRunOutput:
    """``StepRunOutput(context, pipeline_run_id, step_run, name, step_output)``: one output of a
    step run. ``context`` is the workspace here (Azure passes its service context);
    ``step_output`` is the output's recorded location."""

    def __init__(self, context, pipeline_run_id: str, step_run, name: str, step_output):
        self.context = context
        self.pipeline_run_id = pipeline_run_id
        self.step_run = step_run
        self.name = name
        self.step_output = step_output

    def get_port_data_reference(self) -> "PortDataReference | None":
        """The output's data as a PortDataReference (None when it has no location)."""
        location = self.step_output or {}
        if not location.get("datastore"):
            return None
        from ...core.datastore import Datastore
        from ...data.data_reference import DataReference
        dref = DataReference(Datastore(self.context, location["datastore"]),
                             data_reference_name=self.name, path_on_datastore=location["path"])
        return PortDataReference(self.context, self.pipeline_run_id, dref, self.step_run)

    def __repr__(self) -> str:
        return f"StepRunOutput(name={self.name!r}, pipeline_run_id={self.pipeline_run_id!r})"
