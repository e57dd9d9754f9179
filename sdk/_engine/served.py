"""Deploying and managing pipeline web services on the host (``Webservice.deploy_pipeline``
and the pipeline variants of the Webservice methods).

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
:mod:`amlocal._engine.http_guard`) are read at deploy and kept in ``service.json``.
"""
from __future__ import annotations

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

from .._engine.http_guard import Limits
from ..errors import UserErrorException, WebserviceException
from .pipeline_service import ENDPOINT_FILE, KEYS_FILE, SERVICE_FILE, WORKER_SECRET_FILE, hash_key

LAUNCHER = "amlocal_execute_python_script.py"   # ExecutePythonScriptStep's generated script
START_TIMEOUT = 300
WORKER_SOCKET = "worker.sock"
_NAME = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")


# -- finding -----------------------------------------------------------------------------------
def _root(workspace) -> Path:
    from .. import _settings
    return _settings.current().home / "services" / workspace._id


def folder_of(workspace, name: str) -> str | None:
    folder = _root(workspace) / name
    return str(folder) if (folder / SERVICE_FILE).is_file() else None


def folders(workspace) -> list[tuple[str, str]]:
    root = _root(workspace)
    if not root.is_dir():
        return []
    return [(p.name, str(p)) for p in sorted(root.iterdir()) if (p / SERVICE_FILE).is_file()]


def endpoint(folder: str) -> dict:
    try:
        return json.loads((Path(folder) / ENDPOINT_FILE).read_text())
    except (OSError, ValueError):
        raise WebserviceException(f"the service in {folder} has no endpoint: its process did not "
                                  "start; see `amlocal webservice logs NAME`") from None


