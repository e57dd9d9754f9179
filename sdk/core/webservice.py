"""Models served as web services, Azure ML v1 style: ``Model.deploy(...)`` to a
``LocalWebservice``.

A deployed service is a container built for the inference environment that imports the entry
script once, calls ``init()`` once and ``run(raw_data)`` per ``POST /score`` (reference section
16): app root ``/var/azureml-app`` holding the source directory and the models under
``azureml-models/<name>/<version>/``, ``AZUREML_MODEL_DIR`` set for a single model, and
``Model.get_model_path`` working inside. It keeps running after the deploying process exits,
until ``delete()``; it is found again by its container labels (``Webservice(ws, name)``). Like
Azure's LocalWebservice it needs no key; its request limits (``AMLOCAL_SERVICE_MAX_BODY``,
``AMLOCAL_SERVICE_READ_TIMEOUT`` at deploy; see :mod:`amlocal._runtime.scoring`) are those of the
pipeline services.

Pipelines are served too (Studio's request/response services): ``Webservice.deploy_pipeline``
runs the pipeline once as a batch run, starts one warm worker container per
ExecutePythonScriptStep on a path from a WebServiceInput to a WebServiceOutput and a detached
host process (:mod:`amlocal.server.pipeline_service`) answering ``POST /services/NAME/execute``.
Its folder ``AMLOCAL_HOME/services/<workspace id>/<name>/`` holds ``service.json``, the hashed
keys, the endpoint and the log; ``Webservice(ws, name)`` finds it there. Starting and
managing the served steps is the execution layer's (:mod:`amlocal._engine.served`); this module
checks what the user asked for and runs the pipeline's batch run first. Deliberate differences from Azure: a pipeline service's keys are
known only to the object ``deploy_pipeline`` returned or after ``regen_key`` (they are stored
hashed), and ``run`` takes a DataFrame or a row dict and returns the first output as a DataFrame.
"""
from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

from .._cloud_only import cloud_only_class, cloud_only_function
from ..errors import UserErrorException, WebserviceException

_PAYLOAD = ("it builds the request body of Azure's model management service (container images "
            "and profiling)")



class InferenceConfig:
    """``InferenceConfig(entry_script, runtime=None, conda_file=None, ..., source_directory=None,
    environment=None)``: what a deployed model runs."""

    def __init__(self, entry_script: str, runtime: str | None = None, conda_file: str | None = None,
                 extra_docker_file_steps=None, source_directory: str | None = None,
                 enable_gpu=None, description=None, base_image=None, base_image_registry=None,
                 cuda_version=None, environment=None):
        self.entry_script = entry_script
        self.source_directory = source_directory
        self.environment = environment
        self.conda_file = conda_file

    def validate_configuration(self) -> None:
        """Check the entry script exists and parses (WebserviceException/UserErrorException)."""
        from ._model_extras import validate_configuration
        validate_configuration(self)

    def validation_script_content(self) -> None:
        """Check the entry script's text is valid Python (UserErrorException)."""
        from ._model_extras import validation_script_content
        validation_script_content(self)

    # the request bodies of Azure's model management service (images and profiling)
    build_create_payload = cloud_only_function(
        "azureml.core.model.InferenceConfig", "build_create_payload", _PAYLOAD,
        "Model.deploy(..., deployment_config=LocalWebservice.deploy_configuration())")
    build_profile_payload = cloud_only_function(
        "azureml.core.model.InferenceConfig", "build_profile_payload", _PAYLOAD, None)


class LocalWebserviceDeploymentConfiguration:
    def __init__(self, port: int | None = None):
        self.port = port


