"""Run statuses and the run facts every layer shares: plain data, importing nothing of amlocal.

``RunStatus`` values are Azure's strings, so a status compares equal to what v1 code expects
(``run.get_status() == "Completed"``) and is stored as that string. Pipeline and step runs end
``Finished`` where other runs end ``Completed``, as Azure's pipeline runs do.
"""
from __future__ import annotations

import enum


class RunStatus(str, enum.Enum):
    NOT_STARTED = "NotStarted"
    QUEUED = "Queued"
    PREPARING = "Preparing"
    PROVISIONING = "Provisioning"
    STARTING = "Starting"
    RUNNING = "Running"
    FINALIZING = "Finalizing"
    CANCEL_REQUESTED = "CancelRequested"
    COMPLETED = "Completed"
    FINISHED = "Finished"           # a pipeline run's (and its step runs') Completed
    FAILED = "Failed"
    CANCELED = "Canceled"
    NOT_RESPONDING = "NotResponding"
    UNAPPROVED = "Unapproved"
    PAUSING = "Pausing"
    PAUSED = "Paused"
    UNKNOWN = "Unknown"             # in Azure's pipeline running set; amlocal never sets it

    def __str__(self) -> str:
        return self.value

    @property
    def terminal(self) -> bool:
        return self in TERMINAL

    @property
    def succeeded(self) -> bool:
        return self in (RunStatus.COMPLETED, RunStatus.FINISHED)

    @classmethod
    def of(cls, value) -> "RunStatus":
        """The status named by ``value`` (a RunStatus or Azure's string); ValueError naming
        Azure's statuses otherwise."""
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            try:
                return cls(value)
            except ValueError:
                pass
        raise ValueError(f"{value!r} is not a run status; a run status is one of "
                         f"{', '.join(s.value for s in cls)}")


TERMINAL = frozenset({RunStatus.COMPLETED, RunStatus.FINISHED, RunStatus.FAILED,
                      RunStatus.CANCELED})
# not started yet: nothing of the run has run
WAITING = frozenset({RunStatus.NOT_STARTED, RunStatus.QUEUED})
# Azure's pipeline running set (azureml.pipeline.core.run.RUNNING_STATES)
PIPELINE_RUNNING = (RunStatus.NOT_STARTED, RunStatus.RUNNING, RunStatus.QUEUED, RunStatus.UNKNOWN)
# Azure's groups of a run's statuses (azureml.core.run.RUNNING_STATES, POST_PROCESSING_STATES)
RUNNING = (RunStatus.NOT_STARTED, RunStatus.QUEUED, RunStatus.PREPARING, RunStatus.PROVISIONING,
           RunStatus.STARTING, RunStatus.RUNNING, RunStatus.UNAPPROVED, RunStatus.NOT_RESPONDING,
           RunStatus.PAUSING, RunStatus.PAUSED)
POST_PROCESSING = (RunStatus.CANCEL_REQUESTED, RunStatus.FINALIZING)

# run properties amlocal writes (steps can never write ``amlocal.*`` properties)
REQUESTED_STATUS = "amlocal.requested_status"   # a status asked for from outside the runner
SNAPSHOT_PROPERTY = "ContentSnapshotId"         # Azure's property name
RECORDED_PROPERTY = "amlocal.recorded_by_runner"  # set on the step runs a runner executed

# artifacts every run has
PIPELINE_LOG = "logs/amlocal/pipeline.log"
STD_LOG = "logs/user_logs/std_log.txt"

# Azure's limits for Run.take_snapshot
MAX_SNAPSHOT_FILES = 2000
