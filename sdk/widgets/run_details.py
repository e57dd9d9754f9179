"""``azureml.widgets.RunDetails``: watch a run live, in Jupyter or in a terminal.

``RunDetails(run).show()``:

- in Jupyter (an IPython kernel, recognised as Azure's widget does by IPython's shell class
  ``ZMQInteractiveShell``) it displays an HTML view of the run and its steps (status, duration,
  metrics, last log lines): an ``ipywidgets.HTML`` when ipywidgets is installed, else plain HTML
  through a ``display_id`` handle. A background thread named ``WidgetRefresher<hex>`` refreshes
  it, so the cell does not block (``AMLWIDGET_SYNC=1`` refreshes in the cell instead);
- in a terminal (anything else) a live ``rich`` table that ``show()`` refreshes until the run
  ends, leaving the final table printed;
- with ``render_lib`` (Azure's hook for Databricks' ``displayHTML``) it hands the HTML of every
  refresh to that callable.

``get_widget_data(widget_settings=None)`` returns the data of those views as a dict with Azure's
keys (see :mod:`amlocal.widgets._data`).

Environment variables, as Azure's: ``AMLWIDGET_RENDER`` other than ``1`` makes ``show()`` render
nothing (and return at once); ``AZUREML_OVERRIDE_ALL_WIDGET_REFRESH_TIME`` is the pause between
refreshes in seconds.

Where this deliberately differs from Azure: the refreshing stops once the run has ended (Azure's
never stops by itself; its stop check is commented out); a terminal gets a live table (Azure's
``show()`` outside Jupyter prints a widget repr and raises); the pause between refreshes starts
at 1 s and grows to 10 s over the first hour (Azure's 5 s to 60 s suits a cloud service);
``workbench_run_details_uri`` is the command that shows the run locally (``amlocal run show
ID``), as there is no studio. One class serves every run kind (Azure's ``RunDetails(run)`` is a
factory of per-kind classes); it still offers what they share: ``run_instance``, ``settings``,
``widget_instance``, ``show`` and ``get_widget_data``.
"""
from __future__ import annotations

import os
import sys
import threading
import time
import traceback
import uuid

from ..errors import UserErrorException
from .._status import TERMINAL
from ._data import WidgetData
from ._render import to_html, to_rich

REFRESH_TIME_OVERRIDE = "AZUREML_OVERRIDE_ALL_WIDGET_REFRESH_TIME"
STARTING_REFRESH_SECONDS = 1.0
MAXIMUM_REFRESH_SECONDS = 10.0
ERRORS_BEFORE_GIVING_UP = 3


def in_jupyter() -> bool:
    """True in a Jupyter kernel: IPython's shell is a ``ZMQInteractiveShell`` (Azure's test).
    A kernel has imported IPython already, so a plain interpreter never imports it here."""
    if "IPython" not in sys.modules:
        return False
    from IPython import get_ipython
    return type(get_ipython()).__name__ == "ZMQInteractiveShell"


def refresh_seconds(elapsed: float) -> float:
    """The pause before the next refresh: the override variable when set, else 1 s growing
    linearly to 10 s over the first hour of watching."""
    override = os.environ.get(REFRESH_TIME_OVERRIDE)
    if override not in (None, ""):
        try:
            seconds = float(override)
        except ValueError:
            seconds = -1.0
        if not seconds > 0:
            raise UserErrorException(
                f"{REFRESH_TIME_OVERRIDE}={override!r} is not a number of seconds above 0; set "
                "it to e.g. 5, or unset it for the default")
        return seconds
    alpha = min(1.0, elapsed / 3600.0)
    return STARTING_REFRESH_SECONDS + alpha * (MAXIMUM_REFRESH_SECONDS - STARTING_REFRESH_SECONDS)


def _end_if_runner_lost(run) -> None:
    """A run (or the pipeline run of a step) whose runner process died before finishing it is
    marked Failed, as ``wait_for_completion`` does, so the view does not wait for ever."""
    for owner in (run, run.parent):
        if owner is not None and hasattr(owner, "_runner_lost"):
            owner._refresh()
            if owner._runner_lost():
                owner._mark_runner_lost()


def _check_run(run) -> None:
    if getattr(run, "experiment", None) is None or not hasattr(run, "get_details"):
        what = getattr(run, "id", None) or type(run).__name__
        raise AttributeError(
            f"RunDetails needs a run tracked in an experiment; {what} is not one "
            "(Run.get_context() outside a submitted job returns an offline run, which records "
            "nothing to show). Pass the run that Experiment.submit(...), Pipeline.submit(...) or "
            "Experiment.start_logging() returns, or Run.get(workspace, run_id)")


