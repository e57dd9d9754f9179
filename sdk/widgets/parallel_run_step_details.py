"""``azureml.widgets.ParallelRunStepDetails``: follow one ParallelRunStep of a pipeline run.

As Azure's, it finds the step run from ``run_instance`` + ``step_name``, or ``workspace`` +
``run_id`` + ``step_name``, or ``workspace`` + ``step_run_id`` (the first complete combination
wins), and ``show()`` follows it until it ends, in the caller (Azure's is synchronous too). The
view is a :class:`RunDetails` of that step run (status, duration, metrics, last log lines) with
the job's progress above it: a ParallelRunStep prints ``[ParallelRunStep] progress: D/T
mini-batches done, F failed; ...`` lines into its step log as it goes, and the latest one
becomes ``get_widget_data()['progress']`` (``text``, ``completed_tasks``, ``total_tasks``,
``failed_tasks``). Azure draws a progress bar from progress files it downloads from the
datastore; here the step log, which is live, is the source.
"""
from __future__ import annotations

import re
import sys

from ..errors import UserErrorException
from ._data import WidgetData
from .run_details import RunDetails

PROGRESS = re.compile(
    r"\[ParallelRunStep\] progress: ((\d+)/(\d+) mini-batches done, (\d+) failed.*)")


class _ParallelRunData(WidgetData):
    def collect(self, widget_settings: dict | None = None) -> dict:
        data = super().collect(widget_settings)
        found = PROGRESS.findall(data["run_logs"])
        if found:
            text, done, total, failed = found[-1]
            data["progress"] = {"text": text, "completed_tasks": int(done),
                                "total_tasks": int(total), "failed_tasks": int(failed)}
        else:
            data["progress"] = None
        return data


class _ParallelRunStepView(RunDetails):
    _data_class = _ParallelRunData

_NOT_ENOUGH = ("ParallelRunStepDetails needs one of: (run_instance + step_name), "
               "(workspace + run_id + step_name) or (workspace + step_run_id)")


class ParallelRunStepDetails:
    """A live view of a ParallelRunStep's step run.

    :param run_instance: the pipeline run that holds the step.
    :param step_name: the step's name in that run.
    :param workspace: the workspace, with ``run_id`` + ``step_name`` or ``step_run_id``.
    :param run_id: the pipeline run's id.
    :param step_run_id: the step run's id.
    """

    def __init__(self, run_instance=None, step_name: str | None = None, workspace=None,
                 run_id: str | None = None, step_run_id: str | None = None):
        from ..core.run import Run
        from ..core.workspace import Workspace
        for value, kind, name in ((run_instance, Run, "run_instance"),
                                  (step_name, str, "step_name"),
                                  (workspace, Workspace, "workspace"), (run_id, str, "run_id"),
                                  (step_run_id, str, "step_run_id")):
            if value is not None and not isinstance(value, kind):
                raise UserErrorException(f"{name} must be of type {kind.__name__}, got "
                                         f"{type(value).__name__}")
        if run_instance is not None and step_name:
            self.step_run = self._get_step_run(run_instance, step_name)
        elif workspace is not None and run_id and step_name:
            self.step_run = self._get_step_run(Run.get(workspace, run_id), step_name)
        elif workspace is not None and step_run_id:
            self.step_run = Run.get(workspace, step_run_id)
        else:
            raise UserErrorException(_NOT_ENOUGH)
        self._details = _ParallelRunStepView(self.step_run)

    @staticmethod
    def _get_step_run(run_instance, step_name: str):
        children = list(run_instance.get_children())
        matches = [c for c in children if c.name == step_name]
        if not matches:
            names = ", ".join(sorted({c.name or c.id for c in children})) or "(none)"
            raise UserErrorException(f"run {run_instance.id} has no step named {step_name!r}; its "
                                     f"steps: {names}")
        if len(matches) > 1:
            print(f"Got multiple step runs named {step_name!r}; showing the first one "
                  f"({matches[0].id}). Give the ParallelRunStep a unique name to avoid this.",
                  file=sys.stderr)
        return matches[0]

    def get_widget_data(self, widget_settings: dict | None = None) -> dict:
        """The step run's widget data (see ``RunDetails.get_widget_data``)."""
        return self._details.get_widget_data(widget_settings)

    def show(self) -> None:
        """Show the step run and refresh the view until it ends (in the caller)."""
        self._details._show(None, None, sync=True)
