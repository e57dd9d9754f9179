"""Served steps: starting and managing pipeline web services on the host (what
``Webservice.deploy_pipeline`` and the pipeline variants of the Webservice methods do below the
facade) and the container of a deployed model (``Model.deploy``, :func:`start_model_service`).
Every served step is planned like any step (:mod:`amlocal._engine.plan`) and started by a
backend with the SERVE capability.

A service is a folder ``AMLOCAL_HOME/services/<workspace id>/<name>/``: ``service.json`` (what the
server process serves), ``keys.json`` (sha256 of the two keys), ``endpoint.json`` (port and pid of
the host process, written by it), ``service.log`` (its output) and ``work/`` (the workers'
working directories and downloaded inputs). The worker containers carry the labels
``amlocal.webservice=<name>``, ``amlocal.workspace_id=<id>``, ``amlocal.webservice_role=worker``.
The workers' Unix sockets live in a short folder under the system temp dir (socket paths are
limited to about 100 bytes), named in ``service.json``: the folder is 0700 and owned by the
service's user, and holds one folder per worker (``w0/`` ...), 0700 and owned by the user that
worker's container runs as (the caller, or nobody for a sandboxed step deployed by root), mounted
as the worker's ``/amlocal/service``; each socket is 0600. So no other local user reaches a worker;
and every call also carries the service's worker secret (``worker.secret``, 0600, given to the
workers in their environment), which a worker checks before it reads the call.
The HTTP limits (``AMLOCAL_SERVICE_MAX_BODY``, ``AMLOCAL_SERVICE_READ_TIMEOUT``, see
:mod:`amlocal._engine.http_guard`) are read at deploy and kept in ``service.json``;
``AMLOCAL_SERVICE_PROCESSES`` at deploy (default: one per CPU) is how many processes each worker
forks once its step's module is imported, so that one-row requests use every core (the host front
hands them over on kept-alive connections, see :mod:`amlocal._engine.worker_wire`).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from .._settings import write_private
from ..errors import UserErrorException, WebserviceException
from .graph import Graph, InputType, Node
from .http_guard import Limits
from .processes import runs_module

SERVICE_FILE = "service.json"
KEYS_FILE = "keys.json"
ENDPOINT_FILE = "endpoint.json"
WORKER_SECRET_FILE = "worker.secret"   # what the workers check on every call (0600)
LAUNCHER = "amlocal_execute_python_script.py"   # ExecutePythonScriptStep's generated script
SQL_LAUNCHER = "amlocal_apply_sql.py"           # ApplySqlTransformationStep's generated script
# the warm worker serving each kind of served step, by its generated script
WORKER_MODULES = {LAUNCHER: "amlocal._runtime.studio_worker",
                  SQL_LAUNCHER: "amlocal._runtime.apply_sql_worker"}
START_TIMEOUT = 300
WORKER_SOCKET = "worker.sock"
MODEL_APP_ROOT = "/var/azureml-app"   # Azure's app root of a deployed model
MODEL_PORT = 5001                     # the scoring server's port inside its container
PROCESSES_ENV = "AMLOCAL_SERVICE_PROCESSES"   # processes per worker (studio_worker's own name)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


# -- finding -----------------------------------------------------------------------------------
def service_root(workspace_id: str) -> Path:
    from .. import _settings
    return _settings.current().home / "services" / workspace_id


def folder_of(workspace_id: str, name: str) -> str | None:
    folder = service_root(workspace_id) / name
    return str(folder) if (folder / SERVICE_FILE).is_file() else None


def folders(workspace_id: str) -> list[tuple[str, str]]:
    root = service_root(workspace_id)
    if not root.is_dir():
        return []
    return [(p.name, str(p)) for p in sorted(root.iterdir()) if (p / SERVICE_FILE).is_file()]


def endpoint(folder: str) -> dict:
    try:
        return json.loads((Path(folder) / ENDPOINT_FILE).read_text())
    except (OSError, ValueError):
        raise WebserviceException(f"the service in {folder} has no endpoint: its process did not "
                                  "start; see `amlocal webservice logs NAME`") from None


def _labels(workspace_id: str, name: str) -> dict:
    return {"amlocal.webservice": name, "amlocal.workspace_id": workspace_id,
            "amlocal.webservice_role": "worker"}


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a running pipeline service process (not a reused pid)."""
    return runs_module(pid, "amlocal.server.pipeline_service")