class Webservice:
    """A deployed service. ``Webservice(workspace, name)`` finds an existing one (raises
    WebserviceException listing the known names otherwise)."""

    def __init__(self, workspace, name: str, _found: dict | None = None):
        self.workspace = workspace
        self.name = name
        self._found = _found or _find(workspace, name)
        self._keys: tuple | None = None

    @property
    def _pipeline(self):
        """The pipeline service's helper, or None for a model service."""
        if self._found.get("kind") != "pipeline":
            return None
        from .._engine import served
        return served

    # -- properties -------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._pipeline:
            return self._pipeline.endpoint(self._found["folder"])["port"]
        return self._found["port"]

    @property
    def scoring_uri(self) -> str:
        if self._pipeline:
            return f"http://localhost:{self.port}/services/{self.name}/execute"
        return f"http://localhost:{self.port}/score"

    @property
    def state(self) -> str:
        if self._pipeline:
            return self._pipeline.state(self.workspace._id, self.name, self._found["folder"])
        from amlocal.compute.services import find_services
        found = find_services({"amlocal.webservice": self.name, "amlocal.workspace_id": self.workspace._id})
        return {"running": "Healthy"}.get(found[0]["status"], found[0]["status"]) if found else "Deleted"

    @staticmethod
    def list(workspace) -> list:
        """The workspace's services: deployed models and deployed pipelines, by name."""
        from amlocal.compute.services import find_services

        from .._engine import served
        services = [LocalWebservice(workspace, f["labels"]["amlocal.webservice"], _found=f)
                    for f in find_services({"amlocal.workspace_id": workspace._id})
                    if f["labels"].get("amlocal.webservice_role") != "worker"]
        services += [Webservice(workspace, name, _found={"kind": "pipeline", "folder": folder})
                     for name, folder in served.folders(workspace._id)]
        return sorted(services, key=lambda s: s.name)

    @staticmethod
    def deploy_pipeline(workspace, name: str, pipeline, port: int | None = None,
                        show_output: bool = False) -> Webservice:
        """Serve ``pipeline`` (a PublishedPipeline, or a Pipeline, published first) as Studio's
        request/response web service ``name``; returns once it answers, with ``get_keys()``
        available (the keys are shown only now: they are stored hashed).

        The pipeline runs once as a batch run with its WebServiceInputs' examples (so that every
        static input exists), then one warm worker container per ExecutePythonScriptStep on a
        path from a WebServiceInput to a WebServiceOutput starts, and a host process serves
        ``POST /services/NAME/execute`` on 127.0.0.1:``port`` (a free port when None). The
        service keeps running after this process exits, until ``delete()``.

        Raises UserErrorException (a name in use or not valid, a pipeline without
        WebServiceInput/WebServiceOutput, a PythonScriptStep on the web path) and
        WebserviceException (the batch run failed, a worker or the server did not start; with
        the log).
        """
        service = Webservice(workspace, name, _found=_deploy_pipeline(
            workspace, name, pipeline, port=port, log=print if show_output else None))
        service._keys = service._found.pop("keys")
        return service

    # -- keys (pipeline services) -----------------------------------------------------------
    def get_keys(self) -> tuple:
        """``(primary, secondary)``. Keys are stored hashed, so they are known only to the
        object ``deploy_pipeline`` returned or after ``regen_key``; raises WebserviceException
        otherwise (and for a model service, which has no keys locally)."""
        if not self._pipeline:
            raise WebserviceException(f"service '{self.name}' is a local model service, which "
                                      "needs no key (LocalWebservice has no authentication)")
        if self._keys is None:
            raise WebserviceException(
                f"the keys of service '{self.name}' are stored hashed and were shown once, at "
                "deploy; make a new one with service.regen_key('Primary') or "
                f"`amlocal webservice keys {self.name} --regen Primary`")
        return self._keys

    def regen_key(self, key: str, set_key: str | None = None) -> None:
        """Replace the ``'Primary'`` or ``'Secondary'`` key with a new random one (or
        ``set_key``); ``get_keys()`` then shows it (the other one as None unless known)."""
        if not self._pipeline:
            raise WebserviceException(f"service '{self.name}' is a local model service, which "
                                      "has no keys")
        new = self._pipeline.regen_key(self._found["folder"], key, set_key)
        keys = list(self._keys or (None, None))
        keys[0 if key.lower() == "primary" else 1] = new
        self._keys = tuple(keys)

    # -- use --------------------------------------------------------------------------------
    def run(self, input_data):
        """POST ``input_data`` (a JSON string, or data that is sent as JSON) to ``/score``.

        A pipeline service takes a DataFrame (sent as the first input in the classic
        ``ColumnNames``/``Values`` form), a dict of one row (``{"surface": 25}``) or a whole
        classic body (``{"Inputs": ...}``), and returns the first output table as a DataFrame;
        it needs a key this object knows (see ``get_keys``)."""
        if self._pipeline:
            return _call_pipeline(self, input_data)
        body = input_data if isinstance(input_data, (str, bytes)) else json.dumps(input_data)
        request = urllib.request.Request(self.scoring_uri, data=body.encode() if isinstance(body, str) else body,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            raise WebserviceException(f"service '{self.name}' answered {exc.code}: {detail}") from None

    def wait_for_deployment(self, show_output: bool = False, timeout: float = 120) -> None:
        """Wait until ``init()`` is done and the service answers; raises WebserviceException with
        the service's log when it stops or does not answer in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://localhost:{self.port}/", timeout=2):
                    if show_output:
                        print(f"Local webservice is running at {self.scoring_uri}")
                    return
            except (urllib.error.URLError, ConnectionError, OSError):
                if self.state not in ("Healthy", "created", "restarting"):
                    break
                time.sleep(0.2)
        raise WebserviceException(f"service '{self.name}' did not start; its log:\n{self.get_logs()}")

    def get_logs(self, num_lines: int = 5000) -> str:
        """The service's log: a model service's container log; a pipeline service's host
        process log (failed requests) followed by each worker's log (the users' prints and
        tracebacks)."""
        if self._pipeline:
            text = self._pipeline.logs(self.workspace._id, self.name, self._found["folder"])
        else:
            from amlocal.compute.services import service_logs
            text = service_logs(self._found["id"])
        return "\n".join(text.splitlines()[-num_lines:])

    def delete(self) -> None:
        """Stop and remove the service (a pipeline service: its host process, its worker
        containers and its folder)."""
        if self._pipeline:
            self._pipeline.delete(self.workspace._id, self.name, self._found["folder"])
            return
        from amlocal.compute.services import remove_service
        remove_service(self._found["id"])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, scoring_uri={self.scoring_uri!r})"


class LocalWebservice(Webservice):
    @staticmethod
    def deploy_configuration(port: int | None = None) -> LocalWebserviceDeploymentConfiguration:
        return LocalWebserviceDeploymentConfiguration(port)


def _find(workspace, name: str) -> dict:
    from amlocal.compute.services import find_services

    from .._engine import served
    folder = served.folder_of(workspace._id, name)
    if folder is not None:
        return {"kind": "pipeline", "folder": folder}
    found = [f for f in find_services({"amlocal.webservice": name, "amlocal.workspace_id": workspace._id})
             if f["labels"].get("amlocal.webservice_role") != "worker"]
    if not found:
        known = sorted(w.name for w in Webservice.list(workspace))
        raise WebserviceException(f"WebserviceNotFound: no service named '{name}' in workspace "
                                  f"'{workspace.name}'. Known services: {', '.join(known) or '(none)'}")
    return found[0]


def _copy_source(source: Path, target: Path, skip: Path) -> None:
    """Copy the source directory, leaving out VCS folders, caches and the amlocal home."""
    import os
    for dirpath, dirnames, filenames in os.walk(source):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if d not in (".git", "__pycache__", ".azureml")
                       and (here / d).resolve() != skip]
        (target / here.relative_to(source)).mkdir(parents=True, exist_ok=True)
        for name in filenames:
            shutil.copy2(here / name, target / here.relative_to(source) / name)


def deploy(workspace, name: str, models: list, inference_config: InferenceConfig,
           deployment_config=None, overwrite: bool = False, show_output: bool = False) -> LocalWebservice:
    """Check the request, copy the source and the models into the service's folder, and have the
    execution layer build (or reuse) the inference environment's image and start the service."""
    from amlocal.compute.services import remove_service

    from .. import _settings
    from .._engine.http_guard import Limits
    from .._engine.served import service_root, start_model_service
    from .environment import Environment

    if inference_config is None or not inference_config.entry_script:
        raise UserErrorException("Model.deploy needs inference_config=InferenceConfig(entry_script=...)")
    try:
        limits = Limits.from_env()       # the request limits of the scoring server
    except ValueError as exc:
        raise UserErrorException(str(exc)) from None
    source = Path(inference_config.source_directory or ".").resolve()
    if not (source / inference_config.entry_script).is_file():
        raise UserErrorException(f"entry script '{inference_config.entry_script}' was not found in "
                                 f"source_directory '{source}'")
    try:
        existing = _find(workspace, name)
    except WebserviceException:
        existing = None
    if existing and existing.get("kind") == "pipeline":
        raise UserErrorException(f"'{name}' is a deployed pipeline service; delete it first "
                                 f"(`amlocal webservice delete {name}`) or choose another name")
    if existing and not overwrite:
        raise UserErrorException(f"a service named '{name}' already exists; pass overwrite=True "
                                 "or delete it first")
    environment = inference_config.environment or Environment("amlocal-inference")
    spec = environment._to_spec()
    app = service_root(workspace._id) / name
    if app.exists():
        shutil.rmtree(app)
    _copy_source(source, app, skip=_settings.current().home)
    for model in models:
        model.download(str(app / "azureml-models" / model.name / str(model.version)), exist_ok=True)
    if existing:
        remove_service(existing["id"])
    start_model_service(
        workspace._id, name, environment=spec, app=app, entry_script=inference_config.entry_script,
        environment_variables=dict(environment.environment_variables or {}),
        model_dir=(f"azureml-models/{models[0].name}/{models[0].version}" if len(models) == 1
                   else None),
        host_port=getattr(deployment_config, "port", None), limits=limits,
        log=print if show_output else (lambda line: None))
    return LocalWebservice(workspace, name)


