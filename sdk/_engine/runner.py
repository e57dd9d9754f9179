"""The pipeline runner: executes one pipeline run, in its own detached process.

``python -m amlocal._engine.runner RUN_ID``. It hosts the run service that the steps
talk to, runs independent steps side by side (at most ``AMLOCAL_MAX_PARALLEL_STEPS``, default
4: steps mostly wait on containers, so this is not bounded by cores), streams every step's output
into the run's logs, and keeps ``outputs/`` and ``logs/`` as artifacts. Cancellation arrives as
the status CancelRequested in the store (``run.cancel()``, ``amlocal run cancel``) or SIGTERM.

A status set from outside is never overwritten: ``run.cancel()``, ``run.complete()`` and
``run.fail()`` on a run this runner executes record the wanted status in the add-only property
``amlocal.requested_status``; the runner then stops the running steps and ends the run with that
status. A step run whose status someone else already made terminal keeps it.

Every run settles: whatever the runner raises, a ``finally`` ends every step run that is not
terminal (Canceled when it never started or the run was canceled, Failed when it was under way,
with the reason). A runner that dies without running its ``finally`` (kill -9, out of memory, a
restart) is noticed by the next read of its run (see ``_settle``). A step's outputs/ and logs/
are kept without following links; odd file names are escaped (see ``_io.collectable_files``).
"""
from __future__ import annotations

import dataclasses
import json
import os
import shlex
import shutil
import signal
import sys
import tempfile
import threading
import traceback
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

from .. import _settings
from ..errors import AmlocalError, EnvironmentBuildError, UserErrorException
from .._status import (PIPELINE_LOG, RECORDED_PROPERTY, REQUESTED_STATUS, SNAPSHOT_PROPERTY,
                       STD_LOG, TERMINAL, WAITING, RunStatus)
from ..store import open_store
from ..store.entities import utcnow
from .graph import Node, RunRequest


class _Canceled(Exception):
    pass


