"""Run: one tracked execution, and ``Run.get_context()`` for scripts (``azureml.core.run``).

Inside a job, ``Run.get_context()`` returns the job's own run (``_SubmittedRun``), talking to the
run service that stands in for the store (see ``amlocal._context``). Outside a job it returns an
offline run that prints what it would have logged, as Azure's ``_OfflineRun`` does.

``Run`` is split in three: this module holds lookups, metrics, tags, properties and artifacts;
``_run_lifecycle`` holds status changes, ``with run:``, waiting, children and snapshots;
``_run_extras`` the rarer methods (submit_child, chart metrics, logs, environment, secrets).
"""
from __future__ import annotations

import json
import os
import posixpath
import warnings
from dataclasses import dataclass
from pathlib import Path

from .._cloud_only import cloud_only_class
from ..errors import NotFoundError, RunEnvironmentException, UserErrorException
from ._metrics import MetricBuffer, shape_metric_values
from ._run_extras import RunExtras
from .._status import POST_PROCESSING as _POST_PROCESSING, RUNNING as _RUNNING
from ._run_lifecycle import TERMINAL, RunLifecycle
from ._context_runs import _OfflineRun
from ._workspace_object import WorkspaceObject

# Azure's groups (azureml._restclient.constants.RunStatus): still running, and post-processing;
# public lists of Azure's plain strings, as azureml's are.
RUNNING_STATES = [status.value for status in _RUNNING]
POST_PROCESSING_STATES = [status.value for status in _POST_PROCESSING]

__all__ = ["Run", "get_run", "RUNNING_STATES", "POST_PROCESSING_STATES", "InputDatasets",
           "OutputDatasets", "LinkOutput", "TERMINAL"]


@dataclass(frozen=True)
class ArtifactUpload:
    """What ``upload_file`` returns (Azure returns a BatchArtifactContentInformationDto):
    ``serialize()`` gives its camelCase dict."""

    run_id: str
    name: str

    def serialize(self) -> dict:
        container = f"dcid.{self.run_id}"
        return {"artifacts": {self.name: {"artifactId": f"ExperimentRun/{container}/{self.name}",
                                          "origin": "ExperimentRun", "container": container,
                                          "path": self.name}},
                "artifactContentInformation": {self.name: {
                    "contentUri": f"aml://artifactId/ExperimentRun/{container}/{self.name}",
                    "origin": "ExperimentRun", "container": container, "path": self.name}},
                "errors": {}}