def _deploy_pipeline(workspace, name: str, pipeline, *, port: int | None = None, log=None) -> dict:
    """See ``Webservice.deploy_pipeline``: check the request, publish a Pipeline, run the batch
    run, then have the execution layer start the service. Returns ``{"kind", "folder", "keys"}``."""
    import re

    from .._engine.graph import Graph
    from .._engine.http_guard import Limits
    from .._engine.served import check_name, start_pipeline_service, web_path
    from ..errors import ActivityFailedException
    check_name(name)
    if port is not None and not (isinstance(port, int) and 0 < port < 65536):
        raise UserErrorException(f"port must be an int between 1 and 65535 (or None), got {port!r}")
    try:
        _find(workspace, name)
    except WebserviceException:
        pass
    else:
        raise UserErrorException(f"a service named '{name}' already exists; delete it first "
                                 f"(`amlocal webservice delete {name}` or service.delete())")
    # a Pipeline (published first) or a PublishedPipeline, told apart by what they offer (the
    # pipeline package sits above this one: it is not imported here)
    if hasattr(pipeline, "publish") and hasattr(pipeline, "_freeze"):
        pipeline = pipeline.publish(name=name, description=f"served as web service '{name}'")
    if not (hasattr(pipeline, "submit") and hasattr(pipeline, "endpoint")
            and isinstance(getattr(getattr(pipeline, "_info", None), "definition", None), dict)):
        raise UserErrorException("deploy_pipeline takes a Pipeline or a PublishedPipeline, got "
                                 f"{type(pipeline).__name__}")
    try:
        limits = Limits.from_env()
    except ValueError as exc:
        raise UserErrorException(str(exc)) from None
    graph = Graph.from_dict(pipeline._info.definition)
    web_path(graph)   # a pipeline that cannot be served fails before its batch run
    run = pipeline.submit(workspace, re.sub(r"[^0-9a-zA-Z_-]", "_", f"webservice-{name}"))
    try:
        run.wait_for_completion(show_output=log is not None)
    except ActivityFailedException as exc:
        raise WebserviceException(f"the batch run of the pipeline failed, so service '{name}' was "
                                  f"not deployed: {exc}") from None
    return start_pipeline_service(workspace._store, workspace._id, name, graph=graph,
                                  pipeline_id=pipeline.id, batch_run_id=run.id, port=port,
                                  limits=limits, log=log)


