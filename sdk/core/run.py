"""Run: one tracked execution, and ``Run.get_context()`` for scripts.

Inside a step, ``Run.get_context()`` returns the live step run, talking to the run service that
stands in for the store (see ``amlocal._context``). Outside a job it returns an offline run that
prints what it would have logged, as Azure's ``_OfflineRun`` does.
"""
from __future__ import annotations

import json
import os
import sys
import time
import uuid
from pathlib import Path

from ..errors import ActivityFailedException, NotFoundError, RunEnvironmentException, UserErrorException
from ._metrics import MetricBuffer, shape_metrics

TERMINAL = ("Completed", "Failed", "Canceled", "Finished")
RUNNING = ("NotStarted", "Queued", "Preparing", "Provisioning", "Starting", "Running",
           "Unapproved", "NotResponding", "Pausing", "Paused", "CancelRequested", "Finalizing")


class Run:
    """``Run(experiment, run_id)``: a run of an experiment, read from the store."""

    def __init__(self, experiment, run_id: str, outputs=None, _info=None, **kwargs):
        self._experiment = experiment
        self._id = run_id
        self._store = experiment.workspace._store
        self._info = _info or self._store.get_run(run_id)
        if self._info is None:
            raise NotFoundError(f"no run with id {run_id} in workspace '{experiment.workspace.name}'")
        self._buffer: MetricBuffer | None = None  # made on first use: most Run objects only read

    # -- lookup -----------------------------------------------------------------------------
    @staticmethod
    def get_context(allow_offline: bool = True, used_for_context_manager: bool = False, **kwargs):
        """The run this script executes in; an offline run outside a job.

        Raises RunEnvironmentException outside a job when ``allow_offline`` is False.
        """
        from .. import _context
        run = _context.current_run(Run._for_job)
        if run is None:
            if not allow_offline:
                raise RunEnvironmentException(
                    "Run.get_context(allow_offline=False) was called outside a job: the "
                    "AZUREML_RUN_ID and AMLOCAL_RUN_SERVICE variables are not set. Submit the "
                    "script as a step (Experiment.submit / pipeline.submit) to get a live run")
            return _OfflineRun()
        return run

    @staticmethod
    def _for_job(ctx) -> "Run":
        from .workspace import Workspace
        from .experiment import Experiment
        ws = Workspace(ctx.subscription_id, ctx.resource_group, ctx.workspace_name)
        return Run._by_id(ws, ctx.run_id, Experiment(ws, ctx.experiment))

    @staticmethod
    def _by_id(workspace, run_id: str, experiment=None) -> "Run":
        info = workspace._store.get_run(run_id)
        if info is None or info.workspace_id != workspace._id:
            raise NotFoundError(f"no run with id {run_id} in workspace '{workspace.name}'; "
                                "list runs with `amlocal run list`")
        from .experiment import Experiment
        experiment = experiment or Experiment(workspace, info.experiment, _skip_create=True)
        return _run_class(info.kind)(experiment, run_id, _info=info)

    @classmethod
    def get(cls, workspace, run_id: str) -> "Run":
        return cls._by_id(workspace, run_id)

    @classmethod
    def list(cls, experiment, type=None, tags=None, properties=None, status=None,
             include_children=False, _rehydrate_runs=True):
        return experiment.get_runs(type=type, tags=tags, properties=properties,
                                   include_children=include_children, status=status)

    # -- properties -------------------------------------------------------------------------
    def _refresh(self):
        self._info = self._store.get_run(self._id)
        return self._info

    @property
    def id(self) -> str:
        return self._id

    @property
    def experiment(self):
        return self._experiment

    @property
    def name(self) -> str | None:
        return self._info.name

    display_name = name

    @property
    def type(self) -> str:
        return {"pipeline": "azureml.PipelineRun", "step": "azureml.StepRun"}.get(
            self._info.kind, "azureml.scriptrun")

    @property
    def status(self) -> str:
        return self._refresh().status

    @property
    def tags(self) -> dict:
        return dict(self._refresh().tags)

    @property
    def properties(self) -> dict:
        return dict(self._refresh().properties)

    @property
    def parent(self):
        if not self._info.parent_id:
            return None
        return Run._by_id(self._experiment.workspace, self._info.parent_id, self._experiment)

    @property
    def input_datasets(self) -> dict:
        """Inside this run's own job: ``{name: path}`` for mounted or downloaded inputs and
        ``{name: Dataset}`` for direct ones, rebuilt from ``AZUREML_DATASET_ENVIRONMENT_VARS``
        as Azure's runtime does. Elsewhere ``{}`` (see ``get_details()['inputDatasets']``)."""
        from .. import _context
        ctx = _context.job_context()
        if ctx is None or ctx.run_id != self._id:
            return {}
        result = {}
        for item in filter(None, os.environ.get("AZUREML_DATASET_ENVIRONMENT_VARS", "").split(",")):
            name, _, mode = item.partition(":")
            if mode == "direct":
                from .dataset import Dataset
                definition = json.loads(os.environ[f"AMLOCAL_DATASET_DEFINITION_{name}"])
                result[name] = Dataset._from_definition(definition, self._experiment.workspace)
            else:
                result[name] = os.environ.get(name)
        return result

    @property
    def output_datasets(self) -> dict:
        """Inside the job: ``{name: path}`` of the step's output datasets."""
        names = os.environ.get("AZUREML_DATASET_FILE_OUTPUTS", "")
        return {n: os.environ.get(n) for n in filter(None, names.split(";"))}

    # -- metrics ----------------------------------------------------------------------------
    @property
    def _metrics(self) -> MetricBuffer:
        if self._buffer is None:
            self._buffer = MetricBuffer(self._store, self._id)
        return self._buffer

    def _record(self, name: str, kind: str, value, step=None) -> None:
        from ..store.entities import MetricRecord
        self._metrics.add(MetricRecord(name=name, kind=kind, value=value, step=step))

    def log(self, name: str, value, description: str = "", step: int | None = None) -> None:
        """Log a scalar. Lists and generators raise: use ``log_list``."""
        if isinstance(value, (list, tuple, dict, set)) or hasattr(value, "__next__"):
            raise UserErrorException(f"run.log({name!r}, ...) takes one value; use run.log_list "
                                     "for a list or run.log_row/log_table for rows")
        self._record(name, "scalar", _plain(value), step)

    def log_list(self, name: str, value, description: str = "") -> None:
        self._record(name, "list", [_plain(v) for v in value])

    def log_row(self, name: str, description: str | None = None, **kwargs) -> None:
        self._record(name, "row", {k: _plain(v) for k, v in kwargs.items()})

    def log_table(self, name: str, value: dict, description: str = "") -> None:
        self._record(name, "table", {k: [_plain(v) for v in vs] for k, vs in value.items()})

    def log_image(self, name: str, path: str | None = None, plot=None, description: str = "") -> None:
        """Log an image file or a matplotlib figure; stored as an artifact and recorded as an
        ``aml://`` path metric."""
        if (path is None) == (plot is None):
            raise UserErrorException("run.log_image needs exactly one of path= or plot=")
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            if plot is not None:
                path = os.path.join(tmp, f"{name}.png")
                plot.savefig(path)
            artifact = f"{name}{Path(path).suffix or '.png'}"
            self._store.put_artifact(self._id, artifact, Path(path))
        self._record(name, "image", f"aml://artifactId/ExperimentRun/dcid.{self._id}/{artifact}")

    def flush(self) -> None:
        """Send buffered metrics now (they are also sent every second and at exit)."""
        if self._buffer is not None:
            self._buffer.flush()

    def get_metrics(self, name: str | None = None, recursive: bool = False, run_type=None,
                    populate: bool = False) -> dict:
        self.flush()
        if recursive:
            result = {self._id: self.get_metrics(name)}
            for child in self.get_children(recursive=True):
                result[child.id] = child.get_metrics(name)
            return result
        shaped = shape_metrics(self._store.get_metric_records(self._id))
        return {name: shaped[name]} if name is not None and name in shaped else (
            {} if name is not None else shaped)

    # -- tags and properties ----------------------------------------------------------------
    def tag(self, key: str, value=None) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: dict) -> None:
        self._store.set_tags(self._id, {k: (None if v is None else str(v)) for k, v in tags.items()})

    def get_tags(self) -> dict:
        return self.tags

    def remove_tags(self, tags) -> None:
        self._store.remove_tags(self._id, list(tags))

    def add_properties(self, properties: dict) -> None:
        self._store.add_properties(self._id, {k: str(v) for k, v in properties.items()})

    def get_properties(self) -> dict:
        return self.properties

    # -- artifacts --------------------------------------------------------------------------
    def upload_file(self, name: str, path_or_stream, datastore_name: str | None = None):
        if hasattr(path_or_stream, "read"):
            import tempfile
            with tempfile.NamedTemporaryFile(delete=False) as tmp:
                data = path_or_stream.read()
                tmp.write(data.encode() if isinstance(data, str) else data)
            try:
                self._store.put_artifact(self._id, name, Path(tmp.name))
            finally:
                os.unlink(tmp.name)
        else:
            if not Path(path_or_stream).is_file():
                raise UserErrorException(f"upload_file: {path_or_stream} is not a file")
            self._store.put_artifact(self._id, name, Path(path_or_stream))

    def upload_files(self, names, paths, return_artifacts=False, timeout_seconds=None,
                     datastore_name=None) -> None:
        for name, path in zip(names, paths):
            self.upload_file(name, path)

    def upload_folder(self, name: str, path: str, datastore_name: str | None = None) -> None:
        root = Path(path)
        if not root.is_dir():
            raise UserErrorException(f"upload_folder: {path} is not a folder")
        for file in sorted(p for p in root.rglob("*") if p.is_file()):
            self._store.put_artifact(self._id, f"{name.rstrip('/')}/{file.relative_to(root).as_posix()}", file)

    def get_file_names(self) -> list:
        return self._store.list_artifacts(self._id)

    def download_file(self, name: str, output_file_path: str | None = None, _validate_checksum=False):
        target = Path(output_file_path or Path(name).name)
        if target.is_dir():
            target = target / Path(name).name
        self._store.fetch_artifact(self._id, name, target)
        return str(target)

    def download_files(self, prefix: str | None = None, output_directory: str | None = None,
                       output_paths=None, batch_size=100, append_prefix=True, timeout_seconds=None):
        out = Path(output_directory or ".")
        for name in self.get_file_names():
            if prefix and not name.startswith(prefix):
                continue
            rel = name if append_prefix or not prefix else name[len(prefix):].lstrip("/")
            self._store.fetch_artifact(self._id, name, out / rel)

    # -- lifecycle --------------------------------------------------------------------------
    def _set_status(self, status: str, error=None) -> None:
        from ..store.entities import utcnow
        fields = {"status": status}
        if status in TERMINAL:
            fields["ended_at"] = utcnow()
        if error is not None:
            fields["error"] = error
        self.flush()
        self._store.update_run(self._id, **fields)

    def complete(self, _set_status: bool = True) -> None:
        self._set_status("Completed")

    def fail(self, error_details=None, error_code=None, _set_status: bool = True) -> None:
        self._set_status("Failed", {"message": str(error_details or "failed"), "code": error_code})

    def cancel(self) -> None:
        """Cancel the run. A run executed by a runner process is asked to stop (its containers
        are stopped and removed, then it becomes Canceled); any other run is marked Canceled."""
        info = self._refresh()
        if info.status in TERMINAL:
            return
        if self._runner_alive():
            self._store.update_run(self._id, status="CancelRequested")
            return
        for child in self.get_children(recursive=True):
            if child._info.status not in TERMINAL:
                child._set_status("Canceled")
        self._set_status("Canceled")

    def _runner_alive(self) -> bool:
        """Whether a runner process executes this run and still lives."""
        pid = self._info.properties.get("amlocal.runner_pid")
        return bool(pid) and _process_alive(int(pid))

    def _runner_lost(self) -> bool:
        """A runner started this run and died before finishing it."""
        return (bool(self._info.properties.get("amlocal.runner_pid"))
                and self._info.status not in TERMINAL and not self._runner_alive())

    def _mark_runner_lost(self) -> None:
        from ..store.entities import utcnow
        if self._refresh().status in TERMINAL:
            return
        message = ("the runner process of this run ended without finishing it; see "
                   f"runner-logs/{self._id}.log under AMLOCAL_HOME")
        for child in self.get_children(recursive=True):
            if child._info.status not in TERMINAL:
                self._store.update_run(child.id, status="Failed", ended_at=utcnow(),
                                       error={"message": message})
        self._store.update_run(self._id, status="Failed", ended_at=utcnow(), error={"message": message})

    def get_status(self) -> str:
        return self.status

    def get_details(self) -> dict:
        info = self._refresh()
        details = {
            "runId": info.id, "target": info.target, "status": info.status,
            "startTimeUtc": info.started_at, "endTimeUtc": info.ended_at,
            "properties": dict(info.properties), "tags": dict(info.tags),
            "inputDatasets": info.definition.get("inputDatasets", []),
            "outputDatasets": info.definition.get("outputDatasets", []),
            "runDefinition": info.definition, "logFiles": {
                n: n for n in self.get_file_names() if n.startswith("logs/")},
            "submittedBy": os.environ.get("USER", "local"),
        }
        if info.error:
            details["error"] = info.error
        return details

    def wait_for_completion(self, show_output: bool = False, wait_post_processing: bool = False,
                            raise_on_error: bool = True) -> dict:
        while self.status not in TERMINAL:
            time.sleep(0.5)
        if raise_on_error and self._info.status == "Failed":
            raise ActivityFailedException(
                f"run {self._id} failed: {(self._info.error or {}).get('message', '')}", self._id)
        return self.get_details()

    def get_children(self, recursive: bool = False, tags=None, properties=None, type=None,
                     status=None, _rehydrate_runs=True):
        for info in reversed(self._store.list_runs(parent_id=self._id)):
            child = _run_class(info.kind)(self._experiment, info.id, _info=info)
            if status is None or info.status == status:
                yield child
            if recursive:
                yield from child.get_children(recursive=True, status=status)

    def child_run(self, name: str | None = None, run_id: str | None = None, outputs=None) -> "Run":
        from ..store.entities import RunInfo, utcnow
        info = self._store.create_run(RunInfo(
            id=run_id or str(uuid.uuid4()), workspace_id=self._info.workspace_id,
            experiment=self._info.experiment, kind="script", status="Running", name=name,
            parent_id=self._id, started_at=utcnow()))
        return Run(self._experiment, info.id, _info=info)

    def register_model(self, model_name: str, model_path: str | None = None, tags=None,
                       properties=None, model_framework=None, model_framework_version=None,
                       description=None, datasets=None, sample_input_dataset=None,
                       sample_output_dataset=None, resource_configuration=None, **kwargs):
        """Register a model from this run's artifacts (``model_path`` is an artifact path)."""
        import tempfile
        from .model import Model
        names = self.get_file_names()
        prefix = (model_path or "outputs").rstrip("/")
        chosen = [n for n in names if n == prefix or n.startswith(prefix + "/")]
        if not chosen:
            raise UserErrorException(f"run {self._id} has no artifact {prefix!r}; its files: "
                                     f"{', '.join(names) or '(none)'}")
        with tempfile.TemporaryDirectory() as tmp:
            for n in chosen:
                self._store.fetch_artifact(self._id, n, Path(tmp) / n)
            return Model._register(self._experiment.workspace, str(Path(tmp) / prefix), model_name,
                                   run_id=self._id, tags=tags, properties=properties,
                                   description=description, model_framework=model_framework,
                                   model_framework_version=model_framework_version)

    def __repr__(self) -> str:
        return f"Run(Experiment: {self._info.experiment}, Id: {self._id}, Type: {self.type}, Status: {self._info.status})"


