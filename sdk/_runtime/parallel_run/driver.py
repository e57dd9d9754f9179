"""``main(argv)``: the ParallelRunStep driver, run by the step's generated launcher.

Reads Azure's driver argv (:mod:`.settings`), splits the inputs into mini-batches
(:mod:`.batches`), has :class:`~.nodes.LocalNodes` run them, and counts the outcomes
(:mod:`.progress`): progress lines on stdout (the step log) and the logs layout under ``./logs``.
Exit status 0 when the job succeeded, 1 when it failed (a failure limit exceeded, ``init()``
failed, an input missing), with the reason on stderr and in ``logs/job_error.txt``.
"""
from __future__ import annotations

import signal
import sys
import time

from .batches import plan
from .nodes import AbortJob, LocalNodes
from .progress import MasterLog, Outcome, OutputFile, Progress, Tally, record_failure, write_result
from .settings import JobSettings, SettingsError, parse


class JobState:
    """The job as the seam reports to it: counts, limits, the output file, progress."""

    def __init__(self, settings: JobSettings, total: int, log: MasterLog):
        self.settings = settings
        self.tally = Tally(settings, total)
        self.progress = Progress(self.tally)
        self.output = OutputFile(settings)
        self.log = log

    def record(self, outcome: Outcome, attempt: int, final: bool,
               all_scheduled: bool) -> str | None:
        if outcome.ok:
            self.output.add(outcome.lines)
        else:
            record_failure(outcome, attempt, self.settings.run_max_try)
            self.log.write(f"mini-batch {outcome.batch_id} attempt {attempt} failed on "
                           f"{outcome.worker}: {outcome.error}")
            print(f"[ParallelRunStep] mini-batch {outcome.batch_id} attempt {attempt}/"
                  f"{self.settings.run_max_try} failed: {outcome.error}", flush=True)
        self.tally.record(outcome, final)
        return self.tally.exceeded(all_scheduled)

    def tick(self) -> None:
        self.progress.maybe()


def _terminate(signum, frame):  # SIGTERM (the step was canceled): stop the workers on the way out
    raise SystemExit(128 + signum)


def main(argv: list[str]) -> int:
    log = MasterLog()
    try:
        settings = parse(argv)
    except SettingsError as exc:
        log.say(f"FAILED: {exc}")
        print(f"ParallelRunStep: {exc}", file=sys.stderr, flush=True)
        return 1
    signal.signal(signal.SIGTERM, _terminate)
    started = time.monotonic()
    log.write(f"settings: {settings}")
    try:
        batches = plan(settings)
    except Exception as exc:  # noqa: BLE001 - a missing or unreadable input: say which
        log.say(f"FAILED: cannot split the inputs into mini-batches: {exc}")
        write_result(Tally(settings, 0), f"cannot split the inputs into mini-batches: {exc}")
        return 1
    nodes = LocalNodes(settings, log)
    what = ("rank mini-batches" if settings.rank_mini_batch_count else
            f"mini-batches from {len(settings.inputs)} input(s)")
    log.say(f"{len(batches)} {what}; {settings.node_count} node(s) x "
            f"{settings.process_count_per_node} process(es); entry script "
            f"{settings.entry_script}; output_action {settings.output_action}")
    job = JobState(settings, len(batches), log)
    error, completed = None, False
    try:
        if batches:
            nodes.run(batches, job)
        else:
            log.say("the inputs hold no data: nothing to process")
        error = job.tally.exceeded(all_scheduled=True) or "; ".join(nodes.problems) or None
        completed = True
    except AbortJob as exc:
        error, completed = str(exc), True
    finally:
        job.output.finish(ok=completed and error is None)
    job.progress.maybe(force=True)
    write_result(job.tally, error)
    if error:
        log.write(f"job failed: {error}")
        return 1
    if job.output.path is not None:
        log.say(f"wrote {job.output.path} ({job.tally.items_ok} rows)")
    log.say(f"job succeeded in {time.monotonic() - started:.2f} s")
    return 0