def _labels(workspace, name: str) -> dict:
    return {"amlocal.webservice": name, "amlocal.workspace_id": workspace._id,
            "amlocal.webservice_role": "worker"}


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a running pipeline service process (not a reused pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False
    return b"amlocal.server.pipeline_service" in cmdline


def state(workspace, name: str, folder: str) -> str:
    """``Healthy`` (the process answers and every worker runs), ``Unhealthy`` or ``Failed``."""
    from amlocal.compute.services import find_services
    try:
        point = endpoint(folder)
    except WebserviceException:
        return "Failed"
    if not _alive(point["pid"]):
        return "Failed"
    spec = json.loads((Path(folder) / SERVICE_FILE).read_text())
    workers = find_services(_labels(workspace, name))
    if len([w for w in workers if w["status"] == "running"]) < len(spec["nodes"]):
        return "Unhealthy"
    return "Healthy"


# -- keys --------------------------------------------------------------------------------------
def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, 0600 from its first byte."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _write_keys(folder: Path, hashes: dict) -> None:
    _write_private(folder / KEYS_FILE, json.dumps(hashes))


def regen_key(folder: str, key: str, set_key: str | None = None) -> str:
    which = str(key).lower()
    if which not in ("primary", "secondary"):
        raise UserErrorException(f"key must be 'Primary' or 'Secondary', got {key!r}")
    new = set_key or secrets.token_urlsafe(32)
    hashes = json.loads((Path(folder) / KEYS_FILE).read_text())
    hashes[which] = hash_key(new)
    _write_keys(Path(folder), hashes)
    return new


# -- using -------------------------------------------------------------------------------------
def _body(spec: dict, data) -> bytes:
    import pandas as pd
    first = next(iter(spec["inputs"]))
    if isinstance(data, (str, bytes)):
        return data.encode() if isinstance(data, str) else data
    if isinstance(data, pd.DataFrame):
        values = data.astype(object).where(data.notna(), None).values.tolist()
        data = {"Inputs": {first: {"ColumnNames": [str(c) for c in data.columns], "Values": values}},
                "GlobalParameters": {}}
    elif isinstance(data, dict) and "Inputs" not in data:
        data = {"Inputs": {first: [data]}, "GlobalParameters": {}}
    elif isinstance(data, list):
        data = {"Inputs": {first: data}, "GlobalParameters": {}}
    return json.dumps(data, default=str).encode()


def call(service, data):
    """POST ``data`` to the service with its known primary (else secondary) key; the first
    output table as a DataFrame. Raises WebserviceException with the service's answer."""
    import pandas as pd
    keys = [k for k in service.get_keys() if k]
    spec = json.loads((Path(service._found["folder"]) / SERVICE_FILE).read_text())
    request = urllib.request.Request(service.scoring_uri, data=_body(spec, data), headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {keys[0]}"})
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")
        raise WebserviceException(f"service '{service.name}' answered {exc.code}: {detail}") from None
    table = next(iter(answer["Results"].values()))["value"]
    return pd.DataFrame(table["Values"], columns=table["ColumnNames"])


def logs(workspace, name: str, folder: str) -> str:
    from amlocal.compute.services import find_services, service_logs
    parts = []
    log = Path(folder) / "service.log"
    if log.is_file():
        parts.append(log.read_text(encoding="utf-8", errors="replace"))
    for worker in find_services(_labels(workspace, name)):
        parts.append(f"--- worker {worker['labels'].get('amlocal.webservice_node', worker['id'][:12])} ---")
        parts.append(service_logs(worker["id"]))
    return "\n".join(parts)


def delete(workspace, name: str, folder: str) -> None:
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
    remove_services(_labels(workspace, name))
    try:
        sockets = json.loads((path / SERVICE_FILE).read_text()).get("socket_dir")
    except (OSError, ValueError):
        sockets = None
    if sockets:
        shutil.rmtree(sockets, ignore_errors=True)
    shutil.rmtree(path, ignore_errors=True)


# -- deploying ---------------------------------------------------------------------------------
def web_path(graph: dict) -> tuple[list[dict], dict]:
    """The nodes on a path from a WebServiceInput to a WebServiceOutput, in graph order, and
    for each its dynamic ports (``{port: "input:<name>" | "node:<id>"}``). Raises
    UserErrorException for a pipeline that cannot be served."""
    web = graph.get("webservice") or {}
    if not web.get("inputs") or not web.get("outputs"):
        raise UserErrorException(
            "the pipeline cannot be served: it needs at least one WebServiceInput (passed as "
            "dataframe1=/dataframe2= of an ExecutePythonScriptStep) and one WebServiceOutput "
            "(listed in steps=, e.g. WebServiceOutput('output1', source=step.result_dataset)); "
            f"it has {len(web.get('inputs') or {})} and {len(web.get('outputs') or {})}")
    nodes = {n["id"]: n for n in graph["steps"]}
    producer = {o["name"]: n["id"] for n in graph["steps"] for o in n["outputs"]}
    fed = {(v["node"], v["port"]): f"input:{k}" for k, v in web["inputs"].items()}
    reach: set[str] = {v["node"] for v in web["inputs"].values()}
    dynamic: dict[str, dict] = {}
    for node in graph["steps"]:  # graph order is dependency order
        ports = {}
        for inp in node["inputs"]:
            if (node["id"], inp["name"]) in fed:
                ports[inp["name"]] = fed[(node["id"], inp["name"])]
            elif inp["type"] == "output" and producer.get(inp.get("data")) in reach:
                source = nodes[producer[inp["data"]]]
                if source["outputs"][0]["name"] != inp["data"]:
                    raise UserErrorException(
                        f"step '{node['name']}' reads '{inp['data']}' of step '{source['name']}', "
                        "which is on the web service's path: only a result_dataset can travel "
                        "between served steps")
                ports[inp["name"]] = f"node:{source['id']}"
        if ports:
            reach.add(node["id"])
            dynamic[node["id"]] = ports
    needed: set[str] = set()
    for name, out in web["outputs"].items():
        if out["node"] not in reach:
            raise UserErrorException(f"WebServiceOutput '{name}' does not depend on any "
                                     "WebServiceInput; connect its step to one")
        needed.add(out["node"])
    for node in reversed(graph["steps"]):
        if node["id"] in needed:
            needed.update(src[len("node:"):] for src in dynamic[node["id"]].values()
                          if src.startswith("node:"))
    path = [n for n in graph["steps"] if n["id"] in needed]
    for node in path:
        if node["script_name"] != LAUNCHER:
            raise UserErrorException(
                f"step '{node['name']}' is on the web service's path but is not an "
                "ExecutePythonScriptStep; only ExecutePythonScriptSteps can be served")
        if node["compute"]["kind"] != "docker":
            raise UserErrorException(f"step '{node['name']}' runs on a '{node['compute']['kind']}' "
                                     "target; served steps run in containers: use a docker target")
    return path, {n["id"]: dynamic[n["id"]] for n in path}


def _batch_run(workspace, name: str, published, log):
    from ..errors import ActivityFailedException
    run = published.submit(workspace, re.sub(r"[^0-9a-zA-Z_-]", "_", f"webservice-{name}"))
    try:
        run.wait_for_completion(show_output=log is not None)
    except ActivityFailedException as exc:
        raise WebserviceException(f"the batch run of the pipeline failed, so service '{name}' was "
                                  f"not deployed: {exc}") from None
    return run


def _worker_owner(node: dict) -> tuple[int, int]:
    """The uid and gid a node's worker container runs as (the docker backend's rule)."""
    from amlocal.compute.docker import container_user
    return container_user(node.get("sandbox") is not None)


def _socket_folder(sockets: Path, i: int, node: dict) -> Path:
    """The worker's own socket folder: 0700, owned by the user its container runs as."""
    own = sockets / f"w{i}"
    own.mkdir(mode=0o700)
    os.chmod(own, 0o700)
    uid, gid = _worker_owner(node)
    if (uid, gid) != (os.getuid(), os.getgid()):
        os.chown(own, uid, gid)
    return own


def _start_workers(workspace, name: str, run, path: list[dict], dynamic: dict, folder: Path,
                   sockets: Path, concurrency: int, secret: str) -> list[dict]:
    """Start one warm worker container per node; return the nodes of ``service.json``."""
    from types import SimpleNamespace

    from amlocal._engine.runtime_tree import package_tree
    from amlocal._runtime.studio_worker import SECRET_ENV
    from amlocal.compute import RUNTIME_DIR, SERVICE_DIR, Mount, StepSpec, get_backend

    from .._engine.outputs import OutputLocation
    from .._engine.runner import Runner
    from .._engine.snapshot import materialise
    from .._engine.plan import plan_step
    runner = Runner(workspace._store, run.id)
    for step in run.get_steps():  # the batch run's outputs are the workers' static inputs
        for out, loc in (step._info.definition.get("outputs") or {}).items():
            runner.outputs[out] = OutputLocation(**loc)
    backend = get_backend("docker")
    runtime = package_tree(runner.settings.home / "runtime")
    nodes = []
    for i, node in enumerate(path):
        resolved = runner._prepare(backend, node)
        plan = plan_step({**node, "outputs": []}, SimpleNamespace(id=f"w{i}"), params=runner.params,
                         outputs=runner.outputs, datastore_info=runner._datastore_info,
                         resolve_datastore=runner._resolve_datastore, work=folder / "work")
        workdir = folder / "work" / f"w{i}"
        materialise(node["snapshot"], runner.settings.snapshots, workdir)
        dyn = [a for port in dynamic[node["id"]] for a in ("--dynamic", port)]
        env = {**plan.env, "PYTHONPATH": f"{RUNTIME_DIR}:{RUNTIME_DIR}/amlocal/_runtime/shim",
               "PYTHONUNBUFFERED": "1", "AMLOCAL_SERVICE_CONCURRENCY": str(concurrency),
               SECRET_ENV: secret}
        own = _socket_folder(sockets, i, node)
        spec = StepSpec(
            run_id=f"webservice-{name}", step_name=node["name"],
            command=("python", "-m", "amlocal._runtime.studio_worker", "--socket",
                     f"{SERVICE_DIR}/{WORKER_SOCKET}", *dyn, *plan.args),
            working_dir=str(workdir),
            mounts=(Mount(str(runtime), f"{RUNTIME_DIR}/amlocal"),
                    Mount(str(own), SERVICE_DIR, read_only=False), *plan.mounts),
            env=env, labels={**_labels(workspace, name), "amlocal.webservice_node": node["id"],
                             "amlocal.run_id": f"webservice-{name}"},
            sandbox=node.get("sandbox"))
        handle = backend.submit(spec, resolved)
        nodes.append({"id": node["id"], "name": node["name"], "socket": str(own / WORKER_SOCKET),
                      "container": handle.container_id, "dynamic": dynamic[node["id"]]})
    return nodes


def _wait_workers(workspace, name: str, nodes: list[dict]) -> None:
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


def deploy(workspace, name: str, pipeline, *, port: int | None = None, log=None) -> dict:
    """See ``Webservice.deploy_pipeline``. Returns ``{"kind", "folder", "keys"}``."""
    from ..core.webservice import _find
    from ..pipeline.core.pipeline import Pipeline
    from ..pipeline.core.published import PublishedPipeline
    if not isinstance(name, str) or not _NAME.match(name):
        raise UserErrorException(f"service name {name!r} is not valid: use 3-32 lowercase letters, "
                                 "digits and '-', starting with a letter and not ending with '-'")
    if port is not None and not (isinstance(port, int) and 0 < port < 65536):
        raise UserErrorException(f"port must be an int between 1 and 65535 (or None), got {port!r}")
    try:
        _find(workspace, name)
    except WebserviceException:
        pass
    else:
        raise UserErrorException(f"a service named '{name}' already exists; delete it first "
                                 f"(`amlocal webservice delete {name}` or service.delete())")
    if isinstance(pipeline, Pipeline):
        pipeline = pipeline.publish(name=name, description=f"served as web service '{name}'")
    if not isinstance(pipeline, PublishedPipeline):
        raise UserErrorException("deploy_pipeline takes a Pipeline or a PublishedPipeline, got "
                                 f"{type(pipeline).__name__}")
    try:
        limits = Limits.from_env()
    except ValueError as exc:
        raise UserErrorException(str(exc)) from None
    graph = pipeline._info.definition
    path, dynamic = web_path(graph)
    run = _batch_run(workspace, name, pipeline, log)
    folder = _root(workspace) / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    sockets = Path(tempfile.mkdtemp(prefix="amlocal-svc-"))   # 0700, the service's user's
    concurrency = max(1, int(os.environ.get("AMLOCAL_SERVICE_CONCURRENCY", "4")))
    keys = (secrets.token_urlsafe(32), secrets.token_urlsafe(32))
    _write_keys(folder, {"primary": hash_key(keys[0]), "secondary": hash_key(keys[1])})
    secret = secrets.token_urlsafe(32)
    _write_private(folder / WORKER_SECRET_FILE, secret)
    web = graph["webservice"]
    spec = {"name": name, "workspace_id": workspace._id, "pipeline_id": pipeline.id,
            "batch_run_id": run.id, "port": port, "concurrency": concurrency,
            "max_body": limits.max_body, "read_timeout": limits.read_timeout,
            "socket_dir": str(sockets),
            "inputs": {k: {"schema": v["schema"]} for k, v in web["inputs"].items()},
            "outputs": {k: v["node"] for k, v in web["outputs"].items()}, "nodes": []}
    (folder / SERVICE_FILE).write_text(json.dumps(spec, indent=1))
    try:
        spec["nodes"] = _start_workers(workspace, name, run, path, dynamic, folder, sockets,
                                       concurrency, secret)
        (folder / SERVICE_FILE).write_text(json.dumps(spec, indent=1))
        _wait_workers(workspace, name, spec["nodes"])
        point = _start_server(folder)
    except BaseException:
        delete(workspace, name, str(folder))
        raise
    if log:
        log(f"Service '{name}' answers at http://localhost:{point['port']}/services/{name}/execute")
    return {"kind": "pipeline", "folder": str(folder), "keys": keys}