class Runner:
    def __init__(self, store, run_id: str):
        self.store = store
        self.run_id = run_id
        self.info = store.get_run(run_id)
        self.settings = _settings.current()
        self.request = RunRequest.from_dict(self.info.definition)
        self.graph = self.request.graph
        self.params = dict(self.request.parameters)
        self.continue_on_failure = self.request.continue_on_step_failure
        self.workspace = next(w for w in store.find_workspaces() if w.id == self.info.workspace_id)
        # A ScriptRunConfig run is its own single step; a pipeline run has a child per step.
        self.is_script = self.info.kind == "script"
        self.done_status = RunStatus.COMPLETED if self.is_script else RunStatus.FINISHED
        self.step_runs = ({self.graph.steps[0].id: self.info} if self.is_script else
                          {r.definition["node_id"]: r for r in store.list_runs(parent_id=run_id)})
        self.canceled = threading.Event()
        self.regenerate = self.request.regenerate_outputs
        self.work = self.settings.home / "work"
        self.handles: dict = {}
        from .outputs import OutputLocation
        # outputs of earlier steps, by name (a rerun of one step starts with its recorded inputs)
        self.outputs: dict = {n: OutputLocation(**d) for n, d in self.request.seed_outputs.items()}
        self._resolved: dict = {}
        self._env_locks: dict = {}
        self._env_lock = threading.Lock()
        self._lock = threading.Lock()
        self._runtime: Path | None = None
        self.service = None
        self._remote = None     # RemoteListeners, for steps on cluster nodes
        # containers of ended steps are removed off the path, after their end is recorded
        self._releases = ThreadPoolExecutor(max_workers=2, thread_name_prefix="amlocal-release")

    # -- logging ----------------------------------------------------------------------------
    def log(self, prefix: str, text: str) -> None:
        lines = "".join(f"[{prefix}] {line}\n" for line in text.rstrip("\n").split("\n"))
        self.store.append_artifact(self.run_id, PIPELINE_LOG, lines.encode("utf-8", "replace"))

    # -- statuses ---------------------------------------------------------------------------
    def _requested(self, at_start: bool = False) -> str | None:
        """The status asked for from outside (cancel/complete/fail), if any. At the start a
        terminal status already set (e.g. canceled before this runner was known) counts too."""
        info = self.store.get_run(self.run_id)
        asked = info.properties.get(REQUESTED_STATUS)
        if asked:
            return asked
        if info.status == RunStatus.CANCEL_REQUESTED or (at_start and info.status in TERMINAL):
            return RunStatus.CANCELED if info.status == RunStatus.CANCEL_REQUESTED else info.status
        return None

    def _set_status(self, run_id: str, status: RunStatus, **fields) -> RunStatus:
        """Set a run's status unless it is already terminal or being canceled (someone else
        decided); returns the status the run has afterwards."""
        current = self.store.get_run(run_id)
        if current.status in TERMINAL or current.status == RunStatus.CANCEL_REQUESTED \
                or current.properties.get(REQUESTED_STATUS):
            return RunStatus.of(current.status)
        self.store.update_run(run_id, status=RunStatus.of(status).value, **fields)
        return RunStatus.of(status)

    # -- main loop --------------------------------------------------------------------------
    def run(self) -> str:
        decided = self._requested(at_start=True)
        if decided:
            self.canceled.set()
        else:
            self._set_status(self.run_id, RunStatus.RUNNING, started_at=utcnow())
        signal.signal(signal.SIGTERM, lambda *_: self.cancel())
        watcher = threading.Thread(target=self._watch_cancel, daemon=True)
        watcher.start()
        from ..runservice.server import RunService
        sock_dir = None
        status = RunStatus.FAILED
        try:
            sock_dir = self._socket_dir()
            with RunService(self.store, socket_path=str(sock_dir / "run.sock")) as service:
                self.service = service
                failed = self._schedule(sock_dir)
            status = (RunStatus.CANCELED if self.canceled.is_set() else
                      RunStatus.FAILED if failed else self.done_status)
        except Exception as exc:  # noqa: BLE001 - record why, never leave the run Running
            self.log("pipeline", f"runner error: {exc}\n{traceback.format_exc()}")
            self.store.update_run(self.run_id, error={"message": f"runner error: {exc}"})
        finally:
            if sock_dir is not None:
                shutil.rmtree(sock_dir, ignore_errors=True)
            self._settle_steps()
            requested = self._requested() or decided
            status = RunStatus.of(requested or status)
            ended = (self.store.get_run(self.run_id).ended_at if requested else None) or utcnow()
            self.store.update_run(self.run_id, status=status.value, ended_at=ended)
            self.log("run" if self.is_script else "pipeline",
                     f"{'Run' if self.is_script else 'PipelineRun'} {self.run_id} {status}")
            self._releases.shutdown(wait=True)   # every container removed before the runner ends
        return status

    def shell(self) -> int:
        """Open an interactive shell in the (single) step's container with everything it would
        get mounted, instead of running its script; returns the shell's exit status. This
        process is the run's runner; whatever goes wrong, the run and its step end."""
        from .settle import runner_properties
        self.store.add_properties(self.run_id, runner_properties(os.getpid()))
        try:
            return self._shell()
        except BaseException as exc:
            self.store.update_run(self.run_id, error={"message": f"--shell: {exc}"})
            raise
        finally:
            self._settle_steps()
            if self.store.get_run(self.run_id).status not in TERMINAL:
                self.store.update_run(self.run_id, status=RunStatus.FAILED.value, ended_at=utcnow())

    def _shell(self) -> int:
        from amlocal.compute import Capability, require
        from ..runservice.server import RunService
        from .plan import plan_step
        from .snapshot import materialise, shared_files
        node = self.graph.steps[0]
        backend = self._backend(node)
        require(backend, Capability.SHELL,
                f"--shell of step '{node.name}' (on the '{node.compute.name}' target)")
        step = self.step_runs[node.id]
        self.store.update_run(self.run_id, status=RunStatus.RUNNING.value, started_at=utcnow())
        self.store.update_run(step.id, status=RunStatus.RUNNING.value, started_at=utcnow())
        resolved = self._prepare(backend, node)
        plan = plan_step(node, step.id, params=self.params, outputs=self.outputs,
                         datastore_info=self._datastore_info,
                         resolve_datastore=self._resolve_datastore, work=self.work)
        workdir = self.work / step.id
        materialise(node.snapshot, self.settings.snapshots, workdir,
                    shared=shared_files(self.settings))
        sock_dir = self._socket_dir()
        try:
            with RunService(self.store, socket_path=str(sock_dir / "run.sock")) as service:
                spec = self._spec(node, step, plan, workdir, sock_dir, service.grant(step.id))
                print(f"amlocal: a shell in step '{node.name}' ({resolved.image}); the step's "
                      f"command is in $AMLOCAL_STEP_COMMAND:\n  {shlex.join(spec.command)}",
                      file=sys.stderr)
                code = backend.shell(spec, resolved)
            self._collect(step.id, workdir)
        finally:
            shutil.rmtree(sock_dir, ignore_errors=True)
            shutil.rmtree(workdir, ignore_errors=True)
        status = self.done_status if code == 0 else RunStatus.FAILED
        self._finish(node.id, status, None if code == 0 else {"message": f"the shell exited with {code}"})
        self.store.update_run(self.run_id, status=status.value, ended_at=utcnow())
        return code

    def _socket_dir(self) -> Path:
        """The run service's socket folder, recorded on the run: if this runner dies, whoever
        reads the run next removes it (see ``_settle``)."""
        from .settle import RUNNER_SOCKET_DIR
        sock_dir = Path(tempfile.mkdtemp(prefix="amlocal-"))
        os.chmod(sock_dir, 0o755)
        try:
            self.store.add_properties(self.run_id, {RUNNER_SOCKET_DIR: str(sock_dir)})
        except BaseException:
            shutil.rmtree(sock_dir, ignore_errors=True)
            raise
        return sock_dir

    def _settle_steps(self) -> None:
        """Whatever happened, no step run is left NotStarted, Preparing or Running when the
        runner ends: each becomes Canceled (the run was canceled, or the step never started)
        or Failed (it was under way), with the reason."""
        if self.is_script:
            return  # the run is its own step: ended by the caller
        canceled = self.canceled.is_set() or bool(self._requested())
        try:
            now = {r.id: r for r in self.store.list_runs(parent_id=self.run_id)}
        except Exception:  # noqa: BLE001 - read them one by one below
            now = {}
        for node_id, step in self.step_runs.items():
            try:
                current = now.get(step.id) or self.store.get_run(step.id)
                if current is None or current.status in TERMINAL:
                    continue
                if current.status in WAITING or canceled:
                    status, reason = RunStatus.CANCELED, (
                        "canceled" if canceled else "not run: the pipeline run ended before it")
                else:
                    status, reason = RunStatus.FAILED, (
                        f"the pipeline runner ended while this step was {current.status}; see "
                        "the pipeline log")
                asked = current.properties.get(REQUESTED_STATUS)
                if asked or current.status == RunStatus.CANCEL_REQUESTED:
                    status, reason = RunStatus.of(asked or RunStatus.CANCELED), "requested from outside"
                self.store.update_run(step.id, status=status.value, ended_at=utcnow(),
                                      error=current.error or {"message": reason})
                self.log(current.name or node_id, f"step {current.name} {status}: {reason}")
            except Exception as exc:  # noqa: BLE001 - settle the others; say which one failed
                self.log("pipeline", f"could not settle step run {step.id}: {exc}")

    def cancel(self) -> None:
        self.canceled.set()
        with self._lock:
            handles = list(self.handles.values())
        for handle in handles:
            try:
                handle.cancel()
            except Exception:  # noqa: BLE001 - the container may be gone already
                pass

    def _watch_cancel(self) -> None:
        while not self.canceled.is_set():
            requested = self._requested()
            if requested:
                self.log("run" if self.is_script else "pipeline",
                         f"{'cancel' if requested == 'Canceled' else requested} requested from "
                         "outside: stopping running steps")
                self.cancel()
                return
            self.canceled.wait(0.5)

    def _schedule(self, sock_dir: Path) -> bool:
        nodes = {n.id: n for n in self.graph.steps}
        pending = list(nodes)
        ok, bad = set(), set()
        limit = max(1, int(os.environ.get("AMLOCAL_MAX_PARALLEL_STEPS", "4")))
        stop = False
        with ThreadPoolExecutor(max_workers=limit) as pool:
            running: dict = {}
            while pending or running:
                for node_id in list(pending):
                    deps = nodes[node_id].depends_on
                    blocked = [d for d in deps if d in bad]
                    if stop or self.canceled.is_set() or blocked:
                        pending.remove(node_id)
                        bad.add(node_id)
                        reason = ("canceled" if self.canceled.is_set() else
                                  f"not run: upstream step(s) {', '.join(blocked)} failed" if blocked
                                  else "not run: another step failed (continue_on_step_failure=False)")
                        self._finish(node_id, RunStatus.CANCELED, {"message": reason})
                    elif all(d in ok for d in deps) and len(running) < limit:
                        pending.remove(node_id)
                        running[pool.submit(self._run_step, nodes[node_id], sock_dir)] = node_id
                if not running:
                    continue
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    node_id = running.pop(future)
                    if future.result():
                        ok.add(node_id)
                    else:
                        bad.add(node_id)
                        if not self.continue_on_failure:
                            stop = True
        return bool(bad)

    def _finish(self, node_id: str, status: RunStatus, error: dict | None = None) -> RunStatus:
        """End a step run with ``status`` unless its status was decided elsewhere; returns the
        status it ends with."""
        fields = {"ended_at": utcnow()}
        if error:
            fields["error"] = error
        return self._set_status(self.step_runs[node_id].id, status, **fields)

    # -- one step ---------------------------------------------------------------------------
    def _prepare(self, backend, node: Node):
        """Resolve (and build when missing) a step's environment, once per distinct spec."""
        from amlocal.compute import EnvironmentSpec
        key = (backend.kind, json.dumps(node.environment, sort_keys=True))
        with self._env_lock:
            lock = self._env_locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._resolved:
                self._resolved[key] = backend.prepare(EnvironmentSpec.from_dict(node.environment),
                                                      log=lambda line: self.log(node.name, line))
            return self._resolved[key]

    def _backend(self, node: Node):
        """The backend of a step's compute target, with the target's settings (a Ray
        cluster's address and requests: read from the store when the step starts)."""
        from amlocal.compute import get_backend, target_options
        config = None
        if target_options(node.compute.kind, {}):      # a kind that takes settings
            info = self.store.get_compute_target(self.workspace.id, node.compute.name)
            config = info.config if info is not None else {}
        return get_backend(node.compute.kind, **target_options(node.compute.kind, config))

    def _run_step(self, node: Node, sock_dir: Path) -> bool:
        from .plan import plan_step
        from .reuse import decide
        if node.kind == "data_transfer":   # a DataTransferStep: on the host, no container
            from .data_transfer import run_transfer
            return run_transfer(self, node)
        step = self.step_runs[node.id]
        name = node.name
        workdir = self.work / step.id
        token = None
        try:
            self._check_canceled()
            self._set_status(step.id, RunStatus.PREPARING, started_at=utcnow())
            backend = self._backend(node)
            resolved = self._prepare(backend, node)
            self.store.add_properties(step.id, step_properties(node, resolved))
            plan = plan_step(node, step.id, params=self.params, outputs=self.outputs,
                             datastore_info=self._datastore_info,
                             resolve_datastore=self._resolve_datastore, work=self.work)
            for note in plan.notes:  # e.g. a data reference that names no file
                self.log(name, note)
            record = decide(self.store, step, node, plan.components(node, resolved.digest),
                            regenerate=self.regenerate)
            definition = step_definition(node, step, plan, record)
            if record["decision"] == "reused" and self._reuse(node, step, record, definition):
                return True
            self.log(name, f"running: {record['reason']}")
            from .snapshot import materialise, shared_files
            materialise(node.snapshot, self.settings.snapshots, workdir,
                        shared=shared_files(self.settings))
            token = self.service.grant(step.id)
            definition["outputs"] = {n: loc.to_dict() for n, (_, loc, _) in plan.outputs.items()}
            self.store.update_run(step.id, definition=definition)
            self._check_canceled()
            remote = self._remote_service(node) if getattr(backend, "remote_nodes", False) \
                else None
            spec = self._spec(node, step, plan, workdir, sock_dir, token, remote)
            handle = backend.submit(spec, resolved)
            with self._lock:
                self.handles[node.id] = handle
            self._set_status(step.id, RunStatus.RUNNING)
            for line in handle.lines():
                data = (line if line.endswith("\n") else line + "\n")
                self.store.append_artifact(step.id, STD_LOG, data.encode("utf-8", "replace"))
                self.log(name, line)
            code = handle.wait(release=False)
            if spec.node_count > 1:   # a ParallelRunStep's copies: combined on the host
                from .parallel_copies import finish_copies
                code, notes = finish_copies(workdir, spec.mounts, spec.node_count, code)
                for note in notes:
                    self.store.append_artifact(step.id, STD_LOG, f"{note}\n".encode())
                    self.log(name, note)
            self._collect(step.id, workdir)
            self._check_canceled()
            if code != 0:
                tail = self.store.read_artifact(step.id, STD_LOG).decode("utf-8", "replace")
                tail = "\n".join(tail.splitlines()[-30:])
                self._finish(node.id, RunStatus.FAILED,
                             {"message": f"the script exited with status {code}", "log_tail": tail})
                self.log(name, f"step {name} Failed (exit status {code})")
                return False
            self._publish_outputs(step, plan, definition)
            self.store.update_run(step.id, reuse_key=record["key"], definition=definition)
            return self._step_ended(node)
        except BaseException as exc:
            return self._step_failed(node, step.id, exc, "running the step")
        finally:
            with self._lock:
                handle = self.handles.pop(node.id, None)
            if handle is not None:
                self._release(node.name, handle)
            if token:
                self.service.revoke(token)
            shutil.rmtree(workdir, ignore_errors=True)
            for leftover in (self.work / f"{step.id}-inputs", self.work / f"{step.id}-outputs"):
                shutil.rmtree(leftover, ignore_errors=True)

    def _check_canceled(self) -> None:
        """Raise the cancel signal (:meth:`_step_failed` settles it) once the run is canceled."""
        if self.canceled.is_set():
            raise _Canceled()

    def _step_ended(self, node: Node) -> bool:
        """End a step run that did its work; whether it ended as the run's done status."""
        final = self._finish(node.id, self.done_status)
        self.log(node.name, f"step {node.name} {final}")
        return final == self.done_status

    def _step_failed(self, node: Node, step_id: str, exc: BaseException, doing: str) -> bool:
        """Settle a step run that raised ``exc`` while ``doing``: canceled, failed with the
        error (said in its log too), or failed by an error of amlocal itself (with the
        traceback in the pipeline log). Anything else (KeyboardInterrupt...) is raised again.
        Always False."""
        if isinstance(exc, _Canceled):
            self._finish(node.id, RunStatus.CANCELED, {"message": "canceled"})
        elif isinstance(exc, (AmlocalError, OSError)):
            message = str(exc)
            kind = "environment" if isinstance(exc, EnvironmentBuildError) else "step"
            self.store.append_artifact(step_id, STD_LOG, f"{message}\n".encode("utf-8", "replace"))
            self._finish(node.id, RunStatus.FAILED, {"message": message, "kind": kind})
            self.log(node.name, f"step {node.name} Failed: {message}")
        elif isinstance(exc, Exception):   # an error of amlocal itself: the step settles
            message = f"internal error while {doing}: {type(exc).__name__}: {exc}"
            self.log(node.name, f"step {node.name} Failed: {message}\n{traceback.format_exc()}")
            self._finish(node.id, RunStatus.FAILED, {"message": message, "kind": "internal"})
        else:
            raise exc
        return False

    def _release(self, name: str, handle) -> None:
        """Remove an ended step's container in the background (joined before the run ends)."""
        def release() -> None:
            try:
                handle.release()
            except Exception as exc:  # noqa: BLE001 - say so; the next settle removes it
                self.log(name, f"amlocal warning: could not remove the step's container: {exc}")
        try:
            self._releases.submit(release)
        except RuntimeError:   # shut down already (the run is ending): remove it now
            release()

    def _reuse(self, node, step, record, definition) -> bool:
        """Take over the outputs of an earlier run with the same key; False when they are gone."""
        from .outputs import OutputLocation
        earlier = self.store.get_run(record["reused_from"])
        locations = {n: OutputLocation(**d) for n, d in (earlier.definition.get("outputs") or {}).items()}
        if any(loc.local is not None and not os.path.isdir(loc.local) for loc in locations.values()):
            record.update(decision="ran", reused_from=None,
                          reason=f"run {earlier.id} had the same key but its outputs are gone")
            return False
        self.outputs.update(locations)
        definition["outputs"] = {n: loc.to_dict() for n, loc in locations.items()}
        self.store.update_run(step.id, definition=definition, reuse_key=record["key"],
                              reused_from=earlier.id)
        self._finish(node.id, self.done_status)
        self.log(node.name, f"reused the outputs of step run {earlier.id}: nothing changed, "
                               "no container started")
        return True

    def _publish_outputs(self, step, plan, definition) -> None:
        """Upload staged outputs, register the ones asked for, and hand them to later steps."""
        from .outputs import finish_output, folder_digest, register_output
        registered = []
        for name, (out, location, staged) in plan.outputs.items():
            if staged is not None:
                finish_output(out, location, staged, self._datastore_info)
            dataset = register_output(self.store, self.workspace.id, out, location)
            if dataset:
                registered.append(dataset)
            if location.local is not None:  # every consumer's reuse key needs it: take it once
                location = dataclasses.replace(location, digest=folder_digest(location.local))
            self.outputs[name] = location
            definition["outputs"][name] = location.to_dict()
        if registered:
            definition["registeredDatasets"] = registered

    def _remote_service(self, node: Node) -> tuple[str, str]:
        """(URL, CA) of this run's service for a step on a cluster's nodes (TCP + TLS)."""
        from .remote_service import RemoteListeners
        with self._lock:
            if self._remote is None:
                self._remote = RemoteListeners()
        return self._remote.url_for(node, store=self.store, workspace=self.workspace,
                                    service=self.service, home=self.settings.home, log=self.log)

    def _spec(self, node: Node, step, plan, workdir: Path, sock_dir: Path, token: str,
              remote: tuple[str, str] | None = None):
        """``remote``: (URL, CA) of the run service for a step on a cluster node: then no
        socket folder is mounted."""
        from .plan import run_identity, script_command, step_spec
        from .runtime_tree import package_tree
        with self._lock:
            if self._runtime is None:  # the same for every step of this run
                self._runtime = package_tree(self.settings.home / "runtime")
        env = {**plan.env, **run_identity(self.workspace, run_id=step.id,
                                          experiment=step.experiment, root_run_id=self.run_id,
                                          token=token, service=remote)}
        return step_spec(run_id=step.id, step_name=node.name, workdir=workdir,
                         runtime=self._runtime, command=script_command(node, plan), env=env,
                         labels={"amlocal.run_id": step.id, "amlocal.pipeline_run_id": self.run_id},
                         mounts=plan.mounts, service_dir=None if remote else sock_dir,
                         sandbox=node.sandbox, resources=node.resources,
                         node_count=node.node_count_for(self.params))

    def _collect(self, step_id: str, workdir: Path) -> None:
        """Keep the step's outputs/ and logs/ as artifacts of its run. Links are not followed;
        odd names are escaped; what is left out or renamed is said in the step's log (see
        ``_io.collectable_files``)."""
        from .outputs import collectable_files
        notes = []
        for folder in ("outputs", "logs"):
            root = workdir / folder
            if root.is_symlink():
                notes.append(f"{folder}/ is a symbolic link: nothing in it is kept")
            elif root.is_dir():
                files, skipped = collectable_files(root)
                notes += [f"{folder}/{note}" for note in skipped]
                for path, name in files:
                    try:
                        self.store.put_artifact(step_id, f"{folder}/{name}", path)
                    except (AmlocalError, OSError) as exc:
                        notes.append(f"{folder}/{name}: could not be kept: {exc}")
        for note in notes:
            text = f"amlocal warning: {note}"
            self.store.append_artifact(step_id, STD_LOG, f"{text}\n".encode("utf-8", "replace"))
            self.log(self.store.get_run(step_id).name or step_id, text)

    def _datastore_info(self, name: str | None):
        name = name or self.workspace.default_datastore
        info = self.store.get_datastore(self.workspace.id, name)
        if info is None:
            known = ", ".join(d.name for d in self.store.list_datastores(self.workspace.id))
            raise UserErrorException(f"datastore '{name}' is not registered in workspace "
                                     f"'{self.workspace.name}'; known datastores: {known}")
        return info

    def _resolve_datastore(self, name: str):
        info = self._datastore_info(name)
        return info.url, dict(info.options)


