"""``azureml.widgets``: watch runs live in Jupyter notebooks and terminals.

``RunDetails(run).show()`` shows a run and its steps (status, duration, metrics, last log
lines) and refreshes until the run ends; ``get_widget_data()`` returns the same data as a dict.
IPython, ipywidgets and rich are imported only when a view is shown (the optional extra
``amlocal[notebook]`` installs IPython and ipywidgets).
"""
from __future__ import annotations

from .parallel_run_step_details import ParallelRunStepDetails
from .run_details import RunDetails

__all__ = ["RunDetails", "ParallelRunStepDetails"]