def _call_pipeline(service, data):
    """POST ``data`` to a pipeline service with its known primary (else secondary) key; the
    first output table as a DataFrame. Raises WebserviceException with the service's answer."""
    import pandas as pd

    from .._engine.served import SERVICE_FILE
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


def _body(spec: dict, data) -> bytes:
    """The request body for ``data``: a DataFrame in the classic ``ColumnNames``/``Values`` form
    of the first input, a row dict or a list of rows, or a whole body as it is."""
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


# Azure's hosted service types: cloud-only (CloudOnlyError when used), LocalWebservice instead.

_LOCAL = ("Model.deploy(ws, name, models, inference_config, "
          "LocalWebservice.deploy_configuration(port=...)) serves the model in a local container")
AciWebservice = cloud_only_class("azureml.core.webservice", "AciWebservice",
                                 "Azure Container Instances exist only in Azure", _LOCAL)
AksWebservice = cloud_only_class("azureml.core.webservice", "AksWebservice",
                                 "AKS web services exist only in Azure", _LOCAL)
AksEndpoint = cloud_only_class("azureml.core.webservice", "AksEndpoint",
                               "AKS endpoints (controlled rollout) exist only in Azure", _LOCAL)
UnknownWebservice = cloud_only_class(
    "azureml.core.webservice", "UnknownWebservice",
    "it stands for a service type the Azure SDK does not know", "Webservice(ws, name)")

__all__ = ["AciWebservice", "AksEndpoint", "AksWebservice", "InferenceConfig", "LocalWebservice",
           "UnknownWebservice", "Webservice"]
