"""Who runs which mini-batch: the ONE seam between the job and the machines it runs on.

:class:`LocalNodes` runs every node of the job on this machine: ``node_count x
process_count_per_node`` forked worker processes (:mod:`.worker`) pull mini-batches from one
queue (each holds at most PREFETCH, so a slow mini-batch does not hold others back for long).
It enforces ``run_invocation_timeout`` from here: a worker whose current ``run()`` is older than
that is killed (SIGKILL) and replaced by a fresh one (which imports the script and calls
``init()`` again), and the mini-batch is retried, up to ``run_max_try`` attempts in all. A
worker that dies is replaced the same way.

On a cluster (a step started as ``AMLOCAL_NODE_COUNT`` copies, see :mod:`.ranks`) each copy
runs ONE node of the job: ``LocalNodes(settings, log, nodes=[rank], claim=share.claim)`` starts
that node's ``process_count_per_node`` workers and takes only the mini-batches ``claim`` grants
it; the job (:class:`Job`) stays the same.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from typing import Callable, Protocol

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


class _Queue:
    """The mini-batches still to dispatch: retries and put-back ones first (``pending``, taken
    already), then fresh ones, each taken only when ``claim`` grants it (always, locally)."""

    def __init__(self, batches: list[MiniBatch], claim: Callable[[MiniBatch], bool] | None):
        self.fresh = deque(batches)
        self.pending: deque = deque()
        self.claim = claim
        self.taken = 0                 # fresh mini-batches this node took

    def take(self) -> tuple[MiniBatch, int] | None:
        if self.pending:
            return self.pending.popleft()
        while self.fresh:
            batch = self.fresh.popleft()
            if self.claim is None or self.claim(batch):
                self.taken += 1
                return batch, 1
        return None

    def retry(self, item: tuple[MiniBatch, int]) -> None:
        self.pending.append(item)

    def put_back(self, items) -> None:
        self.pending.extendleft(reversed(list(items)))

    @property
    def empty(self) -> bool:
        return not self.pending and not self.fresh


class LocalNodes:
    """The job's nodes on this machine: every node (a local compute target), or ``nodes`` only,
    taking the mini-batches ``claim`` grants (one copy of a step on a cluster)."""

    def __init__(self, settings: JobSettings, log: MasterLog, nodes: list[int] | None = None,
                 claim: Callable[[MiniBatch], bool] | None = None):
        self.settings = settings
        self.log = log
        self.nodes = list(range(settings.node_count)) if nodes is None else list(nodes)
        self.claim = claim
        self._ctx = multiprocessing.get_context("fork")
        self._workers: list[_Worker] = []
        self.problems: list[str] = []    # what workers could not finish when stopped

    def identities(self) -> list[WorkerIdentity]:
        s = self.settings
        return [WorkerIdentity(f"node{n}", f"process{p:03d}", n,
                               str(worker_paths(f"node{n}", f"process{p:03d}")["entry_log"]),
                               s.output, s.logging_level)
                for n in self.nodes for p in range(s.process_count_per_node)]

    # -- the job ------------------------------------------------------------------------------
    def run(self, batches: list[MiniBatch], job: Job) -> None:
        """Process every mini-batch this node takes (retrying failed ones). Raises AbortJob."""
        s = self.settings
        if len(self.nodes) > 1:
            self.log.say(f"node_count={s.node_count} on a local compute target: the "
                         f"{len(self.nodes)} nodes run on this machine, "
                         f"{len(self.nodes) * s.process_count_per_node} worker processes in all")
        queue = _Queue(batches, self.claim)
        if self.claim is not None:          # nothing left for this node: start no worker
            first = queue.take()
            if first is None:
                self.log.say("no mini-batch falls to this node: no worker started")
                return
            queue.put_back([first])
        finished = 0
        self._workers = [self._start(i) for i in self.identities()]
        try:
            while True:
                self._dispatch(queue)
                if finished == queue.taken and queue.empty:
                    break
                ready = wait(self._waitables(), timeout=self._timeout())
                for w in list(self._workers):
                    if w.conn in ready or w.process.sentinel in ready:
                        finished += self._drain(w, queue, job)
                finished += self._check_timeouts(queue, job)
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

    def _dispatch(self, queue: _Queue) -> None:
        for w in self._workers:
            while len(w.queue) < PREFETCH:
                item = queue.take()
                if item is None:
                    return
                batch, attempt = item
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

    def _drain(self, w: _Worker, pending: _Queue, job: Job) -> int:
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

    def _finish(self, w: _Worker, outcome: Outcome, pending: _Queue, job: Job) -> int:
        batch, attempt = w.queue.popleft()
        w.head_started = time.monotonic() if w.queue else None
        final = outcome.ok or attempt >= self.settings.run_max_try
        if not final:
            pending.retry((batch, attempt + 1))
        reason = job.record(outcome, attempt, final,
                            all_scheduled=pending.empty and self.claim is None)
        if reason:
            raise AbortJob(reason)
        return 1 if final else 0

    def _lost(self, w: _Worker, reason: str, pending: _Queue, job: Job) -> int:
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
        pending.put_back(w.queue)
        w.queue.clear()
        w.conn.close()
        index = self._workers.index(w)
        self._workers[index] = self._start(w.identity)
        return finished

    def _check_timeouts(self, pending: _Queue, job: Job) -> int:
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
