"""The run ``Run.get_context()`` returns outside a job (:class:`_OfflineRun`), as on Azure.

It is no Run (nothing is stored), so it sits below ``amlocal.core.run``, which returns it and
exports it under Azure's path ``azureml.core.run._OfflineRun``. The job's own run,
``_SubmittedRun``, is a Run and lives in ``amlocal.core.run``."""
from __future__ import annotations

import sys
import uuid


class _OfflineRun:
    """What ``Run.get_context()`` returns outside a job: logging prints, nothing is stored.
    Like Azure's, it has no ``experiment``, ``parent`` or ``get_metrics``."""

    def __init__(self, run_id: str | None = None):
        self.id = run_id or f"OfflineRun_{uuid.uuid4()}"
        if run_id is None:
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

    def log_accuracy_table(self, name, value, description=""):
        self._say("accuracy table", name, value)

    def log_confusion_matrix(self, name, value, description=""):
        self._say("confusion matrix", name, value)

    def log_predictions(self, name, value, description=""):
        self._say("predictions", name, value)

    def log_residuals(self, name, value, description=""):
        self._say("residuals", name, value)

    def tag(self, key, value=None):
        print(f"Attempted to add tag {key} with value {value}")

    def set_tags(self, tags):
        print(f"Attempted to set tags {tags}")

    def add_properties(self, properties):
        print(f"Attempted to add properties {properties}")

    def upload_file(self, name, path_or_stream, datastore_name=None):
        print(f"Attempted to track file {name} at {path_or_stream}")

    def upload_files(self, names, paths, return_artifacts=False, timeout_seconds=None,
                     datastore_name=None):
        print(f"Attempted to track files {names} at {paths}")

    def upload_folder(self, name, path, datastore_name=None):
        print(f"Attempted to track folder {name} at {path}")

    def flush(self):
        pass

    def complete(self, _set_status=True):
        pass

    def fail(self, error_details=None, error_code=None, _set_status=True):
        print(f"Run failed with error code {error_code}:\n{error_details}")

    def cancel(self):
        pass

    def child_run(self, name=None, run_id=None, outputs=None):
        return _OfflineRun(run_id or f"{self.id}.{name or uuid.uuid4()}")

    def __enter__(self):
        print(f"[START] Run {self.id} context")
        return self

    def __exit__(self, exc_type, exc, tb):
        print(f"[STOP] Run {self.id} context")
