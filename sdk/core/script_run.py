"""ScriptRun (``azureml.core.script_run``): the run of a ``ScriptRunConfig`` submission."""
from __future__ import annotations

from .run import Run

__all__ = ["ScriptRun"]


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
