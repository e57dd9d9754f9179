"""The rarer methods of :class:`amlocal.core.run.Run`: child submissions, the JSON-valued
metrics of Azure's charts (confusion matrix, accuracy table, residuals, predictions), logs,
detailed status, the environment a run used, runs by compute target, clean-up and secrets.

Kept apart from ``run.py`` (data) and ``_run_lifecycle.py`` (status); ``Run`` inherits all three.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from .._cloud_only import cloud_only_function
from .._status import TERMINAL, WAITING, RunStatus
from ..errors import UserErrorException

# Azure's schema_type of each JSON-valued metric, and the Run method that logs it.
CHART_METRICS = {"confusion_matrix": "log_confusion_matrix",
                 "accuracy_table": "log_accuracy_table",
                 "residuals": "log_residuals",
                 "predictions": "log_predictions"}


def _chart_value(method: str, value) -> dict:
    """The JSON object a chart metric holds: a dict, or a str holding JSON (as Azure takes)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise UserErrorException(f"run.{method}: Invalid JSON provided ({exc})") from None
    if not isinstance(value, dict):
        raise UserErrorException(
            f"run.{method} takes a JSON object (a dict or its JSON text) such as "
            '{"schema_type": ..., "schema_version": ..., "data": {...}}, not '
            f"{type(value).__name__}")
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise UserErrorException(f"run.{method}: the value is not JSON-serialisable ({exc}); "
                                 "convert numpy arrays with .tolist()") from None
    return value


