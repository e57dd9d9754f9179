"""Counting a parallel run: outcomes, Azure's three failure limits, the append_row file, progress
lines and the logs layout (under the step's ``./logs``, collected as the run's files):

- ``logs/job_progress_overview.txt``: the progress lines (also printed to stdout, which is the
  step log and the ``--wait`` output);
- ``logs/job_result.txt`` and, when the job failed, ``logs/job_error.txt``;
- ``logs/sys/master_role.txt``: what the master (the driver process) did;
- ``logs/sys/node/<node>/<process>.txt``: each worker's own record (init, every mini-batch);
- ``logs/user/error.txt``: one line per failed ``run()`` attempt;
  ``logs/user/error/<node>/<process>.txt`` the full tracebacks;
- ``logs/user/stdout/<node>/<process>.stdout.txt`` / ``.stderr.txt``: what the entry script
  printed; ``logs/user/entry_script_log/<node>/<process>.log.txt``: its EntryScript logger.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .settings import JobSettings

LOGS = Path("logs")
PROGRESS_INTERVAL = 2.0      # seconds between progress lines while mini-batches finish


def worker_paths(node: str, process: str) -> dict[str, Path]:
    """Where one worker's files go (relative to the step's working directory)."""
    return {"stdout": LOGS / "user" / "stdout" / node / f"{process}.stdout.txt",
            "stderr": LOGS / "user" / "stdout" / node / f"{process}.stderr.txt",
            "error": LOGS / "user" / "error" / node / f"{process}.txt",
            "entry_log": LOGS / "user" / "entry_script_log" / node / f"{process}.log.txt",
            "sys": LOGS / "sys" / "node" / node / f"{process}.txt"}


def append(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(text if text.endswith("\n") else text + "\n")


def stamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())


class MasterLog:
    """``logs/sys/master_role.txt``; ``say`` also prints the line to the step log. On a cluster
    every copy but the first (rank 0, the master) has ``logs/sys/node/<node>/agent_role.txt``
    and prefixes what it prints with its node."""

    def __init__(self, node: str | None = None):
        self.node = node
        self.path = (LOGS / "sys" / "master_role.txt" if node is None
                     else LOGS / "sys" / "node" / node / "agent_role.txt")

    def write(self, text: str) -> None:
        append(self.path, f"{stamp()} {text}")

    def say(self, text: str) -> None:
        self.write(text)
        print(f"[ParallelRunStep] {f'{self.node}: ' if self.node else ''}{text}", flush=True)


@dataclass(frozen=True)
class Outcome:
    """One finished ``run()`` attempt, as a worker reports it."""

    batch_id: int
    ok: bool
    items: int                 # items in the mini-batch (files or rows)
    succeeded: int = 0         # elements/rows run() returned
    lines: str = ""            # append_row text ("" for summary_only)
    error: str = ""            # one-line reason of a failed attempt
    detail: str = ""           # the traceback of a failed attempt
    seconds: float = 0.0
    worker: str = ""           # "<node>/<process>"


class Tally:
    """Counts mini-batches and items and applies ``error_threshold`` (failed items),
    ``allowed_failed_count`` (failed mini-batches) and ``allowed_failed_percent`` (failed
    mini-batches in percent of all, checked once every mini-batch was scheduled). A mini-batch
    whose latest attempt failed counts as failed until a retry succeeds, as on Azure."""

    def __init__(self, settings: JobSettings, total: int):
        self.settings = settings
        self.total = total
        self.done = 0               # mini-batches finished (succeeded or given up)
        self.succeeded = 0
        self.given_up = 0
        self.failing: set[int] = set()   # latest attempt failed (retrying or given up)
        self.failed_attempts = 0
        self.items_ok = 0
        self.items_failed = 0
        self.started = time.monotonic()

    def record(self, outcome: Outcome, final: bool) -> None:
        """Count one attempt; ``final``: no retry follows (success, or the last try failed)."""
        if outcome.ok:
            self.failing.discard(outcome.batch_id)
            self.done += 1
            self.succeeded += 1
            self.items_ok += outcome.succeeded
            self.items_failed += max(0, outcome.items - outcome.succeeded)
            return
        self.failed_attempts += 1
        self.failing.add(outcome.batch_id)
        if final:
            self.done += 1
            self.given_up += 1
            self.items_failed += outcome.items

    def exceeded(self, all_scheduled: bool) -> str | None:
        """Why the job must stop, or None."""
        s = self.settings
        if s.error_threshold >= 0 and self.items_failed > s.error_threshold:
            return (f"{self.items_failed} failed items exceed error_threshold="
                    f"{s.error_threshold}")
        failed = len(self.failing)
        if s.allowed_failed_count is not None and s.allowed_failed_count >= 0 \
                and failed > s.allowed_failed_count:
            return (f"{failed} failed mini-batches exceed allowed_failed_count="
                    f"{s.allowed_failed_count}")
        if s.allowed_failed_percent is not None and all_scheduled and self.total:
            percent = 100.0 * failed / self.total
            if percent > s.allowed_failed_percent:
                return (f"{percent:.1f}% failed mini-batches exceed allowed_failed_percent="
                        f"{s.allowed_failed_percent:g}")
        return None

    def line(self) -> str:
        retrying = len(self.failing) - self.given_up
        return (f"progress: {self.done}/{self.total} mini-batches done, {self.given_up} failed"
                f"{f', {retrying} retrying' if retrying > 0 else ''}; items: {self.items_ok} "
                f"succeeded, {self.items_failed} failed; {time.monotonic() - self.started:.1f} s")


class Progress:
    """Prints the tally at most every PROGRESS_INTERVAL seconds (and on demand) to the step log
    and appends it to ``logs/job_progress_overview.txt``."""

    def __init__(self, tally: Tally, path: Path | None = None):
        self.tally = tally
        self.path = path or LOGS / "job_progress_overview.txt"
        self.last = 0.0
        self.shown: tuple = ()

    def maybe(self, force: bool = False) -> None:
        now = time.monotonic()
        t = self.tally
        counts = (t.done, t.given_up, len(t.failing), t.items_ok, t.items_failed)
        if (force and counts != self.shown) or now - self.last >= PROGRESS_INTERVAL:
            self.last, self.shown = now, counts
            text = self.tally.line()
            append(self.path, f"{stamp()} {text}")
            print(f"[ParallelRunStep] {text}", flush=True)


def record_failure(outcome: Outcome, attempt: int, max_try: int, path: Path | None = None) -> None:
    """``logs/user/error.txt`` (a line; ``path`` instead for one copy on a cluster) and the
    worker's error file (the traceback)."""
    retry = "will retry" if attempt < max_try else "giving up"
    append(path or LOGS / "user" / "error.txt",
           f"{stamp()} mini-batch {outcome.batch_id} attempt {attempt}/{max_try} on "
           f"{outcome.worker}: {outcome.error} ({retry})")
    if outcome.worker and "/" in outcome.worker:
        node, process = outcome.worker.split("/", 1)
        append(worker_paths(node, process)["error"],
               f"{stamp()} mini-batch {outcome.batch_id} attempt {attempt}/{max_try}:\n"
               f"{outcome.detail or outcome.error}\n")


