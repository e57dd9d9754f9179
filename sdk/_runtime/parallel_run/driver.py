"""``main(argv)``: the ParallelRunStep driver, run by the step's generated launcher.

Reads Azure's driver argv (:mod:`.settings`), splits the inputs into mini-batches
(:mod:`.batches`), has :class:`~.nodes.LocalNodes` run them, and counts the outcomes
(:mod:`.progress`): progress lines on stdout (the step log) and the logs layout under ``./logs``.
Exit status 0 when the job succeeded, 1 when it failed (a failure limit exceeded, ``init()``
failed, an input missing), with the reason on stderr and in ``logs/job_error.txt``.

Started as one of several copies on a cluster (``AMLOCAL_NODE_COUNT`` > 1), it runs its own
node's share and hands its counts and output over for the host to combine (:mod:`.ranks`).
"""
from __future__ import annotations

import signal
import sys
import time

from .batches import plan
from .nodes import AbortJob, LocalNodes
from .progress import MasterLog, Outcome, OutputFile, Progress, Tally, record_failure, write_result
from .ranks import RankShare, node_ranks
from .settings import JobSettings, SettingsError, parse


class JobState:
    """The job as the seam reports to it: counts, limits, the output file, progress.
    ``share``: this copy's share on a cluster (its lines, failures and progress go to its own
    files, see :mod:`.ranks`)."""

    def __init__(self, settings: JobSettings, total: int, log: MasterLog,
                 share: RankShare | None = None):
        self.settings = settings
        self.tally = Tally(settings, total)
        self.share = share
        self.progress = Progress(self.tally, share.progress_log if share else None)
        self.output = OutputFile(settings, share.part if share else None)
        self.log = log

    def record(self, outcome: Outcome, attempt: int, final: bool,
               all_scheduled: bool) -> str | None:
        if outcome.ok:
            self.output.add(outcome.lines)
        else:
            record_failure(outcome, attempt, self.settings.run_max_try,
                           self.share.error_log if self.share else None)
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
    try:
        rank, count = node_ranks()
    except SettingsError as exc:
        print(f"ParallelRunStep: {exc}", file=sys.stderr, flush=True)
        return 1
    log = MasterLog() if rank == 0 else MasterLog(f"node{rank}")
    try:
        settings = parse(argv)
    except SettingsError as exc:
        log.say(f"FAILED: {exc}")
        print(f"ParallelRunStep: {exc}", file=sys.stderr, flush=True)
        return 1
    signal.signal(signal.SIGTERM, _terminate)
    started = time.monotonic()
    log.write(f"settings: {settings}")
    share = RankShare(rank, count, settings) if count > 1 else None
    if share is not None:
        # every copy writes only files of its own name: no __pycache__ of the entry script
        # (or its modules) in the working directory, which all copies would write
        sys.dont_write_bytecode = True
    if share is not None and count != settings.node_count:
        log.say(f"the cluster started {count} copies of the step for node_count="
                f"{settings.node_count}: the job runs on {count} node(s)")
    try:
        batches = plan(settings)
    except Exception as exc:  # noqa: BLE001 - a missing or unreadable input: say which
        reason = f"cannot split the inputs into mini-batches: {exc}"
        log.say(f"FAILED: {reason}")
        if share is not None:
            share.hand_off(Tally(settings, 0), reason)
        else:
            write_result(Tally(settings, 0), reason)
        return 1
    job = JobState(settings, len(batches), log, share)
    if share is None:
        nodes = LocalNodes(settings, log)
        where = f"{settings.node_count} node(s)"
    else:
        nodes = LocalNodes(settings, log, nodes=[rank], claim=share.claim)
        where = f"node {rank} of {count} (host {share.host})"
    what = ("rank mini-batches" if settings.rank_mini_batch_count else
            f"mini-batches from {len(settings.inputs)} input(s)")
    log.say(f"{len(batches)} {what}; {where} x {settings.process_count_per_node} "
            f"process(es); entry script {settings.entry_script}; output_action "
            f"{settings.output_action}")
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
    if share is not None:      # the host combines the copies (amlocal._engine.parallel_copies)
        share.hand_off(job.tally, error)
        log.say(f"{share.node} finished its share in {time.monotonic() - started:.2f} s"
                + (f"; FAILED: {error}" if error else ""))
        return 1 if error else 0
    write_result(job.tally, error)
    if error:
        log.write(f"job failed: {error}")
        return 1
    if job.output.path is not None:
        log.say(f"wrote {job.output.path} ({job.tally.items_ok} rows)")
    log.say(f"job succeeded in {time.monotonic() - started:.2f} s")
    return 0