class RunExtras:
    """Mixin of :class:`Run`; uses its ``_store``, ``_id``, ``_info``, ``_experiment``,
    ``_record``, ``get_details`` and ``get_children``."""

    # -- JSON-valued metrics ----------------------------------------------------------------
    def _log_chart(self, kind: str, name: str, value) -> None:
        """As Azure: the JSON value is stored as the run's artifact ``name`` and the metric
        holds its ``aml://artifactId/...`` path, which is what ``get_metrics()`` returns for it
        (``populate=True`` is not supported: read the value with ``download_file(name)``). The
        path is recorded as a scalar metric, so the store and the run service need no new
        metric kind."""
        value = _chart_value(CHART_METRICS[kind], value)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "value.json"
            path.write_text(json.dumps(value), encoding="utf-8")
            self._store.put_artifact(self._id, name, path)
        self._record(name, "scalar", f"aml://artifactId/ExperimentRun/dcid.{self._id}/{name}")

    def log_confusion_matrix(self, name: str, value, description: str = "") -> None:
        """Log a confusion matrix: ``{"schema_type": "confusion_matrix", "schema_version":
        "1.0.0", "data": {"class_labels": [...], "matrix": [[...], ...]}}`` (a dict or JSON
        text). Its value is the run's file ``name`` (``download_file(name)``)."""
        self._log_chart("confusion_matrix", name, value)

    def log_accuracy_table(self, name: str, value, description: str = "") -> None:
        """Log an accuracy table (``schema_type`` ``accuracy_table``: probability and
        percentile tables of TP/FP/TN/FN per class and threshold), a dict or JSON text."""
        self._log_chart("accuracy_table", name, value)

    def log_residuals(self, name: str, value, description: str = "") -> None:
        """Log a histogram of residuals (``schema_type`` ``residuals``: ``bin_edges`` and
        ``bin_counts``), a dict or JSON text."""
        self._log_chart("residuals", name, value)

    def log_predictions(self, name: str, value, description: str = "") -> None:
        """Log binned predictions (``schema_type`` ``predictions``: ``bin_averages``,
        ``bin_errors``, ``bin_counts``, ``bin_edges``), a dict or JSON text."""
        self._log_chart("predictions", name, value)

    # -- children ---------------------------------------------------------------------------
    def submit_child(self, config, tags: dict | None = None, **kwargs):
        """Submit ``config`` (a ScriptRunConfig, Pipeline or PublishedPipeline) as a child run
        of this run and return it (as a hyperparameter sweep submits its trials).

        From the host only: a step cannot start runs (its container has no runner); inside a
        step, log child runs with ``run.child_run()`` instead."""
        from .. import _context
        if _context.job_context() is not None:
            raise UserErrorException(
                "run.submit_child(...) cannot be called inside a step: starting a run needs the "
                "host, which the step's container cannot reach. Log child runs from the step "
                "with run.child_run(name) (or create_children), or submit the children from "
                "your script on the host with parent_run.submit_child(config)")
        import inspect
        submit = getattr(config, "_submit_to_experiment", None)
        if submit is None:
            raise UserErrorException(f"cannot submit a {type(config).__name__}: submit a "
                                     "ScriptRunConfig, Pipeline or PublishedPipeline")
        parameter = ("_parent_run_id" if "_parent_run_id" in inspect.signature(submit).parameters
                     else "parent_run_id")
        return self._experiment.submit(config, tags=tags, **{parameter: self._id}, **kwargs)

    # -- status and logs --------------------------------------------------------------------
    def get_detailed_status(self) -> dict:
        """``{"status": ..., "details": ...}``: the status and, while the run waits to start,
        why (Azure gives its queueing message)."""
        status = self.get_status()
        details = None
        if status in WAITING or status == RunStatus.PREPARING:
            details = ("Run is waiting for its runner process to start it on this machine"
                       if status == RunStatus.NOT_STARTED
                       else f"Run is {status.lower()} on this machine")
        return {"status": status, "details": details}

    def get_all_logs(self, destination: str | None = None) -> list:
        """Download the run's log files (``logs/...`` and ``azureml-logs/...``) into
        ``destination`` (default ``./assets/<run id>``, as Azure's project folder layout);
        return the paths written."""
        if destination and os.path.exists(destination) and not os.path.isdir(destination):
            raise UserErrorException(f"{destination} exists and is not a directory.")
        target = Path(destination or os.path.join("assets", self._id))
        target.mkdir(parents=True, exist_ok=True)
        written = []
        for name in self.get_details()["logFiles"]:
            path = target / name
            self._store.fetch_artifact(self._id, name, path)
            written.append(str(path))
        return written

    # -- environment ------------------------------------------------------------------------
    def _node(self):
        """The frozen step this run executed: its own (a script run) or its pipeline's (a step)."""
        from .._engine.graph import node_of_run
        return node_of_run(self._store, self._refresh())

    def get_environment(self):
        """The Environment this run used: the registered version it was built from when one
        matches, else an Environment rebuilt from the run's recorded definition (name,
        packages, Python version, base image, variables). Raises for runs without one (a
        pipeline run, an interactive run)."""
        from .environment import Environment
        node = self._node()
        if node is None or not node.environment:
            raise UserErrorException(f"There is no run definition or environment specified for "
                                     f"the run {self._id} (pipeline runs and interactive runs "
                                     "have none; ask a step run or a script run)")
        spec = node.environment
        name = node.environment_name or spec.get("name")
        ws = self._experiment.workspace
        latest = ws._store.get_environment(ws._id, name) if name else None
        for version in range(latest.version if latest else 0, 0, -1):
            env = Environment.get(ws, name, version)
            try:
                if json.loads(json.dumps(env._to_spec().to_dict())) == spec:
                    return env
            except UserErrorException:
                continue
        return _environment_from_spec(name, spec)

    # -- clean-up ---------------------------------------------------------------------------
    def clean(self) -> list:
        """Remove the files this run (and its child runs) left on the machine that executed it:
        working copies, staged inputs and outputs under ``AMLOCAL_HOME/work``. Returns the
        files removed. The runner removes them when a step ends, so this finds leftovers of an
        interrupted run. Refused while the run has not finished."""
        from .. import _settings
        if self._refresh().status not in TERMINAL:
            raise UserErrorException(f"run {self._id} is {self._info.status}: its files are in "
                                     "use; cancel it or wait for it before run.clean()")
        work = _settings.current().home / "work"
        ids = [self._id] + [child.id for child in self.get_children(recursive=True)]
        removed = []
        for run_id in ids:
            for folder in (work / run_id, work / f"{run_id}-inputs", work / f"{run_id}-outputs"):
                if folder.is_dir():
                    removed += sorted(str(p) for p in folder.rglob("*") if p.is_file())
                    shutil.rmtree(folder)
        return removed

    @classmethod
    def get_submitted_run(cls, **kwargs):
        """Deprecated (as on Azure): ``Run.get_context(allow_offline=False)``."""
        print("Run.get_submitted_run() is deprecated, use Run.get_context() instead",
              file=sys.stderr)
        return cls.get_context(allow_offline=False, **kwargs)

    # -- secrets ----------------------------------------------------------------------------
    def get_secret(self, name: str) -> str:
        """The secret ``name``. Deliberate difference: amlocal keeps no secret store (Azure reads
        the workspace's Key Vault); a secret is the environment variable of that name, which
        reaches a step through ``runconfig.environment_variables`` or the environment's
        ``environment_variables``, and a host script through its shell."""
        value = os.environ.get(name)
        if value is None:
            raise UserErrorException(
                f"secret {name!r} not found: amlocal reads secrets from environment variables. "
                f"Set {name} in the step's runconfig.environment_variables (or in your shell "
                "for a script on this machine)")
        return value

    def get_secrets(self, secrets) -> dict:
        """``{name: value}`` for each name; a missing secret maps to None (see
        :meth:`get_secret`)."""
        if isinstance(secrets, str):
            raise UserErrorException("get_secrets takes a list of secret names, e.g. ['a', 'b']")
        return {name: os.environ.get(name) for name in secrets}

    add_type_provider = staticmethod(cloud_only_function(
        "azureml.core.run.Run", "add_type_provider",
        "custom run types are registered for the runs of Azure services (HyperDrive, AutoML); "
        "amlocal records only script, pipeline and step runs and builds their Run classes itself",
        "Experiment.get_runs(type='azureml.scriptrun' | 'azureml.PipelineRun' | "
        "'azureml.StepRun') filters by the built-in types"))


def _environment_from_spec(name: str | None, spec: dict):
    """An Environment holding what a recorded EnvironmentSpec says."""
    from .conda_dependencies import CondaDependencies
    from .environment import Environment
    env = Environment(name or "run-environment")
    env.environment_variables = dict(spec.get("environment_variables") or {})
    if spec.get("base_image"):
        env.docker.base_image = spec["base_image"]
    if spec.get("user_managed"):
        env.python.user_managed_dependencies = True
        env.python.interpreter_path = spec.get("interpreter_path") or "python"
        return env
    from .conda_dependencies import PYTHON_DEFAULT_VERSION
    conda = CondaDependencies.create(
        python_version=spec.get("python_version") or PYTHON_DEFAULT_VERSION,
        conda_packages=list(spec.get("conda_packages") or []),
        pip_packages=list(spec.get("pip_options") or []) + list(spec.get("pip_packages") or []))
    for channel in spec.get("conda_channels") or []:
        conda.add_channel(channel)
    env.python.conda_dependencies = conda
    return env