def state(workspace_id: str, name: str, folder: str) -> str:
    """``Healthy`` (the process answers and every worker runs), ``Unhealthy`` or ``Failed``."""
    from amlocal.compute.services import find_services
    try:
        point = endpoint(folder)
    except WebserviceException:
        return "Failed"
    if not _alive(point["pid"]):
        return "Failed"
    spec = json.loads((Path(folder) / SERVICE_FILE).read_text())
    workers = find_services(_labels(workspace_id, name))
    if len([w for w in workers if w["status"] == "running"]) < len(spec["nodes"]):
        return "Unhealthy"
    return "Healthy"


# -- keys --------------------------------------------------------------------------------------
def _write_keys(folder: Path, hashes: dict) -> None:
    write_private(folder / KEYS_FILE, json.dumps(hashes))


def regen_key(folder: str, key: str, set_key: str | None = None) -> str:
    which = str(key).lower()
    if which not in ("primary", "secondary"):
        raise UserErrorException(f"key must be 'Primary' or 'Secondary', got {key!r}")
    new = set_key or secrets.token_urlsafe(32)
    hashes = json.loads((Path(folder) / KEYS_FILE).read_text())
    hashes[which] = hash_key(new)
    _write_keys(Path(folder), hashes)
    return new


def logs(workspace_id: str, name: str, folder: str) -> str:
    from amlocal.compute.services import find_services, service_logs
    parts = []
    log = Path(folder) / "service.log"
    if log.is_file():
        parts.append(log.read_text(encoding="utf-8", errors="replace"))
    for worker in find_services(_labels(workspace_id, name)):
        parts.append(f"--- worker {worker['labels'].get('amlocal.webservice_node', worker['id'][:12])} ---")
        parts.append(service_logs(worker["id"]))
    return "\n".join(parts)


def delete(workspace_id: str, name: str, folder: str) -> None:
    """Stop the host process, remove the worker containers, the socket folder and the folder."""
    from amlocal.compute.services import remove_services
    path = Path(folder)
    try:
        pid = json.loads((path / ENDPOINT_FILE).read_text())["pid"]
    except (OSError, ValueError, KeyError):
        pid = None
    if pid and _alive(pid):
        try:
            os.kill(pid, signal.SIGTERM)
            for _ in range(50):
                if not _alive(pid):
                    break
                time.sleep(0.1)
        except ProcessLookupError:
            pass
    remove_services(_labels(workspace_id, name))
    try:
        sockets = json.loads((path / SERVICE_FILE).read_text()).get("socket_dir")
    except (OSError, ValueError):
        sockets = None
    if sockets:
        shutil.rmtree(sockets, ignore_errors=True)
    shutil.rmtree(path, ignore_errors=True)


# -- deploying ---------------------------------------------------------------------------------
NAME = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")


def check_name(name) -> None:
    if not isinstance(name, str) or not NAME.match(name):
        raise UserErrorException(f"service name {name!r} is not valid: use 3-32 lowercase letters, "
                                 "digits and '-', starting with a letter and not ending with '-'")