class Run(RunLifecycle, RunExtras, WorkspaceObject):
    """``Run(experiment, run_id)``: a run of an experiment, read from the store."""

    _OBJECT_TYPE = "run"

    def __init__(self, experiment, run_id: str, outputs=None, _info=None, **kwargs):
        self._experiment = experiment
        self._id = run_id
        self._store = experiment.workspace._store
        self._info = _info or self._store.get_run(run_id)
        if self._info is None:
            raise NotFoundError(f"no run with id {run_id} in workspace '{experiment.workspace.name}'")
        self._buffer: MetricBuffer | None = None  # made on first use: most Run objects only read
        if outputs is not None:
            self._track_outputs(outputs)

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
        from .experiment import Experiment
        from .workspace import Workspace
        ws = Workspace(ctx.subscription_id, ctx.resource_group, ctx.workspace_name)
        info = ws._store.get_run(ctx.run_id)
        if info is None or info.workspace_id != ws._id:
            raise RunEnvironmentException(f"this job's run {ctx.run_id} is not known to its run "
                                          "service: was the job started by amlocal?")
        return _SubmittedRun(Experiment(ws, ctx.experiment, _skip_create=True), ctx.run_id,
                             _info=info)

    @staticmethod
    def _by_id(workspace, run_id: str, experiment=None) -> "Run":
        info = workspace._store.get_run(run_id)
        if info is None or info.workspace_id != workspace._id:
            raise NotFoundError(f"no run with id {run_id} in workspace '{workspace.name}'; "
                                "list runs with `amlocal run list`")
        from .experiment import Experiment
        experiment = experiment or Experiment(workspace, info.experiment, _skip_create=True)
        return Run._rehydrate(experiment, info)

    @staticmethod
    def _rehydrate(experiment, info) -> "Run":
        """The run of ``experiment`` a stored RunInfo describes, as its own class (PipelineRun,
        StepRun, ScriptRun or Run)."""
        return _run_class(info.kind, info)(experiment, info.id, _info=info)

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
        self._refresh()
        self._settle_if_runner_lost()  # a dead runner's run reads Failed, not Running for ever
        return self._info.status

    @property
    def tags(self) -> dict:
        return dict(self._refresh().tags)

    @property
    def properties(self) -> dict:
        return dict(self._refresh().properties)

    @property
    def parent(self):
        """The parent run (a step's is its PipelineRun), or None. The same object each time, so
        ``run.parent.log(...)`` in a loop shares one metric buffer."""
        if not self._info.parent_id:
            return None
        cached = getattr(self, "_parent_run", None)
        if cached is None or cached.id != self._info.parent_id:
            cached = self._parent_run = Run._by_id(self._experiment.workspace,
                                                   self._info.parent_id, self._experiment)
        return cached

    @property
    def input_datasets(self) -> dict:
        """Inside this run's own job: its :class:`InputDatasets`. Elsewhere ``{}`` (see
        ``get_details()['inputDatasets']``)."""
        from .. import _context
        ctx = _context.job_context()
        if ctx is None or ctx.run_id != self._id:
            return {}
        return InputDatasets(self._experiment.workspace)

    @property
    def output_datasets(self) -> dict:
        """Inside the job: ``{name: path}`` of the step's output datasets."""
        return OutputDatasets(self._experiment.workspace)

    # -- metrics ----------------------------------------------------------------------------
    @property
    def _metrics(self) -> MetricBuffer:
        if self._buffer is None:
            self._buffer = MetricBuffer(self._store, self._id)
        return self._buffer

    def _record(self, name: str, kind: str, value, step=None) -> None:
        self._metrics.log(name, kind, value, step)

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
        # as columns, without a record object per value; with a name, only that metric's
        # values are read (the store filters them)
        columns = self._store.get_metric_columns(self._id, name=name)
        return shape_metric_values(columns.names, columns.kinds, columns.values)

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
        """Store a file (a path or a readable stream) as the artifact ``name``; returns an
        object whose ``serialize()`` describes it, as Azure's answer does."""
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
        return ArtifactUpload(self._id, name)

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
                n: n for n in self.get_file_names() if n.startswith(("logs/", "azureml-logs/"))},
            "submittedBy": os.environ.get("USER", "local"),
        }
        if info.error:
            details["error"] = info.error
        return details

    def get_details_with_logs(self) -> dict:
        """``get_details()`` with each ``logFiles`` entry holding the log's text."""
        details = self.get_details()
        details["logFiles"] = {name: self._store.read_artifact(self._id, name).decode("utf-8", "replace")
                               for name in details["logFiles"]}
        return details

    def get_children(self, recursive: bool = False, tags=None, properties=None, type=None,
                     status=None, _rehydrate_runs=True):
        """Child runs, oldest first (recursively with ``recursive``); ``tags`` and
        ``properties`` filter as in ``Experiment.get_runs``."""
        from ._run_filters import _matches, _run_filter
        tag_filter = _run_filter("tags", tags)
        property_filter = _run_filter("properties", properties)
        for info in reversed(self._store.list_runs(parent_id=self._id)):
            child = Run._rehydrate(self._experiment, info)
            if ((status is None or info.status == status) and (type is None or child.type == type)
                    and _matches(info.tags, tag_filter) and _matches(info.properties, property_filter)):
                yield child
            if recursive:
                yield from child.get_children(recursive=True, tags=tags, properties=properties,
                                              type=type, status=status)

    # -- runs by compute (in Run: it builds Experiments and rehydrates runs) -----------------
    @staticmethod
    def list_by_compute(compute, type=None, tags=None, properties=None, status=None):
        """The runs that execute (or executed) on ``compute``, newest first, as a generator.
        Deliberate difference: Azure yields raw run records; amlocal yields Run objects, which
        carry the same fields (``id``, ``status``, ``tags``, ``properties``)."""
        from ._run_filters import _matches, _run_filter
        from .experiment import Experiment
        tag_filter = _run_filter("tags", tags)
        property_filter = _run_filter("properties", properties)
        ws = compute.workspace

        def runs():
            experiments: dict = {}
            for info in ws._store.list_runs(ws._id):
                if info.target != compute.name or (status and info.status != status):
                    continue
                if not (_matches(info.tags, tag_filter) and _matches(info.properties, property_filter)):
                    continue
                experiment = experiments.get(info.experiment) or experiments.setdefault(
                    info.experiment, Experiment(ws, info.experiment, _skip_create=True))
                run = Run._rehydrate(experiment, info)
                if type is None or run.type == type:
                    yield run
        return runs()

    def register_model(self, model_name: str, model_path: str | None = None, tags=None,
                       properties=None, model_framework=None, model_framework_version=None,
                       description=None, datasets=None, sample_input_dataset=None,
                       sample_output_dataset=None, resource_configuration=None, **kwargs):
        """Register a model from this run's artifacts. ``model_path`` is an artifact path (a file
        or a folder prefix, default ``outputs``); ``./outputs/m.pkl`` means ``outputs/m.pkl``,
        as on Azure. Absolute paths and ``..`` are refused."""
        import tempfile
        from .model import Model
        names = self.get_file_names()
        prefix = _artifact_path(model_path or "outputs")
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


