"""ScriptRun (``azureml.core.script_run``): the run of a ``ScriptRunConfig`` submission.

The class is defined in :mod:`amlocal.core.run`, next to the Run whose rehydration picks it for
a stored script run; this module is its azureml import path."""
from __future__ import annotations

from .run import ScriptRun

__all__ = ["ScriptRun"]