class _OfflineRun:
    """What ``Run.get_context()`` returns outside a job: logging prints, nothing is stored.
    Like Azure's, it has no ``experiment``, ``parent`` or ``get_metrics``."""

    def __init__(self):
        self.id = f"OfflineRun_{uuid.uuid4()}"
        print("Attempted to log to a run, but none was found: this is an offline run "
              f"({self.id}); values are printed, not stored.", file=sys.stderr)

    def _say(self, kind: str, name: str, value) -> None:
        print(f"Attempted to log {kind} metric {name}:\n{value}")

    def log(self, name, value, description="", step=None):
        self._say("scalar", name, value)

    def log_list(self, name, value, description=""):
        self._say("list", name, value)

    def log_row(self, name, description=None, **kwargs):
        self._say("row", name, kwargs)

    def log_table(self, name, value, description=""):
        self._say("table", name, value)

    def log_image(self, name, path=None, plot=None, description=""):
        self._say("image", name, path or plot)

    def tag(self, key, value=None):
        print(f"Attempted to set tag {key}:{value}")

    def set_tags(self, tags):
        print(f"Attempted to set tags {tags}")

    def add_properties(self, properties):
        print(f"Attempted to add properties {properties}")

    def upload_file(self, name, path_or_stream, datastore_name=None):
        print(f"Attempted to upload file {name}")

    def upload_folder(self, name, path, datastore_name=None):
        print(f"Attempted to upload folder {name}")

    def flush(self):
        pass

    def complete(self, _set_status=True):
        pass

    def fail(self, error_details=None, error_code=None, _set_status=True):
        pass

    def cancel(self):
        pass

    def child_run(self, name=None, run_id=None, outputs=None):
        return _OfflineRun()


def _process_alive(pid: int) -> bool:
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our own child that has exited: reap it
            return False
    except ChildProcessError:
        pass  # not our child
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _plain(value):
    """numpy scalars and the like become plain JSON values."""
    if hasattr(value, "item") and callable(value.item):
        try:
            return value.item()
        except (TypeError, ValueError):
            pass
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return json.loads(json.dumps(value, default=str))


def _run_class(kind: str):
    if kind == "pipeline":
        from ..pipeline.core.run import PipelineRun
        return PipelineRun
    if kind == "step":
        from ..pipeline.core.run import StepRun
        return StepRun
    return Run