def web_path(graph: Graph) -> tuple[list[Node], dict]:
    """The nodes on a path from a WebServiceInput to a WebServiceOutput, in graph order, and
    for each its dynamic ports (``{port: "input:<name>" | "node:<id>"}``). Raises
    UserErrorException for a pipeline that cannot be served."""
    from amlocal.compute import Capability, get_backend
    web = graph.webservice
    if web is None or not web.inputs or not web.outputs:
        raise UserErrorException(
            "the pipeline cannot be served: it needs at least one WebServiceInput (passed as "
            "dataframe1=/dataframe2= of an ExecutePythonScriptStep or t1=/t2=/t3= of an "
            "ApplySqlTransformationStep) and one WebServiceOutput "
            "(listed in steps=, e.g. WebServiceOutput('output1', source=step.result_dataset)); "
            f"it has {len(web.inputs) if web else 0} and {len(web.outputs) if web else 0}")
    producer = graph.producers()
    fed = {(v.node, v.port): f"input:{k}" for k, v in web.inputs.items()}
    reach: set[str] = {v.node for v in web.inputs.values()}
    dynamic: dict[str, dict] = {}
    for node in graph.steps:  # graph order is dependency order
        ports = {}
        for inp in node.inputs:
            source = producer.get(inp.data) if inp.type is InputType.OUTPUT else None
            if (node.id, inp.name) in fed:
                ports[inp.name] = fed[(node.id, inp.name)]
            elif source is not None and source.id in reach:
                if source.outputs[0].name != inp.data:
                    raise UserErrorException(
                        f"step '{node.name}' reads '{inp.data}' of step '{source.name}', "
                        "which is on the web service's path: only a result_dataset can travel "
                        "between served steps")
                ports[inp.name] = f"node:{source.id}"
        if ports:
            reach.add(node.id)
            dynamic[node.id] = ports
    needed: set[str] = set()
    for name, out in web.outputs.items():
        if out.node not in reach:
            raise UserErrorException(f"WebServiceOutput '{name}' does not depend on any "
                                     "WebServiceInput; connect its step to one")
        needed.add(out.node)
    for node in reversed(graph.steps):
        if node.id in needed:
            needed.update(src[len("node:"):] for src in dynamic[node.id].values()
                          if src.startswith("node:"))
    path = [n for n in graph.steps if n.id in needed]
    for node in path:
        if node.script_name not in WORKER_MODULES:
            raise UserErrorException(
                f"step '{node.name}' is on the web service's path but is not an "
                "ExecutePythonScriptStep; only ExecutePythonScriptSteps and "
                "ApplySqlTransformationSteps can be served")
        if Capability.SERVE not in get_backend(node.compute.kind).capabilities:
            raise UserErrorException(
                f"step '{node.name}' runs on the '{node.compute.name}' target ("
                f"{node.compute.kind}), which cannot keep a step running as a service; served "
                "steps run in containers: use a docker target (e.g. compute_target='cpu-cluster')")
    return path, {n.id: dynamic[n.id] for n in path}


def _worker_owner(node: Node) -> tuple[int, int]:
    """The uid and gid a node's worker container runs as (the docker backend's rule)."""
    from amlocal.compute.docker import container_user
    return container_user(node.sandbox is not None)


def _socket_folder(sockets: Path, i: int, node: Node) -> Path:
    """The worker's own socket folder: 0700, owned by the user its container runs as."""
    own = sockets / f"w{i}"
    own.mkdir(mode=0o700)
    os.chmod(own, 0o700)
    uid, gid = _worker_owner(node)
    if (uid, gid) != (os.getuid(), os.getgid()):
        os.chown(own, uid, gid)
    return own