class RunDetails:
    """A live view of a run and its steps or child runs: ``RunDetails(run).show()``.

    :param run_instance: the run to show: a run of ``Experiment.submit`` (ScriptRunConfig), a
        ``PipelineRun``, a ``StepRun`` or a run of ``start_logging``. An offline run (from
        ``Run.get_context()`` outside a job) raises AttributeError, as on Azure.
    """

    _data_class = WidgetData

    def __init__(self, run_instance):
        _check_run(run_instance)
        self.run_instance = run_instance
        self.settings: dict = {}
        self.widget_instance = None  # the ipywidgets.HTML once shown with ipywidgets
        self.isDebug = False
        self._data = self._data_class(run_instance)
        self._thread: threading.Thread | None = None

    # -- data -------------------------------------------------------------------------------
    def get_widget_data(self, widget_settings: dict | None = None) -> dict:
        """The data the views show, as Azure's widget returns it: ``status``,
        ``workbench_run_details_uri``, ``run_id``, ``run_properties``, ``child_runs``,
        ``children_metrics``, ``run_metrics``, ``run_logs``, ``graph``, ``widget_settings``.
        JSON-serialisable."""
        if not self.settings and widget_settings:
            self.settings = dict(widget_settings)
        return self._data.collect(widget_settings)

    # -- display ----------------------------------------------------------------------------
    def show(self, render_lib=None, widget_settings: dict | None = None) -> None:
        """Show the run and refresh the view until the run ends.

        :param render_lib: a callable taking HTML (Azure's hook for Databricks' ``displayHTML``);
            each refresh is handed to it, in the caller.
        :param widget_settings: settings passed on to ``get_widget_data``; ``debug`` (bool) puts
            tracebacks of failed refreshes into the view; ``Metric`` ({'name', 'goal'}) names the
            primary metric of ``children_metrics``.

        In a terminal, Ctrl-C stops watching; the run goes on (``run.cancel()`` stops it).
        """
        self._show(render_lib, widget_settings, sync=os.environ.get("AMLWIDGET_SYNC") == "1")

    def _show(self, render_lib, widget_settings, sync: bool) -> None:
        from ..core import VERSION
        self.settings = {"childWidgetDisplay": "popup", "sdk_version": VERSION,
                         **(widget_settings or {})}
        self.isDebug = bool(self.settings.get("debug"))
        render = os.environ.get("AMLWIDGET_RENDER")
        if render not in (None, "", "1"):
            return
        refresh_seconds(0.0)  # a bad override fails here, before anything is shown
        data = self.get_widget_data(self.settings)
        if render_lib is not None:
            render_lib(to_html(data))
            self._refresh(lambda d, note="": render_lib(to_html(d, note)), data, raise_errors=True)
        elif in_jupyter():
            publish = self._jupyter_view(to_html(data))
            if sync:
                self._refresh(publish, data, raise_errors=True)
            else:
                self._thread = threading.Thread(
                    target=self._refresh, args=(publish, data, False),
                    name="WidgetRefresher" + uuid.uuid4().hex, daemon=True)
                self._thread.start()
        else:
            self._terminal_view(data)

    def _jupyter_view(self, first_html: str):
        """Display the first view; return the function that replaces it."""
        from IPython.display import HTML, display
        try:
            import ipywidgets
        except ImportError:
            ipywidgets = None
        if ipywidgets is not None:
            widget = ipywidgets.HTML(value=first_html)
            self.widget_instance = widget
            display(widget)

            def publish(data: dict, note: str = "") -> None:
                widget.value = to_html(data, note)
            return publish
        handle = display(HTML(first_html), display_id=True)

        def publish_html(data: dict, note: str = "") -> None:
            handle.update(HTML(to_html(data, note)))
        return publish_html

    def _terminal_view(self, data: dict) -> None:
        from rich.console import Console
        from rich.live import Live
        console = Console()
        with Live(to_rich(data), console=console, auto_refresh=False, transient=False) as live:
            self._refresh(lambda d, note="": live.update(to_rich(d, note), refresh=True), data,
                          raise_errors=True)
        if not console.is_terminal:
            console.line()  # Live leaves the final table without its line end outside a terminal

    def _refresh(self, publish, data: dict, raise_errors: bool) -> None:
        """Refresh until the run has ended. A refresh that fails shows its error in the view;
        the same kind of error three times in a row ends the refreshing (raised in the caller,
        shown in the view in a background thread)."""
        started = time.monotonic()
        last_error, repeats = None, 0
        while data["status"] not in TERMINAL:
            time.sleep(refresh_seconds(time.monotonic() - started))
            try:
                _end_if_runner_lost(self.run_instance)
                data = self.get_widget_data(self.settings)
            except Exception as exc:  # noqa: BLE001 - shown in the view, raised when repeated
                repeats = repeats + 1 if type(exc) is type(last_error) else 1
                last_error = exc
                detail = ("".join(traceback.format_exception(exc)) if self.isDebug
                          else f"{type(exc).__name__}: {exc}")
                if repeats >= ERRORS_BEFORE_GIVING_UP:
                    publish(data, f"Refreshing stopped after {repeats} failed refreshes: {detail}")
                    if raise_errors:
                        raise
                    return
                publish(data, f"Refreshing failed (will retry): {detail}")
                continue
            last_error, repeats = None, 0
            publish(data)
