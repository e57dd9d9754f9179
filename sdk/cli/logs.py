"""``amlocal run logs``: print or follow a run's log.

A pipeline run's log is every step's output, each line prefixed with ``[step name]`` (the live
log its runner writes); a step run's (or a script run's) log is its own std log. ``--follow``
waits for more until the run ends; Ctrl-C stops following and leaves the run going.
"""
from __future__ import annotations

import sys
import time

import click

from .._status import TERMINAL
from ..errors import UserErrorException
from ._common import EXIT_INTERRUPTED, note, workspace_options
from ._runs import get_run, pick_run_id, run_id_options

POLL_SECONDS = 0.25


def _write(data: bytes) -> None:
    click.echo(data.decode("utf-8", "replace"), nl=False)
    sys.stdout.flush()


def follow_log(r, log_name: str, *, follow: bool) -> None:
    """Print artifact ``log_name`` of run ``r``; with ``follow`` keep printing new lines until
    the run ends (whole lines only while it goes on). A pipeline run whose runner process ended
    without finishing it is marked Failed, as ``PipelineRun.wait_for_completion`` does."""
    store = r._store
    offset = 0
    while True:
        status = r._refresh().status
        done = status in TERMINAL or not follow
        chunk = store.read_artifact(r.id, log_name, offset)
        if chunk:
            end = len(chunk) if done else chunk.rfind(b"\n") + 1
            if end:
                _write(chunk[:end])
                offset += end
        if done:
            if follow:
                # the runner writes its last line just after the final status
                time.sleep(POLL_SECONDS)
                rest = store.read_artifact(r.id, log_name, offset)
                if rest:
                    _write(rest)
            return
        if r._runner_lost():
            r._mark_runner_lost()
            continue
        time.sleep(POLL_SECONDS)


@click.command("logs")
@run_id_options
@click.option("--step", "step_name", default=None, metavar="NAME",
              help="For a pipeline run: only this step's log.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines until the run ends.")
@workspace_options
def logs(run_id, run_option, step_name, follow, selector) -> None:
    """Print a run's log (a pipeline run: every step's lines, prefixed by the step name)."""
    from .._status import PIPELINE_LOG, STD_LOG
    r = get_run(selector, pick_run_id(run_id, run_option))
    kind = r._refresh().kind
    try:
        if kind != "pipeline":
            if step_name:
                raise UserErrorException(f"run {r.id} is not a pipeline run; --step selects a "
                                         "step of a pipeline run")
            follow_log(r, STD_LOG, follow=follow)
        elif step_name:
            found = r.find_step_run(step_name)
            if not found:
                names = ", ".join(s.name for s in r.get_steps())
                raise UserErrorException(f"pipeline run {r.id} has no step '{step_name}'; its "
                                         f"steps: {names or '(none)'}")
            follow_log(found[0], STD_LOG, follow=follow)
        elif follow or r._store.read_artifact(r.id, PIPELINE_LOG):
            follow_log(r, PIPELINE_LOG, follow=follow)
        else:
            for step in r.get_steps():  # no live log kept: the steps' own logs, prefixed
                for line in step.get_job_log().splitlines():
                    click.echo(f"[{step.name}] {line}")
    except KeyboardInterrupt:
        note(f"\nStopped following run {r.id}; it goes on (cancel it with "
             f"`amlocal run cancel {r.id}`)")
        click.get_current_context().exit(EXIT_INTERRUPTED)