def _start_workers(store, workspace_id: str, name: str, batch_run_id: str, path: list[Node],
                   dynamic: dict, folder: Path, sockets: Path, concurrency: int,
                   secret: str) -> list[dict]:
    """Start one warm worker per node, planned like any step (the batch run's outputs are
    its static inputs); return the nodes of ``service.json``."""
    from amlocal.compute import SERVICE_DIR, Capability, get_backend, require

    from .outputs import OutputLocation
    from .plan import plan_step, step_spec
    from .runner import Runner
    from .runtime_tree import package_tree
    from .snapshot import materialise, shared_files
    from .worker_wire import SECRET_ENV
    runner = Runner(store, batch_run_id)
    for step in store.list_runs(parent_id=batch_run_id):
        for out, loc in ((step.definition or {}).get("outputs") or {}).items():
            runner.outputs[out] = OutputLocation(**loc)
    runtime = package_tree(runner.settings.home / "runtime")
    nodes = []
    for i, node in enumerate(path):
        backend = get_backend(node.compute.kind)
        require(backend, Capability.SERVE, f"serving step '{node.name}'")
        resolved = runner._prepare(backend, node)
        plan = plan_step(node, f"w{i}", params=runner.params, outputs=runner.outputs,
                         datastore_info=runner._datastore_info,
                         resolve_datastore=runner._resolve_datastore, work=folder / "work",
                         with_outputs=False)
        workdir = folder / "work" / f"w{i}"
        materialise(node.snapshot, runner.settings.snapshots, workdir,
                    shared=shared_files(runner.settings))
        dyn = [a for port in dynamic[node.id] for a in ("--dynamic", port)]
        own = _socket_folder(sockets, i, node)
        spec = step_spec(
            run_id=f"webservice-{name}", step_name=node.name, workdir=workdir, runtime=runtime,
            command=("python", "-m", WORKER_MODULES[node.script_name], "--socket",
                     f"{SERVICE_DIR}/{WORKER_SOCKET}", *dyn, *plan.args),
            env={**plan.env, "AMLOCAL_SERVICE_CONCURRENCY": str(concurrency), SECRET_ENV: secret,
                 **_processes_env()},
            labels={**_labels(workspace_id, name), "amlocal.webservice_node": node.id,
                    "amlocal.run_id": f"webservice-{name}"},
            mounts=plan.mounts, service_dir=own, sandbox=node.sandbox)
        handle = backend.serve(spec, resolved)
        nodes.append({"id": node.id, "name": node.name, "socket": str(own / WORKER_SOCKET),
                      "container": handle.id, "dynamic": dynamic[node.id]})
    return nodes


def _processes_env() -> dict:
    """``AMLOCAL_SERVICE_PROCESSES`` as set at deploy (how many processes each worker forks;
    unset: one per CPU, see :mod:`amlocal._runtime.studio_worker`), checked here."""
    text = os.environ.get(PROCESSES_ENV, "").strip()
    if not text:
        return {}
    if not (text.isdigit() and int(text) > 0):
        raise UserErrorException(f"{PROCESSES_ENV}={text!r} must be a positive number of processes")
    return {PROCESSES_ENV: text}


def _wait_workers(nodes: list[dict]) -> None:
    from amlocal.compute.services import service_logs, service_status
    deadline = time.monotonic() + START_TIMEOUT
    for node in nodes:
        while not os.path.exists(node["socket"]):
            status = service_status(node["container"])
            if status not in ("created", "running") or time.monotonic() > deadline:
                text = service_logs(node["container"]) if status != "removed" else ""
                raise WebserviceException(
                    f"the worker of step '{node['name']}' did not start ({status}); its log:\n"
                    f"{text.strip()[-4000:]}")
            time.sleep(0.05)


def _start_server(folder: Path) -> dict:
    log = open(folder / "service.log", "ab")  # noqa: SIM115 - handed to the child
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "amlocal.server.pipeline_service", str(folder)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            close_fds=True)
    finally:
        log.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if (folder / ENDPOINT_FILE).is_file():
            point = json.loads((folder / ENDPOINT_FILE).read_text())
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{point['port']}/", timeout=5):
                    return point
            except (urllib.error.URLError, OSError):
                pass
        if process.poll() is not None:
            break
        time.sleep(0.05)
    text = (folder / "service.log").read_text(errors="replace")
    raise WebserviceException(f"the service process did not start; its log:\n{text[-4000:]}")


