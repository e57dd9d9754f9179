"""The pipeline runner: executes one pipeline run, in its own detached process.

``python -m amlocal.pipeline.core._runner RUN_ID``. It hosts the run service that the steps
talk to, runs independent steps side by side (at most ``AMLOCAL_MAX_PARALLEL_STEPS``, default
4: steps mostly wait on containers, so this is not bounded by cores), streams every step's output
into the run's logs, and keeps ``outputs/`` and ``logs/`` as artifacts. Cancellation arrives as
the status CancelRequested in the store (``run.cancel()``, ``amlocal run cancel``) or SIGTERM.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import traceback
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

from ... import _settings
from ...errors import AmlocalError, EnvironmentBuildError, UserErrorException
from ...store import open_store
from ...store.entities import utcnow
from .run import PIPELINE_LOG, STD_LOG

DATAREF = re.compile(r"\$AZUREML_DATAREFERENCE_(\w+)")
PARAMREF = re.compile(r"\$AML_PARAMETER_(\w+)")
DATASETREF = re.compile(r"DatasetConsumptionConfig:(\w+)")


class _Canceled(Exception):
    pass


class Runner:
    def __init__(self, store, run_id: str):
        self.store = store
        self.run_id = run_id
        self.info = store.get_run(run_id)
        self.settings = _settings.current()
        definition = self.info.definition
        self.graph = definition["graph"]
        self.params = definition["parameters"]
        self.continue_on_failure = definition.get("continue_on_step_failure", False)
        self.workspace = next(w for w in store.find_workspaces() if w.id == self.info.workspace_id)
        # A ScriptRunConfig run is its own single step; a pipeline run has a child per step.
        self.is_script = self.info.kind == "script"
        self.done_status = "Completed" if self.is_script else "Finished"
        self.step_runs = ({self.graph["steps"][0]["id"]: self.info} if self.is_script else
                          {r.definition["node_id"]: r for r in store.list_runs(parent_id=run_id)})
        self.canceled = threading.Event()
        self.handles: dict = {}
        self.data_paths: dict[str, str] = {}
        self._lock = threading.Lock()
        self.service = None

    # -- logging ----------------------------------------------------------------------------
    def log(self, prefix: str, text: str) -> None:
        lines = "".join(f"[{prefix}] {line}\n" for line in text.rstrip("\n").split("\n"))
        self.store.append_artifact(self.run_id, PIPELINE_LOG, lines.encode("utf-8", "replace"))

    # -- main loop --------------------------------------------------------------------------
    def run(self) -> str:
        self.store.update_run(self.run_id, status="Running", started_at=utcnow())
        signal.signal(signal.SIGTERM, lambda *_: self.cancel())
        watcher = threading.Thread(target=self._watch_cancel, daemon=True)
        watcher.start()
        from ...runservice.server import RunService
        sock_dir = Path(tempfile.mkdtemp(prefix="amlocal-"))
        os.chmod(sock_dir, 0o755)
        status = "Failed"
        try:
            with RunService(self.store, socket_path=str(sock_dir / "run.sock")) as service:
                self.service = service
                failed = self._schedule(sock_dir)
            status = "Canceled" if self.canceled.is_set() else ("Failed" if failed else self.done_status)
        except Exception as exc:  # noqa: BLE001 - record why, never leave the run Running
            self.log("pipeline", f"runner error: {exc}\n{traceback.format_exc()}")
            self.store.update_run(self.run_id, error={"message": str(exc)})
        finally:
            shutil.rmtree(sock_dir, ignore_errors=True)
            self.store.update_run(self.run_id, status=status, ended_at=utcnow())
            self.log("run" if self.is_script else "pipeline",
                     f"{'Run' if self.is_script else 'PipelineRun'} {self.run_id} {status}")
        return status

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
            if self.store.get_run(self.run_id).status == "CancelRequested":
                self.log("pipeline", "cancel requested: stopping running steps")
                self.cancel()
                return
            self.canceled.wait(0.5)

    def _schedule(self, sock_dir: Path) -> bool:
        nodes = {n["id"]: n for n in self.graph["steps"]}
        pending = list(nodes)
        ok, bad = set(), set()
        limit = max(1, int(os.environ.get("AMLOCAL_MAX_PARALLEL_STEPS", "4")))
        stop = False
        with ThreadPoolExecutor(max_workers=limit) as pool:
            running: dict = {}
            while pending or running:
                for node_id in list(pending):
                    deps = nodes[node_id]["depends_on"]
                    blocked = [d for d in deps if d in bad]
                    if stop or self.canceled.is_set() or blocked:
                        pending.remove(node_id)
                        bad.add(node_id)
                        reason = ("canceled" if self.canceled.is_set() else
                                  f"not run: upstream step(s) {', '.join(blocked)} failed" if blocked
                                  else "not run: another step failed (continue_on_step_failure=False)")
                        self._finish(node_id, "Canceled", {"message": reason})
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

    def _finish(self, node_id: str, status: str, error: dict | None = None) -> None:
        fields = {"status": status, "ended_at": utcnow()}
        if error:
            fields["error"] = error
        self.store.update_run(self.step_runs[node_id].id, **fields)

    # -- one step ---------------------------------------------------------------------------
    def _run_step(self, node: dict, sock_dir: Path) -> bool:
        from amlocal.compute import get_backend
        step = self.step_runs[node["id"]]
        name = node["name"]
        workdir = self.settings.home / "work" / step.id
        token = None
        try:
            if self.canceled.is_set():
                raise _Canceled()
            self.store.update_run(step.id, status="Preparing", started_at=utcnow())
            backend = get_backend(node["compute"]["kind"])
            from amlocal.compute import EnvironmentSpec
            resolved = backend.prepare(EnvironmentSpec.from_dict(node["environment"]),
                                       log=lambda line: self.log(name, line))
            self.store.add_properties(step.id, {
                "amlocal.environment_digest": resolved.digest, "amlocal.image": resolved.image,
                "amlocal.installer": f"{resolved.installer} {resolved.installer_version}"})
            from ._snapshot import materialise
            materialise(node["snapshot"], self.settings.snapshots, workdir)
            token = self.service.grant(step.id)
            spec, run_definition = self._step_spec(node, step, workdir, sock_dir, token)
            self.store.update_run(step.id, definition={**step.definition, **run_definition})
            if self.canceled.is_set():
                raise _Canceled()
            handle = backend.submit(spec, resolved)
            with self._lock:
                self.handles[node["id"]] = handle
            self.store.update_run(step.id, status="Running")
            for line in handle.lines():
                data = (line if line.endswith("\n") else line + "\n")
                self.store.append_artifact(step.id, STD_LOG, data.encode("utf-8", "replace"))
                self.log(name, line)
            code = handle.wait()
            self._collect(step.id, workdir)
            if self.canceled.is_set():
                raise _Canceled()
            if code != 0:
                tail = self.store.read_artifact(step.id, STD_LOG).decode("utf-8", "replace")
                tail = "\n".join(tail.splitlines()[-30:])
                self._finish(node["id"], "Failed", {"message": f"the script exited with status {code}",
                                                    "log_tail": tail})
                self.log(name, f"step {name} Failed (exit status {code})")
                return False
            self._finish(node["id"], self.done_status)
            self.log(name, f"step {name} {self.done_status}")
            return True
        except _Canceled:
            self._finish(node["id"], "Canceled", {"message": "canceled"})
            return False
        except (AmlocalError, OSError) as exc:
            message = str(exc)
            kind = "environment" if isinstance(exc, EnvironmentBuildError) else "step"
            self.store.append_artifact(step.id, STD_LOG, f"{message}\n".encode())
            self._finish(node["id"], "Failed", {"message": message, "kind": kind})
            self.log(name, f"step {name} Failed: {message}")
            return False
        finally:
            with self._lock:
                self.handles.pop(node["id"], None)
            if token:
                self.service.revoke(token)
            shutil.rmtree(workdir, ignore_errors=True)

    def _collect(self, step_id: str, workdir: Path) -> None:
        """Keep the step's outputs/ and logs/ as artifacts of its run."""
        for folder in ("outputs", "logs"):
            root = workdir / folder
            if root.is_dir():
                for f in sorted(p for p in root.rglob("*") if p.is_file()):
                    self.store.put_artifact(step_id, f"{folder}/{f.relative_to(root).as_posix()}", f)

    def _datastore_root(self, name: str | None) -> Path:
        name = name or self.workspace.default_datastore
        info = self.store.get_datastore(self.workspace.id, name)
        if info is None:
            raise UserErrorException(f"datastore '{name}' is not registered in workspace "
                                     f"'{self.workspace.name}'")
        if not info.url.startswith("file://"):
            raise UserErrorException(f"PipelineData on datastore '{name}' ({info.url.split(':')[0]}) "
                                     "is not supported yet; use a file:// datastore")
        from amlocal.datastores.fs import local_path
        return Path(local_path(info.url))

    def _step_spec(self, node, step, workdir: Path, sock_dir: Path, token: str):
        from amlocal.compute import RUNTIME_DIR, SERVICE_DIR, Mount, StepSpec
        from amlocal._runtime import package_tree
        runtime = package_tree(self.settings.home / "runtime")
        mounts = [Mount(str(runtime), f"{RUNTIME_DIR}/amlocal"),
                  Mount(str(sock_dir), SERVICE_DIR, read_only=False)]
        values: dict[str, str] = {}
        env: dict[str, str] = {}
        dataset_bindings = []
        for out in node["outputs"]:
            host = self._datastore_root(out["datastore"]) / "azureml" / step.id / out["name"]
            host.mkdir(parents=True, exist_ok=True)
            self.data_paths[out["name"]] = str(host)
            target = f"/amlocal/outputs/{out['name']}"
            mounts.append(Mount(str(host), target, read_only=False))
            values[out["name"]] = target
        for inp in node["inputs"]:
            if inp["type"] == "pipeline_data":
                target = inp.get("path_on_compute") or f"/amlocal/inputs/{inp['name']}"
                mounts.append(Mount(self.data_paths[inp["data"]], target, read_only=True))
                values[inp["name"]] = target
            else:
                from amlocal.datastores.materialize import bind_input
                binding = bind_input(inp["definition"], inp["name"], inp["mode"],
                                     inp.get("path_on_compute"), self._resolve_datastore,
                                     self.settings.home / "work" / f"{step.id}-inputs")
                dataset_bindings.append(binding)
                mounts.extend(binding.mounts)
                env.update(binding.env)
                if binding.mode == "direct":  # lets run.input_datasets rebuild the Dataset
                    env[f"AMLOCAL_DATASET_DEFINITION_{binding.name}"] = json.dumps(inp["definition"])
                values[inp["name"]] = binding.value
        if dataset_bindings:
            from amlocal.datastores.materialize import env_for_inputs
            env.update(env_for_inputs(dataset_bindings))
        param_values = {re.sub(r"[~\W]", "_", k): v for k, v in self.params.items()}

        def substitute(text: str) -> str:
            text = DATAREF.sub(lambda m: values.get(m.group(1), m.group(0)), text)
            text = DATASETREF.sub(lambda m: values.get(m.group(1), m.group(0)), text)
            return PARAMREF.sub(lambda m: str(param_values.get(m.group(1), m.group(0))), text)

        args = [substitute(a) for a in node["arguments"]]
        for name, value in values.items():
            env[f"AZUREML_DATAREFERENCE_{name}"] = value
        for key, p in node["params"].items():
            value = self.params[p["parameter"]] if "parameter" in p else p["value"]
            env["AML_PARAMETER_" + re.sub(r"[~\W]", "_", key)] = str(value)
        for name, value in param_values.items():
            env.setdefault(f"AML_PARAMETER_{name}", str(value))
        ws = self.workspace
        env.update({str(k): str(v) for k, v in node.get("environment_variables", {}).items()})
        env.update({
            "AZUREML_RUN_ID": step.id, "AZUREML_RUN_TOKEN": token,
            "AZUREML_ARM_SUBSCRIPTION": ws.subscription_id,
            "AZUREML_ARM_RESOURCEGROUP": ws.resource_group,
            "AZUREML_ARM_WORKSPACE_NAME": ws.name, "AZUREML_ARM_PROJECT_NAME": step.experiment,
            "AZUREML_SERVICE_ENDPOINT": "amlocal://local", "AZUREML_WORKSPACE_ID": ws.id,
            "AZUREML_ROOT_RUN_ID": self.run_id, "AZUREML_PARENT_RUN_ID": self.run_id,
            "AMLOCAL_RUN_SERVICE": f"unix://{SERVICE_DIR}/run.sock",
            "PYTHONPATH": f"{RUNTIME_DIR}:{RUNTIME_DIR}/amlocal/_runtime/shim",
            "PYTHONUNBUFFERED": "1",
        })
        command = ("python", "-m", "amlocal._runtime.entry", node["script_name"], *args)
        spec = StepSpec(run_id=step.id, step_name=node["name"], command=command,
                        working_dir=str(workdir), mounts=tuple(mounts), env=env,
                        labels={"amlocal.run_id": step.id, "amlocal.pipeline_run_id": self.run_id})
        run_definition = {"script": node["script_name"], "arguments": args,
                          "outputs": {o["name"]: self.data_paths[o["name"]] for o in node["outputs"]},
                          "inputDatasets": [{"name": b.name, "mode": b.mode, "files": len(b.files),
                                             "content_digest": b.content_digest}
                                            for b in dataset_bindings],
                          "compute": node["compute"], "environment": node["environment_name"]}
        return spec, run_definition

    def _resolve_datastore(self, name: str):
        info = self.store.get_datastore(self.workspace.id, name)
        if info is None:
            raise UserErrorException(f"datastore '{name}' is not registered in workspace "
                                     f"'{self.workspace.name}'")
        return info.url, dict(info.options)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m amlocal.pipeline.core._runner RUN_ID", file=sys.stderr)
        return 2
    status = Runner(open_store(), argv[0]).run()
    return 0 if status in ("Finished", "Completed") else 1


if __name__ == "__main__":
    sys.exit(main())
