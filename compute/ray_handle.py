"""The driver's side of a step running on a Ray cluster: :class:`RayStepHandle`.

A step is ``StepSpec.node_count`` copies (one by default), each a Ray task (see
:mod:`amlocal.compute.ray_tasks`) followed by a thread of this process that reads the task's
stream: its lines go to the handle's queue, the files it sends back are written (and checked) by
a :class:`~amlocal.compute.ray_files.Receiver`. With one copy the step's lines are the
container's as they are; with more, every line starts ``[node N] `` (N: the copy's
``AMLOCAL_NODE_RANK``). The step's exit status is the first non-zero one in rank order.

Node loss: when the node running a copy dies (Ray raises NodeDiedError, WorkerCrashedError,
ObjectLostError/OwnerDiedError or an actor error on the stream), the copy's log says so, naming
the node, and the copy ends with :data:`NODE_LOST_STATUS`, or, while the target's
``max_retries`` allows, its task is started again (on another node: the dead one is gone;
refused at once when no alive node can take it). A worker that died on a node still alive has
its container removed through a task pinned to that node. Nothing stays running: every way out
ends each copy.
"""
from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Callable, Iterator

from amlocal.errors import (AmlocalError, ComputeError, ComputeTargetException,
                            DockerUnavailableError, EnvironmentBuildError)

from .ray_files import Receiver

CANCELLED_STATUS = 143
NODE_LOST_STATUS = -1        # the copy's node (or worker) died and no retry was left
_ERRORS = {cls.__name__: cls for cls in (ComputeError, ComputeTargetException,
                                         DockerUnavailableError, EnvironmentBuildError)}


class _NodeLost(Exception):
    pass


@dataclass
class _Copy:
    rank: int
    generator: object = None
    node_id: str | None = None
    address: str | None = None
    container_id: str | None = None


