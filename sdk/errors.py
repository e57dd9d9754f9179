"""One error tree for amlocal.

Names mirror azureml where a user would catch them (``UserErrorException``,
``ActivityFailedException``, ``ComputeTargetException``, ``WebserviceException``,
``ModelNotFoundException``, ``RunEnvironmentException``). Every message names the problem and,
where there is one, the fix.
"""
from __future__ import annotations


class AmlocalError(Exception):
    """Base of every error amlocal raises on purpose (``azureml.exceptions.AzureMLException``).

    As Azure's, it keeps its text in ``message``."""

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


AzureMLException = AmlocalError


class UserErrorException(AmlocalError):
    """The user asked for something that cannot work; the message says how to fix it."""


class ValidationError(UserErrorException):
    """A pipeline or step definition is invalid. ``errors`` lists every problem found."""

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        lines = "\n".join(f"  - {e}" for e in self.errors)
        super().__init__(f"the pipeline is not valid ({len(self.errors)} problem(s)):\n{lines}")


class NotFoundError(UserErrorException):
    """A named thing (workspace, datastore, run, model ...) does not exist."""


class ComputeTargetException(UserErrorException):
    """Raised for compute-target problems, as azureml's ComputeTargetException."""


class WebserviceException(UserErrorException):
    """azureml raises this for a model that cannot be found; kept for compatibility."""


class ModelNotFoundException(WebserviceException):
    """``Model.get_model_path`` found no model."""


class RunEnvironmentException(AmlocalError):
    """``Run.get_context(allow_offline=False)`` outside a job."""


class ActivityFailedException(AmlocalError):
    """A run ended Failed and ``raise_on_error`` was set."""

    def __init__(self, message: str, run_id: str | None = None):
        super().__init__(message)
        self.run_id = run_id


class SnapshotException(UserErrorException):
    """A snapshot could not be taken or restored (``Run.take_snapshot``)."""


class RunConfigurationException(UserErrorException):
    """A run configuration is not valid."""


class ExperimentExecutionException(UserErrorException):
    """An experiment run could not be submitted or executed."""


class TrainingException(AmlocalError):
    """A training run failed."""


class ParallelRunException(AmlocalError):
    """A ParallelRunStep job failed (too many failed mini-batches or items)."""


class ModelPathNotFoundException(UserErrorException):
    """A model's path does not exist."""


class WorkspaceException(UserErrorException):
    """A workspace could not be found or created."""


class ProjectSystemException(UserErrorException):
    """A project folder (config.json, .azureml) could not be read."""


class StoreError(AmlocalError):
    """The metadata store could not be read or written."""


class DockerUnavailableError(AmlocalError):
    """No Docker engine answers."""

    def __init__(self, detail: str = ""):
        msg = (
            "No Docker engine is answering. Start one (Linux: `sudo dockerd &` or "
            "`sudo systemctl start docker`; macOS/Windows: start Docker Desktop), or run steps "
            "without containers with compute target 'local'."
        )
        if detail:
            msg += f" ({detail})"
        super().__init__(msg)


class ComputeError(AmlocalError):
    """A compute backend could not do what was asked of it (the Docker engine refused to create
    or start a container, an image or container is missing, ...); the message names what failed
    and the fix. An engine that does not answer at all is DockerUnavailableError instead."""


class EnvironmentBuildError(AmlocalError):
    """An environment could not be locked or built; the message names the package."""


class StepFailed(AmlocalError):
    """A step's script exited non-zero."""

    def __init__(self, step: str, exit_status: int, log_tail: str = ""):
        self.step = step
        self.exit_status = exit_status
        self.log_tail = log_tail
        super().__init__(f"step '{step}' failed with exit status {exit_status}\n{log_tail}")