def step_properties(node: Node, resolved) -> dict:
    """The properties the runner records on a step run once its environment is resolved."""
    from amlocal.compute.environments import conda_substitutions
    properties = {
        "amlocal.environment_digest": resolved.digest, "amlocal.image": resolved.image,
        "amlocal.installer": f"{resolved.installer} {resolved.installer_version}",
        RECORDED_PROPERTY: "true"}   # only runs the runner recorded are reused
    if node.snapshot:
        properties[SNAPSHOT_PROPERTY] = node.snapshot
    substitutions = conda_substitutions(resolved.lock_text)
    if substitutions:   # conda packages installed from PyPI (no conda here)
        properties["amlocal.conda_substitutions"] = "; ".join(substitutions)
    return properties


def step_definition(node: Node, step, plan, record: dict) -> dict:
    """A step run's recorded definition once it is planned and its reuse decided."""
    return {**step.definition, "script": node.script_name, "arguments": plan.args,
            "inputDatasets": plan.lineage,
            "compute": {"name": node.compute.name, "kind": node.compute.kind},
            "environment": node.environment_name, "reuse": record}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m amlocal._engine.runner RUN_ID", file=sys.stderr)
        return 2
    store = open_store()
    try:
        runner = Runner(store, argv[0])
    except Exception as exc:  # noqa: BLE001 - a run that cannot even start still settles
        traceback.print_exc()
        _fail_unstartable(store, argv[0], f"the runner could not start the run: "
                                          f"{type(exc).__name__}: {exc}")
        return 1
    status = runner.run()
    return 0 if RunStatus.of(status).succeeded else 1


def _fail_unstartable(store, run_id: str, message: str) -> None:
    """Mark a run the runner could not even load, and every non-terminal run below it, Failed."""
    info = store.get_run(run_id)
    if info is None:
        return
    for child in store.list_runs(parent_id=run_id):
        if child.status not in TERMINAL:
            store.update_run(child.id, status=RunStatus.FAILED.value, ended_at=utcnow(),
                             error={"message": message})
    if info.status not in TERMINAL:
        store.update_run(run_id, status=RunStatus.FAILED.value, ended_at=utcnow(), error={"message": message})


if __name__ == "__main__":
    sys.exit(main())