class RayStepHandle:
    """A step running as Ray tasks: stream its lines, wait for its exit status, cancel it.
    ``launch(rank)`` starts copy ``rank``'s task (a streaming generator); ``check()`` raises
    ComputeTargetException when no alive node can take the step (before a retry);
    ``folders`` maps the index of each writable folder (0: the working directory) to its host
    path."""

    def __init__(self, ray, step_name: str, launch: Callable, check: Callable, remove: Callable,
                 folders: dict, copies: int = 1, max_retries: int = 0):
        self._ray, self._step_name, self._launch, self._check = ray, step_name, launch, check
        self._remove = remove
        self._folders, self._count, self._max_retries = folders, copies, max_retries
        self._events: queue.Queue = queue.Queue()
        self._copies = [_Copy(rank) for rank in range(copies)]
        self._codes: dict[int, int] = {}
        self._error: AmlocalError | None = None
        self._cancelled = False
        self._ended = False
        self._claims: dict = {}
        self._claims_lock = threading.Lock()
        self._threads = [threading.Thread(target=self._follow_copy, args=(c,), daemon=True,
                                          name=f"amlocal-ray-{step_name}-{c.rank}")
                         for c in self._copies]
        for thread in self._threads:
            thread.start()

    # -- compatibility with the one-copy handle ------------------------------------------
    @property
    def node_id(self) -> str | None:
        return self._copies[0].node_id

    @property
    def container_id(self) -> str | None:
        return self._copies[0].container_id

    @property
    def node_ids(self) -> list:
        """The Ray node id of each copy (None before it reported)."""
        return [c.node_id for c in self._copies]

    # -- the copies' threads ---------------------------------------------------------------
    def _say(self, copy: _Copy, text: str) -> None:
        self._events.put(("line", copy.rank, text))

    def _follow_copy(self, copy: _Copy) -> None:
        retries = 0
        while True:
            if self._cancelled:
                self._events.put(("done", copy.rank, CANCELLED_STATUS))
                return
            copy.node_id = copy.address = copy.container_id = None
            receiver = Receiver(self._step_name, self._folders, copy.rank, self._claims,
                                self._claims_lock, self._count)
            try:
                copy.generator = self._launch(copy.rank)
                code = self._read(copy, receiver)
                self._events.put(("done", copy.rank, code))
                return
            except _NodeLost as lost:
                receiver.abort()
                if self._cancelled:
                    self._events.put(("done", copy.rank, CANCELLED_STATUS))
                    return
                self._say(copy, self._lost_message(copy, lost.__cause__ or lost))
                if retries >= self._max_retries:
                    self._events.put(("done", copy.rank, NODE_LOST_STATUS))
                    return
                retries += 1
                try:
                    self._check()
                except ComputeTargetException as exc:
                    self._say(copy, f"amlocal: not retried: {exc}")
                    self._events.put(("done", copy.rank, NODE_LOST_STATUS))
                    return
                self._say(copy, f"amlocal: starting step '{self._step_name}' again on another "
                                f"node (retry {retries} of {self._max_retries})")
            except AmlocalError as exc:
                receiver.abort()
                self._remove_container(copy)
                self._events.put(("fail", copy.rank, exc))
                return
            except Exception as exc:  # noqa: BLE001 - never leave the handle waiting
                receiver.abort()
                self._remove_container(copy)
                self._events.put(("fail", copy.rank, ComputeError(
                    f"the Ray task of step '{self._step_name}' failed: "
                    f"{type(exc).__name__}: {exc}"[:2000])))
                return

    def _read(self, copy: _Copy, receiver: Receiver) -> int:
        """Follow one task's stream to its end; its exit status. Raises _NodeLost, amlocal
        errors."""
        ray = self._ray
        lost = (ray.exceptions.NodeDiedError, ray.exceptions.WorkerCrashedError,
                ray.exceptions.ObjectLostError, ray.exceptions.RayActorError,
                ray.exceptions.LocalRayletDiedError)
        try:
            for ref in copy.generator:
                event = ray.get(ref)
                kind = event[0]
                if kind == "lines":
                    for line in event[1]:
                        self._say(copy, line)
                elif kind == "node":
                    copy.node_id, copy.address = event[1], event[2]
                elif kind == "started":
                    copy.container_id = event[1]
                elif kind == "exit":
                    receiver.close_file()
                    return int(event[1])
                elif kind == "error":
                    raise _ERRORS.get(event[1], ComputeError)(event[2])
                else:
                    note = receiver.take(event)
                    if note:
                        self._say(copy, note)
        except ray.exceptions.TaskCancelledError:
            if self._cancelled:
                return CANCELLED_STATUS
            raise ComputeError(f"the Ray task of step '{self._step_name}' was cancelled by "
                               "someone else") from None
        except lost as exc:
            if self._cancelled:
                return CANCELLED_STATUS
            raise _NodeLost() from exc
        except ray.exceptions.RayError as exc:
            if self._cancelled:
                return CANCELLED_STATUS
            raise ComputeError(f"the Ray task of step '{self._step_name}' failed: "
                               f"{type(exc).__name__}: {exc}"[:2000]) from None
        return CANCELLED_STATUS if self._cancelled else NODE_LOST_STATUS

    def _lost_message(self, copy: _Copy, exc: BaseException) -> str:
        what = type(exc).__name__
        if copy.node_id is None:
            detail = str(exc).splitlines()[0][:300] if str(exc) else ""
            return (f"amlocal: the Ray task of step '{self._step_name}' was lost before it "
                    f"reported its node ({what}: {detail})")
        node = f"{copy.address} ({copy.node_id[:8]})"
        alive = False
        try:
            alive = any(n.get("NodeID") == copy.node_id and n.get("Alive")
                        for n in self._ray.nodes())
        except Exception:  # noqa: BLE001 - the cluster is unreachable: say the node died
            pass
        if alive:
            self._remove_container(copy)
            return (f"amlocal: the Ray worker running step '{self._step_name}' on node {node} "
                    f"died ({what}); its container was removed")
        return (f"amlocal: Ray node {node} died while it ran step '{self._step_name}' ({what}); "
                "its containers are removed when it comes back")

    def _remove_container(self, copy: _Copy) -> None:
        if copy.node_id and copy.container_id:
            try:
                self._remove(copy.node_id, copy.container_id)
            except Exception:  # noqa: BLE001 - the node is gone: a sweep removes it later
                pass

    # -- the handle ----------------------------------------------------------------------------
    def lines(self) -> Iterator[str]:
        """The step's combined output, line by line, until every copy ended. Raises the
        amlocal error a copy ended with (the others are cancelled first)."""
        prefix = self._count > 1
        while not self._ended:
            kind, rank, value = self._events.get()
            if kind == "line":
                yield f"[node {rank}] {value}" if prefix else value
                continue
            if kind == "fail":
                self._codes[rank] = -1
                if self._error is None:
                    self._error = value
                    if len(self._codes) < self._count:
                        self.cancel()
            else:
                self._codes[rank] = int(value)
            if len(self._codes) == self._count:
                self._ended = True
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def wait(self, release: bool = True) -> int:
        """Block until every copy ended (the rest of the output is dropped) and return the
        step's exit status; the nodes remove the containers themselves, so ``release`` changes
        nothing."""
        try:
            for _ in self.lines():
                pass
        except AmlocalError:
            pass
        code = next((self._codes[r] for r in sorted(self._codes) if self._codes[r] != 0), 0)
        if self._cancelled and code == 0:
            return CANCELLED_STATUS
        return code

    def release(self) -> None:
        """Nothing to free: the tasks removed the containers on their nodes."""

    def cancel(self) -> None:
        """Cancel every copy's task (a queued one never starts; a running one stops and removes
        its container), then remove the containers through tasks pinned to their nodes."""
        self._cancelled = True
        for copy in self._copies:
            if copy.generator is not None:
                try:
                    self._ray.cancel(copy.generator, force=False)
                except Exception:  # noqa: BLE001 - finished already
                    pass
        for copy in self._copies:
            self._remove_container(copy)
