"""Who runs which mini-batch: the ONE seam between the job and the machines it runs on.

:class:`LocalNodes` runs every node of the job on this machine: ``node_count x
process_count_per_node`` forked worker processes (:mod:`.worker`) pull mini-batches from one
queue (each holds at most PREFETCH, so a slow mini-batch does not hold others back for long).
It enforces ``run_invocation_timeout`` from here: a worker whose current ``run()`` is older than
that is killed (SIGKILL) and replaced by a fresh one (which imports the script and calls
``init()`` again), and the mini-batch is retried, up to ``run_max_try`` attempts in all. A
worker that dies is replaced the same way. A cluster target replaces this class with one that
spreads the same mini-batches over its nodes; the job (:class:`Job`) stays the same.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from typing import Protocol

from .batches import MiniBatch
from .entry_script import WorkerIdentity
from .progress import MasterLog, Outcome, worker_paths
from .settings import JobSettings

PREFETCH = 2
STOP_GRACE = 10.0          # seconds a worker gets to run shutdown() and exit


class Job(Protocol):
    """What the seam reports to (see :class:`amlocal._runtime.parallel_run.driver.JobState`)."""

    def record(self, outcome: Outcome, attempt: int, final: bool,
               all_scheduled: bool) -> str | None: ...

    def tick(self) -> None: ...


class AbortJob(Exception):
    """The job cannot go on (init() failed, a failure limit was exceeded)."""


@dataclass
class _Worker:
    identity: WorkerIdentity
    process: object
    conn: object
    queue: deque = field(default_factory=deque)   # (MiniBatch, attempt); the head is running
    ready: bool = False
    head_started: float | None = None

    @property
    def where(self) -> str:
        return f"{self.identity.node}/{self.identity.process}"


class LocalNodes:
    """Every node on this machine (a local compute target)."""

    def __init__(self, settings: JobSettings, log: MasterLog):
        self.settings = settings
        self.log = log
        self._ctx = multiprocessing.get_context("fork")
        self._workers: list[_Worker] = []
        self.problems: list[str] = []    # what workers could not finish when stopped

    def identities(self) -> list[WorkerIdentity]:
        s = self.settings
        return [WorkerIdentity(f"node{n}", f"process{p:03d}", n,
                               str(worker_paths(f"node{n}", f"process{p:03d}")["entry_log"]),
                               s.output, s.logging_level)
                for n in range(s.node_count) for p in range(s.process_count_per_node)]

    # -- the job ------------------------------------------------------------------------------
    def run(self, batches: list[MiniBatch], job: Job) -> None:
        """Process every mini-batch (retrying failed ones). Raises AbortJob."""
        s = self.settings
        if s.node_count > 1:
            self.log.say(f"node_count={s.node_count} on a local compute target: the "
                         f"{s.node_count} nodes run on this machine, "
                         f"{s.node_count * s.process_count_per_node} worker processes in all")
        pending = deque((b, 1) for b in batches)
        remaining = len(batches)
        self._workers = [self._start(i) for i in self.identities()]
        try:
            while remaining:
                self._dispatch(pending)
                ready = wait(self._waitables(), timeout=self._timeout())
                for w in list(self._workers):
                    if w.conn in ready or w.process.sentinel in ready:
                        remaining -= self._drain(w, pending, job)
                remaining -= self._check_timeouts(pending, job)
                job.tick()
        finally:
            self._stop_all()

    def _start(self, identity: WorkerIdentity) -> _Worker:
        from .worker import serve
        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(target=serve, args=(child, self.settings, identity),
                                    name=f"{identity.node}-{identity.process}")
        # not a daemon: an entry script may start processes of its own (DataLoader workers)
        process.start()
        child.close()
        self.log.write(f"started worker {identity.node}/{identity.process} (pid {process.pid})")
        return _Worker(identity, process, parent)

    def _dispatch(self, pending: deque) -> None:
        for w in self._workers:
            while pending and len(w.queue) < PREFETCH:
                batch, attempt = pending.popleft()
                w.conn.send(batch)
                w.queue.append((batch, attempt))
                if w.ready and len(w.queue) == 1:
                    w.head_started = time.monotonic()

    def _waitables(self) -> list:
        return [x for w in self._workers for x in (w.conn, w.process.sentinel)]

    def _timeout(self) -> float:
        limit = self.settings.run_invocation_timeout
        now = time.monotonic()
        deadlines = [w.head_started + limit - now for w in self._workers
                     if w.head_started is not None]
        return max(0.0, min([1.0, *deadlines]))

    def _drain(self, w: _Worker, pending: deque, job: Job) -> int:
        """Handle what ``w`` sent; replace it when it died. Returns mini-batches finished."""
        finished = 0
        try:
            while w.conn.poll():
                message = w.conn.recv()
                kind = message[0]
                if kind == "ready":
                    w.ready = True
                    self.log.write(f"worker {w.where} ready (init done)")
                    if w.queue:
                        w.head_started = time.monotonic()
                elif kind == "init_failed":
                    raise AbortJob(f"init() of the entry script failed in worker {w.where}: "
                                   f"{message[1]} (traceback in logs/user/error/"
                                   f"{w.identity.node}/{w.identity.process}.txt)")
                elif kind == "done":
                    finished += self._finish(w, message[1], pending, job)
        except (EOFError, OSError):
            pass
        if not w.process.is_alive():
            w.process.join()
            finished += self._lost(w, f"the worker process exited with code "
                                      f"{w.process.exitcode} while running it", pending, job)
        return finished

    def _finish(self, w: _Worker, outcome: Outcome, pending: deque, job: Job) -> int:
        batch, attempt = w.queue.popleft()
        w.head_started = time.monotonic() if w.queue else None
        final = outcome.ok or attempt >= self.settings.run_max_try
        if not final:
            pending.append((batch, attempt + 1))
        reason = job.record(outcome, attempt, final, all_scheduled=not pending)
        if reason:
            raise AbortJob(reason)
        return 1 if final else 0

    def _lost(self, w: _Worker, reason: str, pending: deque, job: Job) -> int:
        """``w`` is gone: its running mini-batch failed, the others go back to the queue, and
        a fresh worker takes its place."""
        if not w.ready:
            raise AbortJob(f"worker {w.where} exited (code {w.process.exitcode}) before its "
                           "init() finished; see logs/user/stdout and logs/sys/node")
        self.log.write(f"worker {w.where} lost: {reason}")
        finished = 0
        if w.queue:
            batch, attempt = w.queue[0]
            outcome = Outcome(batch.id, False, max(1, len(batch.files)), error=reason,
                              worker=w.where)
            finished = self._finish(w, outcome, pending, job)
        pending.extendleft(reversed(w.queue))
        w.queue.clear()
        w.conn.close()
        index = self._workers.index(w)
        self._workers[index] = self._start(w.identity)
        return finished

    def _check_timeouts(self, pending: deque, job: Job) -> int:
        limit = self.settings.run_invocation_timeout
        now = time.monotonic()
        finished = 0
        for w in list(self._workers):
            if w.head_started is not None and now - w.head_started > limit:
                _kill(w.process)
                finished += self._lost(w, f"run() did not return within run_invocation_timeout="
                                          f"{limit} s; the process was killed", pending, job)
        return finished

    def _stop_all(self) -> None:
        for w in self._workers:
            try:
                w.conn.send(None)
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + STOP_GRACE
        for w in self._workers:
            if w.queue:  # still busy (the job was aborted): no need to wait for it
                _kill(w.process)
            elif w.ready:
                self._stopped(w, deadline)
            w.process.join(max(0.0, deadline - time.monotonic()))
            if w.process.is_alive():
                _kill(w.process)
            w.conn.close()
        self._workers = []

    def _stopped(self, w: _Worker, deadline: float) -> None:
        """Wait for ``w``'s ``stopped`` report (shutdown() and its metrics flush)."""
        try:
            while w.conn.poll(max(0.0, deadline - time.monotonic())):
                message = w.conn.recv()
                if message[0] == "stopped":
                    self.problems += message[1]
                    return
        except (EOFError, OSError):
            pass
        self.problems.append(f"worker {w.where} did not stop within {STOP_GRACE:.0f} s "
                             "(shutdown() or flushing its metrics); it was killed")


def _kill(process) -> None:
    try:
        os.kill(process.pid, signal.SIGKILL)
    except (ProcessLookupError, TypeError):
        pass
    process.join(5)