def _artifact_path(path: str) -> str:
    """A run artifact path in normal form: ``./outputs//m.pkl`` -> ``outputs/m.pkl``."""
    text = str(path).replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        raise UserErrorException(f"model_path {path!r} is absolute; give the path of a run "
                                 "artifact relative to the run, e.g. 'outputs/model.pkl'")
    if ".." in text.split("/"):
        raise UserErrorException(f"model_path {path!r} contains '..'; give the path of a run "
                                 "artifact inside the run, e.g. 'outputs/model.pkl'")
    normal = posixpath.normpath(text).strip("/")
    if normal in ("", "."):
        raise UserErrorException(f"model_path {path!r} names no artifact; e.g. 'outputs/model.pkl'")
    return normal


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


# azureml.core.script_run's class (that module re-exports it), defined next to the Run whose
# rehydration picks it
class ScriptRun(Run):
    """A submitted script run: executed by a runner process in its environment's container (or
    on the host, as its target says). ``cancel()`` stops it; ``wait_for_completion`` follows its
    log with ``show_output=True``."""

    def __init__(self, experiment, run_id: str, directory=None, _run_config=None, **kwargs):
        super().__init__(experiment, run_id, **kwargs)
        self._directory = directory

    @property
    def type(self) -> str:
        return "azureml.scriptrun"


def _run_class(kind: str, info=None):
    """The Run class of a stored run: PipelineRun, StepRun, ScriptRun (a submitted script) or Run."""
    if kind == "pipeline":
        from ..pipeline.core.run import PipelineRun
        return PipelineRun
    if kind == "step":
        from ..pipeline.core.run import StepRun
        return StepRun
    if info is not None and "graph" in (info.definition or {}):
        return ScriptRun
    return Run


def get_run(experiment, run_id: str, rehydrate: bool = True, clean_up: bool = True) -> Run:
    """The run ``run_id`` of ``experiment``: its own class (PipelineRun, ScriptRun, ...) with
    ``rehydrate``, else a plain :class:`Run`. ``clean_up`` is accepted for compatibility."""
    if rehydrate:
        return Run._by_id(experiment.workspace, run_id, experiment)
    return Run(experiment, run_id)


class InputDatasets(dict):
    """The input datasets of the job this process runs in: ``{name: path}`` for mounted or
    downloaded inputs, ``{name: Dataset}`` for direct ones, rebuilt from
    ``AZUREML_DATASET_ENVIRONMENT_VARS`` as Azure's runtime does."""

    def __init__(self, workspace):
        super().__init__()
        for item in filter(None, os.environ.get("AZUREML_DATASET_ENVIRONMENT_VARS", "").split(",")):
            name, _, mode = item.partition(":")
            if mode.lower() == "direct":
                from .dataset import Dataset
                definition = json.loads(os.environ[f"AMLOCAL_DATASET_DEFINITION_{name}"])
                self[name] = Dataset._from_definition(definition, workspace)
            else:
                self[name] = os.environ.get(name)


class OutputDatasets(dict):
    """The output datasets of the job this process runs in: ``{name: path}`` (from
    ``AZUREML_DATASET_FILE_OUTPUTS``)."""

    def __init__(self, workspace):
        super().__init__()
        self.workspace = workspace
        for name in filter(None, os.environ.get("AZUREML_DATASET_FILE_OUTPUTS", "").split(";")):
            name = name.rstrip("/\\")
            self[name] = os.environ.get(name)


LinkOutput = cloud_only_class(
    "azureml.core.run", "LinkOutput",
    "linking a job's output to a dataset in Azure's data plane exists only in Azure",
    "OutputFileDatasetConfig(...).register_on_complete(name) registers a step's output as a dataset")


class _SubmittedRun(Run):
    """The run a job executes in. Its ``complete()`` and ``fail()`` flush metrics and upload
    tracked outputs but do not set the status: the runtime sets it from the script's exit code.
    ``cancel()`` only warns. ``with Run.get_context() as run:`` calls ``complete()`` on exit."""

    def complete(self, _set_status: bool = True) -> None:
        super().complete(_set_status=False)

    def fail(self, error_details=None, error_code=None, _set_status: bool = True) -> None:
        super().fail(error_details=error_details, error_code=error_code, _set_status=False)

    def cancel(self) -> None:
        warnings.warn("cancel is not supported for submitted runs: the job's own run ends when "
                      "its script exits (cancel it from outside: run.cancel() or "
                      "`amlocal run cancel`)", stacklevel=2)

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.complete()
        return False

    @property
    def input_datasets(self) -> InputDatasets:
        return InputDatasets(self._experiment.workspace)

    @property
    def output_datasets(self) -> OutputDatasets:
        return OutputDatasets(self._experiment.workspace)
