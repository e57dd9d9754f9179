"""PipelineRun and StepRun.

Statuses as Azure's pipelines report them: NotStarted, Running, Finished, Failed, Canceled
(step runs also Queued). ``wait_for_completion(show_output=True)`` follows the run's live log,
each line prefixed with its step's name. Deliberate difference: Ctrl-C while waiting cancels the
run (its containers are stopped and removed) instead of leaving it running unseen.
"""
from __future__ import annotations

import sys
import time

from ...core.run import TERMINAL, Run
from ...errors import ActivityFailedException

PIPELINE_LOG = "logs/amlocal/pipeline.log"
STD_LOG = "logs/user_logs/std_log.txt"



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
        deadline = time.monotonic() + timeout_seconds
        offset = 0
        pause = 0.02  # checks start often and back off to 0.25 s: short runs end promptly
        if show_output:
            print(f"PipelineRunId: {self._id}")
        try:
            while True:
                status = self.status
                if show_output:
                    chunk = self._store.read_artifact(self._id, PIPELINE_LOG, offset)
                    if chunk:
                        end = chunk.rfind(b"\n") + 1 if status not in TERMINAL else len(chunk)
                        sys.stdout.write(chunk[:end].decode("utf-8", "replace"))
                        sys.stdout.flush()
                        offset += end
                if status in TERMINAL:
                    break
                if self._runner_lost():
                    self._mark_runner_lost()
                    continue
                if time.monotonic() > deadline:
                    return status
                time.sleep(pause)
                pause = min(0.25, pause * 1.5)
        except KeyboardInterrupt:
            print(f"\nCanceling pipeline run {self._id} ...", file=sys.stderr)
            self.cancel()
            while self.status not in TERMINAL and not self._runner_lost():
                time.sleep(0.25)
            raise
        if show_output:
            print(f"PipelineRun Status: {status}")
        if status == "Failed" and raise_on_error:
            failed = [s for s in self.get_steps() if s._info.status == "Failed"]
            detail = "\n".join(
                f"step '{s.name}': {(s._info.error or {}).get('message', 'failed')}\n"
                + "\n".join((s._info.error or {}).get("log_tail", "").splitlines()[-15:])
                for s in failed) or (self._info.error or {}).get("message", "")
            raise ActivityFailedException(f"pipeline run {self._id} failed: {detail}", self._id)
        return status

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

    def get_output_data(self, name: str) -> "PortDataReference":
        """The output ``name`` of this step run as a :class:`PortDataReference`. An
        ExecutePythonScriptStep's outputs also answer to their short names ``result_dataset``
        and ``python_device``. Raises UserErrorException for an unknown name (listing the
        step's outputs)."""
        from ...errors import UserErrorException
        outputs = self._info.definition.get("outputs", {})
        if name not in outputs:
            ending = [n for n in outputs if n.endswith(f"_{name}")]
            if len(ending) != 1:
                raise UserErrorException(f"step '{self.name}' has no output {name!r}; its outputs: "
                                         f"{', '.join(outputs) or '(none)'}")
            name = ending[0]
        return PortDataReference(outputs[name], self._experiment.workspace)

    def wait_for_completion(self, show_output: bool = True, timeout_seconds: float = sys.maxsize,
                            raise_on_error: bool = True) -> str:
        deadline = time.monotonic() + timeout_seconds
        while self.status not in TERMINAL and time.monotonic() < deadline:
            time.sleep(0.25)
        if show_output:
            print(self.get_job_log(), end="")
        if self._info.status == "Failed" and raise_on_error:
            raise ActivityFailedException(
                f"step run {self._id} ('{self.name}') failed: "
                f"{(self._info.error or {}).get('message', '')}", self._id)
        return self._info.status


class PortDataReference(dict):
    """Where a step run's output lives (``azureml.pipeline.core.PortDataReference``): ``name``,
    ``datastore_name``, ``path_on_datastore``, ``datastore`` and ``download``. Also the location
    dict it was made from (``["local"]`` is the host folder on a ``file://`` datastore, else
    None)."""

    def __init__(self, location: dict, workspace):
        super().__init__(location)
        self._workspace = workspace

    @property
    def name(self) -> str:
        return self["name"]

    @property
    def datastore_name(self) -> str:
        return self["datastore"]

    @property
    def path_on_datastore(self) -> str:
        return self["path"]

    @property
    def datastore(self):
        from ...core.datastore import Datastore
        return Datastore.get(self._workspace, self.datastore_name)

    def download(self, local_path: str, overwrite: bool = False, show_progress: bool = True) -> str:
        """Copy the output's files through its datastore to ``local_path/<path_on_datastore>/``
        (as Azure does) and return that folder. Files that exist locally are kept unless
        ``overwrite``."""
        import os
        self.datastore.download(local_path, prefix=self.path_on_datastore.rstrip("/") + "/",
                                overwrite=overwrite, show_progress=show_progress)
        return os.path.join(local_path, self.path_on_datastore)

    def __repr__(self) -> str:
        return (f"PortDataReference(name={self.name!r}, datastore_name={self.datastore_name!r}, "
                f"path_on_datastore={self.path_on_datastore!r})")
