"""The lifecycle half of :class:`amlocal.core.run.Run`: status changes, ``with run:``, waiting,
child runs, tracked output folders and source snapshots.

Kept apart from the data half (metrics, tags, artifacts) in ``run.py``; ``Run`` inherits both.

Statuses: a run executed by a runner process (a submitted pipeline or script run) gets its
status from that runner. ``cancel()``, ``complete()`` and ``fail()`` called from outside on such
a run record the request as the add-only property ``amlocal.requested_status`` as well as the
status, so the runner can never overwrite it: it stops the run's containers and ends the run
with the requested status.
"""
from __future__ import annotations

import os
import re
import sys
import tempfile
import time
import uuid
from pathlib import Path

from .._status import (MAX_SNAPSHOT_FILES, REQUESTED_STATUS, SNAPSHOT_PROPERTY,
                       TERMINAL, RunStatus)
from ..errors import ActivityFailedException, SnapshotException, UserErrorException

MAX_CHILDREN = 100
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class RunLifecycle:
    """Mixin of :class:`Run`; uses its ``_store``, ``_id``, ``_info``, ``_refresh``, ``flush``,
    ``get_children`` and ``upload_folder``."""

    _tracked_outputs: tuple = ()

    # -- status -----------------------------------------------------------------------------
    def _set_status(self, status: RunStatus, error=None) -> None:
        from ..store.entities import utcnow
        status = RunStatus.of(status)
        fields = {"status": status.value}
        if status in TERMINAL:
            fields["ended_at"] = utcnow()
        if error is not None:
            fields["error"] = error
        self.flush()
        self._upload_tracked_outputs()
        self._refresh()  # the runner's pid may have been recorded since this object was made
        if status in TERMINAL and self._runner_alive() and not self._request_status(status):
            return  # another outcome was asked for first; the runner ends the run with it
        self._store.update_run(self._id, **fields)

    def _request_status(self, status: RunStatus) -> bool:
        """Record ``status`` as asked for from outside (add-only); False when another status was
        asked for first (that one stands)."""
        asked = self._refresh().properties.get(REQUESTED_STATUS)
        if asked is not None:
            return asked == status
        try:
            self._store.add_properties(self._id, {REQUESTED_STATUS: RunStatus.of(status).value})
        except UserErrorException:  # someone else asked first, in between
            return False
        return True

    def start(self) -> None:
        """Mark a NotStarted run (e.g. one made by ``create_children``) Running."""
        from ..store.entities import utcnow
        self._store.update_run(self._id, status=RunStatus.RUNNING.value, started_at=utcnow())

    def complete(self, _set_status: bool = True) -> None:
        """Flush metrics, upload tracked output folders, then mark the run Completed."""
        if not _set_status:
            self.flush()
            self._upload_tracked_outputs()
            return
        self._set_status(RunStatus.COMPLETED)

    def fail(self, error_details=None, error_code=None, _set_status: bool = True) -> None:
        """Flush, upload, then mark the run Failed with ``error_details`` (a str or an
        exception) as its error."""
        if not _set_status:
            self.flush()
            self._upload_tracked_outputs()
            return
        if isinstance(error_details, BaseException):
            message = f"{type(error_details).__name__}: {error_details}"
        else:
            message = str(error_details or "failed")
        self._set_status(RunStatus.FAILED, {"message": message, "code": error_code})

    def cancel(self) -> None:
        """Cancel the run. A run executed by a runner process is asked to stop (its containers
        are stopped and removed, then it becomes Canceled); any other run is marked Canceled."""
        info = self._refresh()
        if info.status in TERMINAL:
            return
        if self._runner_alive():
            if self._request_status(RunStatus.CANCELED):
                self._store.update_run(self._id, status=RunStatus.CANCEL_REQUESTED.value)
            return
        for child in self.get_children(recursive=True):
            if child._info.status not in TERMINAL:
                child._set_status(RunStatus.CANCELED)
        self._set_status(RunStatus.CANCELED)

    def _runner_alive(self) -> bool:
        """Whether a runner process executes this run and still lives (a process that got its
        pid after a restart is not it: the runner's start time is recorded with its pid)."""
        from .._engine.settle import runner_alive
        return runner_alive(self._info.properties or {})

    def _runner_lost(self) -> bool:
        """A runner started this run and died before finishing it."""
        from .._engine.settle import runner_lost
        return runner_lost(self._info)

    def _mark_runner_lost(self) -> None:
        """Mark this run and its non-terminal runs Failed (the runner died) and remove what the
        runner left behind: its containers, socket folder and work folders."""
        from .._engine.settle import settle
        settle(self._store, self._refresh())
        self._refresh()

    def _settle_if_runner_lost(self) -> bool:
        """Any read of a run notices a dead runner and makes the run's status final: the runner
        of this run, or of the run above it that a runner executes (a step of a pipeline run). Returns whether the run was settled now. Inside a step (no runner view
        of the host) nothing is checked."""
        from .. import _context
        from .._engine.settle import settle_runs
        if self._info is None or self._info.status in TERMINAL or _context.job_context() is not None:
            return False
        if settle_runs(self._store, [self._info]):
            self._refresh()
            return True
        return False

    def wait_for_completion(self, show_output: bool = False, wait_post_processing: bool = False,
                            raise_on_error: bool = True) -> dict:
        """Wait until the run reaches a terminal status (Completed, Failed, Canceled) and return
        ``get_details()``. With ``show_output`` the run's log is printed as it grows. Raises
        ActivityFailedException when it Failed and ``raise_on_error``.

        Deliberate difference: Azure stops waiting at CancelRequested/Finalizing unless
        ``wait_post_processing``; here waiting always ends on a terminal status."""
        from .._status import STD_LOG
        if show_output:
            print(f"RunId: {self._id}\n\nStreaming {STD_LOG}\n{'=' * (10 + len(STD_LOG))}\n")
        status = self._follow(STD_LOG if show_output else None)
        if show_output:
            print(f"\nExecution Summary\n=================\nRunId: {self._id}\nStatus: {status}\n")
        if raise_on_error and status == RunStatus.FAILED:
            raise ActivityFailedException(
                f"run {self._id} failed: {(self._info.error or {}).get('message', '')}", self._id)
        return self.get_details()

    def _follow(self, log_name: str | None, deadline: float | None = None,
                max_pause: float = 0.5) -> str:
        """Wait until the run is terminal (or ``time.monotonic()`` passes ``deadline``) and
        return its status, printing the run's artifact ``log_name`` as it grows (complete lines
        only until the end). Checks start often and back off slowly to ``max_pause`` (a pause is
        at most a twentieth of the time waited so far), so a run's end is noticed within a few
        percent of its length. A runner that died is noticed and its run marked Failed."""
        offset, pause, started = 0, 0.01, time.monotonic()
        while True:
            status = self._refresh().status
            if log_name is not None:
                chunk = self._store.read_artifact(self._id, log_name, offset)
                end = len(chunk) if status in TERMINAL else chunk.rfind(b"\n") + 1
                if end > 0:
                    sys.stdout.write(chunk[:end].decode("utf-8", "replace"))
                    sys.stdout.flush()
                    offset += end
            if status in TERMINAL:
                return status
            if self._settle_if_runner_lost():
                continue
            if deadline is not None and time.monotonic() > deadline:
                return status
            time.sleep(pause)
            pause = min(max_pause, max(0.01, (time.monotonic() - started) / 20))

    # -- with run: --------------------------------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        """Normal exit completes the run; an exception fails it (the exception is its error)
        and propagates; ``SystemExit`` with code 0 or None is swallowed and sets no status."""
        if exc_type is None:
            self.complete()
            return False
        if issubclass(exc_type, SystemExit) and getattr(exc, "code", None) in (0, None):
            self.flush()
            return True
        self.fail(error_details=exc)
        return False

    # -- tracked output folders -------------------------------------------------------------
    def _track_outputs(self, outputs) -> None:
        """``outputs`` of ``start_logging``/``child_run``: None or True track ``./outputs``,
        False nothing, a str or list those folders (created now, uploaded at the end)."""
        if outputs is None or outputs is True:
            folders = ["./outputs"]
        elif outputs is False:
            folders = []
        elif isinstance(outputs, (str, os.PathLike)):
            folders = [os.fspath(outputs)]
        else:
            folders = [os.fspath(o) for o in outputs]
        for folder in folders:
            os.makedirs(folder, exist_ok=True)
        self._tracked_outputs = tuple(os.path.abspath(f) for f in folders)

    def _upload_tracked_outputs(self) -> None:
        for folder in self._tracked_outputs:
            if not os.path.isdir(folder) or not any(p.is_file() for p in Path(folder).rglob("*")):
                continue
            rel = os.path.relpath(folder)
            name = Path(folder).name if rel.startswith("..") else Path(rel).as_posix()
            self.upload_folder(name, folder)

    # -- children ---------------------------------------------------------------------------
    def child_run(self, name: str | None = None, run_id: str | None = None, outputs=None):
        """A child run of this one, started (Running). ``outputs`` as in ``start_logging``."""
        from ..store.entities import RunInfo, utcnow
        info = self._store.create_run(RunInfo(
            id=run_id or str(uuid.uuid4()), workspace_id=self._info.workspace_id,
            experiment=self._info.experiment, kind="script", status=RunStatus.RUNNING, name=name,
            parent_id=self._id, started_at=utcnow()))
        child = self._experiment._run_of(info)    # a plain Run: a script child, no graph
        if outputs is not None:
            child._track_outputs(outputs)
        return child

    def create_children(self, count: int | None = None, tag_key: str | None = None,
                        tag_values=None) -> list:
        """``count`` children, or one per value of ``tag_values`` tagged ``{tag_key: value}``;
        at most 100. Unlike ``child_run()`` they are not started (NotStarted)."""
        from ..store.entities import RunInfo
        if tag_key is None and tag_values is None and count is None:
            raise UserErrorException("Either count or tag_key and tag_values must be set")
        if tag_key is not None or tag_values is not None:
            if tag_key is None:
                raise UserErrorException("tag_key must not be null when tag_values is set")
            if tag_values is None:
                raise UserErrorException("tag_values must not be null when tag_key is set")
            if count is not None:
                raise UserErrorException("count can not be set when tag_key and tag_values are set")
            tag_values = list(tag_values)
            if len(tag_values) > MAX_CHILDREN:
                raise UserErrorException("create_children can not create more than 100 runs")
        if count is not None:
            if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                raise UserErrorException(f"count must be a whole number of runs, not {count!r}")
            if count > MAX_CHILDREN:
                raise UserErrorException("create_children can not create more than 100 runs")
            tag_key, tag_values = "azureml.batch_child_number", list(range(count))
        children = []
        for value in tag_values:
            info = self._store.create_run(RunInfo(
                id=str(uuid.uuid4()), workspace_id=self._info.workspace_id,
                experiment=self._info.experiment, kind="script", status=RunStatus.NOT_STARTED,
                parent_id=self._id, tags={tag_key: None if value is None else str(value)}))
            children.append(self._experiment._run_of(info))
        return children

    # -- snapshots --------------------------------------------------------------------------
    def get_snapshot_id(self) -> str | None:
        """The id of this run's source snapshot (property ``ContentSnapshotId``), or None. A
        submitted script or step run has the snapshot its runner materialised."""
        info = self._refresh()
        found = info.properties.get(SNAPSHOT_PROPERTY)
        if found:
            return found
        from .._engine.graph import node_of_run
        node = node_of_run(self._store, info)
        return node.snapshot if node is not None else None

    def take_snapshot(self, file_or_folder_path) -> str:
        """Store a snapshot of a file or folder (``.amlignore``/``.gitignore`` honoured; at most
        2000 files and 300 MB) as this run's snapshot and return its id. A run has one snapshot:
        a second one raises SnapshotException."""
        from .._engine.snapshot import list_files, shared_files, take_snapshot
        existing = self.get_snapshot_id()
        if existing:
            raise SnapshotException(f"Cannot take snapshot as the run already has one: {existing}")
        snapshots = _snapshot_store()
        path = Path(file_or_folder_path)
        if path.is_dir():
            root, files = path, list_files(path)
        elif path.is_file():
            root, files = path.parent, [path.name]
        else:
            raise SnapshotException(f"Failed to take a snapshot of {file_or_folder_path}: no such "
                                    "file or folder")
        if len(files) > MAX_SNAPSHOT_FILES:
            raise SnapshotException(
                f"Failed to take a snapshot of {file_or_folder_path}: it holds {len(files)} files, "
                f"more than the limit of {MAX_SNAPSHOT_FILES}; list the others in a .amlignore file")
        try:
            digest = take_snapshot(root, snapshots, files, shared=shared_files())
        except UserErrorException as exc:
            raise SnapshotException(f"Failed to take a snapshot of {file_or_folder_path}: {exc}") from None
        self._store.add_properties(self._id, {SNAPSHOT_PROPERTY: digest})
        return digest

    def restore_snapshot(self, snapshot_id: str | None = None, path: str | None = None) -> str:
        """Write the snapshot (default: this run's) as ``<path>/<snapshot_id>.zip`` (default
        path: the temporary folder) and return the zip's absolute path; it is not extracted."""
        import zipfile
        snapshot_id = snapshot_id or self.get_snapshot_id()
        if not snapshot_id:
            raise SnapshotException(f"run {self._id} has no snapshot: take one with "
                                    "run.take_snapshot(path) or pass snapshot_id=")
        if not _DIGEST.match(str(snapshot_id)):
            raise SnapshotException(f"{snapshot_id!r} is not a snapshot id (64 hex digits, as "
                                    "run.get_snapshot_id() returns)")
        source = _snapshot_store() / snapshot_id
        from .._engine.snapshot import shared_files, verify
        shared = shared_files()
        if shared is not None:   # AMLOCAL_ARTIFACTS_URL: taken on any machine, cached here
            try:
                verify(snapshot_id, source.parent, shared=shared)
            except UserErrorException as exc:
                raise SnapshotException(str(exc)) from None
        if not source.is_dir():
            raise SnapshotException(f"snapshot {snapshot_id} is not in this amlocal home")
        folder = Path(path if path is not None else tempfile.gettempdir())
        folder.mkdir(parents=True, exist_ok=True)
        target = (folder / f"{snapshot_id}.zip").resolve()
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".zip")
        os.close(fd)
        try:
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
                for file in sorted(p for p in source.rglob("*") if p.is_file()):
                    zf.write(file, file.relative_to(source).as_posix())
            os.replace(tmp, target)
        except BaseException:
            os.unlink(tmp)
            raise
        return str(target)


def _snapshot_store() -> Path:
    """The host's snapshot folder; a job (a step) cannot reach it."""
    from .. import _context, _settings
    if _context.job_context() is not None:
        raise SnapshotException("snapshots live in the amlocal home on the host; take or restore "
                                "them from there, not from inside a running step")
    return _settings.current().snapshots