def start_pipeline_service(store, workspace_id: str, name: str, *, graph: Graph,
                           pipeline_id: str, batch_run_id: str, port: int | None,
                           limits: Limits, log=None) -> dict:
    """Start the workers of ``graph``'s web path and the host process that serves them, after
    its batch run ``batch_run_id`` finished. Returns ``{"kind", "folder", "keys"}`` (the keys
    only here: they are stored hashed)."""
    path, dynamic = web_path(graph)
    folder = service_root(workspace_id) / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    sockets = Path(tempfile.mkdtemp(prefix="amlocal-svc-"))   # 0700, the service's user's
    concurrency = max(1, int(os.environ.get("AMLOCAL_SERVICE_CONCURRENCY", "4")))
    keys = (secrets.token_urlsafe(32), secrets.token_urlsafe(32))
    _write_keys(folder, {"primary": hash_key(keys[0]), "secondary": hash_key(keys[1])})
    secret = secrets.token_urlsafe(32)
    write_private(folder / WORKER_SECRET_FILE, secret)
    spec = {"name": name, "workspace_id": workspace_id, "pipeline_id": pipeline_id,
            "batch_run_id": batch_run_id, "port": port, "concurrency": concurrency,
            "max_body": limits.max_body, "read_timeout": limits.read_timeout,
            "socket_dir": str(sockets),
            "inputs": {k: {"schema": v.schema} for k, v in graph.webservice.inputs.items()},
            "outputs": {k: v.node for k, v in graph.webservice.outputs.items()}, "nodes": []}
    (folder / SERVICE_FILE).write_text(json.dumps(spec, indent=1))
    try:
        spec["nodes"] = _start_workers(store, workspace_id, name, batch_run_id, path, dynamic,
                                       folder, sockets, concurrency, secret)
        (folder / SERVICE_FILE).write_text(json.dumps(spec, indent=1))
        _wait_workers(spec["nodes"])
        point = _start_server(folder)
    except BaseException:
        delete(workspace_id, name, str(folder))
        raise
    if log:
        log(f"Service '{name}' answers at http://localhost:{point['port']}/services/{name}/execute")
    return {"kind": "pipeline", "folder": str(folder), "keys": keys}


# -- a deployed model ---------------------------------------------------------------------------
def start_model_service(workspace_id: str, name: str, *, environment, app: Path,
                        entry_script: str, environment_variables: dict, model_dir: str | None,
                        host_port: int | None, limits: Limits, log) -> str:
    """Build (or reuse) the inference environment's image and start the scoring server of a
    deployed model (``Model.deploy``) on a backend that can SERVE; returns the service's id.
    ``app`` is the copied source directory with the models under ``azureml-models/``; it is the
    step's working directory and Azure's app root (:data:`MODEL_APP_ROOT`)."""
    from amlocal.compute import Capability, Mount, get_backend, require

    from .. import _settings
    from .plan import step_spec
    from .runtime_tree import package_tree
    backend = get_backend("docker")
    require(backend, Capability.SERVE, f"serving model service '{name}'")
    resolved = backend.prepare(environment, log=log)
    env = {"AML_APP_ROOT": MODEL_APP_ROOT, "HOME": "/tmp",
           **{str(k): str(v) for k, v in (environment_variables or {}).items()},
           **limits.to_env()}
    if model_dir is not None:
        env["AZUREML_MODEL_DIR"] = model_dir
    spec = step_spec(run_id=f"webservice-{name}", step_name=name, workdir=app,
                     runtime=package_tree(_settings.current().home / "runtime"),
                     command=("python", "-m", "amlocal._runtime.scoring", entry_script,
                              str(MODEL_PORT)),
                     env=env, labels={"amlocal.webservice": name,
                                      "amlocal.workspace_id": workspace_id},
                     mounts=(Mount(str(app), MODEL_APP_ROOT, read_only=False),))
    log(f"Deploying {name} from image {resolved.image}")
    return backend.serve(spec, resolved, container_port=MODEL_PORT, host_port=host_port).id