class OutputFile:
    """The append_row file: written to a hidden temporary name in the output folder while the
    job runs and renamed when it succeeds (removed when it fails), so a failed job leaves no
    partial result. Order of lines follows completion order (Azure does not guarantee one)."""

    def __init__(self, settings: JobSettings, part: str | None = None):
        """``part`` (a copy on a cluster, e.g. "rank1"): the lines go to the hidden part file
        :func:`part_file` names, which ``finish`` keeps (when ok) for rank 0 to merge."""
        self.enabled = settings.append_row
        self.part = part
        self.path = self.temp = None
        self.handle = None
        if not self.enabled:
            return
        if not settings.output:
            raise OSError("output_action='append_row' needs an output folder (--output)")
        folder = Path(settings.output)
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / settings.append_row_file_name
        self.temp = (folder / f".{settings.append_row_file_name}.partial" if part is None
                     else part_file(settings, part))
        self.handle = open(self.temp, "w", encoding="utf-8")  # noqa: SIM115 - closed in finish

    def add(self, text: str) -> None:
        if self.handle is not None and text:
            self.handle.write(text)

    def finish(self, ok: bool) -> None:
        if self.handle is None:
            return
        self.handle.close()
        self.handle = None
        if ok and self.part is not None:
            return                  # kept for the merge
        if ok:
            os.replace(self.temp, self.path)
        else:
            try:
                os.remove(self.temp)
            except FileNotFoundError:
                pass


def part_file(settings: JobSettings, part: str) -> Path:
    """The hidden file of one copy's append_row lines in the output folder."""
    return Path(settings.output) / f".{settings.append_row_file_name}.{part}.partial"


def write_result(tally: Tally, error: str | None) -> None:
    summary = tally.line()
    if error:
        append(LOGS / "job_error.txt", f"{stamp()} {error}")
        append(LOGS / "job_result.txt", f"{stamp()} Job failed: {error}\n{summary}")
        print(f"[ParallelRunStep] FAILED: {error}", file=sys.stderr, flush=True)
    else:
        append(LOGS / "job_result.txt", f"{stamp()} Job succeeded.\n{summary}")
