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
keys, the endpoint and the log; ``Webservice(ws, name)`` finds it there. The deploying and
managing code lives in :mod:`amlocal.server._deploy` (imported inside the methods: it uses the
pipeline runner's planning). Deliberate differences from Azure: a pipeline service's keys are
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

APP_ROOT = "/var/azureml-app"
CONTAINER_PORT = 5001


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
        from ..server import _deploy
        return _deploy

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
            return self._pipeline.state(self.workspace, self.name, self._found["folder"])
        from amlocal.compute.services import find_services
        found = find_services({"amlocal.webservice": self.name, "amlocal.workspace_id": self.workspace._id})
        return {"running": "Healthy"}.get(found[0]["status"], found[0]["status"]) if found else "Deleted"

    @staticmethod
    def list(workspace) -> list:
        """The workspace's services: deployed models and deployed pipelines, by name."""
        from amlocal.compute.services import find_services
        from ..server import _deploy
        services = [LocalWebservice(workspace, f["labels"]["amlocal.webservice"], _found=f)
                    for f in find_services({"amlocal.workspace_id": workspace._id})
                    if f["labels"].get("amlocal.webservice_role") != "worker"]
        services += [Webservice(workspace, name, _found={"kind": "pipeline", "folder": folder})
                     for name, folder in _deploy.folders(workspace)]
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
        from ..server import _deploy
        service = Webservice(workspace, name, _found=_deploy.deploy(
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
            return self._pipeline.call(self, input_data)
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
            text = self._pipeline.logs(self.workspace, self.name, self._found["folder"])
        else:
            from amlocal.compute.services import service_logs
            text = service_logs(self._found["id"])
        return "\n".join(text.splitlines()[-num_lines:])

    def delete(self) -> None:
        """Stop and remove the service (a pipeline service: its host process, its worker
        containers and its folder)."""
        if self._pipeline:
            self._pipeline.delete(self.workspace, self.name, self._found["folder"])
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
    from ..server import _deploy
    folder = _deploy.folder_of(workspace, name)
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
    """Build (or reuse) the inference environment's image and start the service container."""
    from amlocal._engine.runtime_tree import package_tree
    from amlocal._engine.http_guard import Limits
    from amlocal.compute import Mount, get_backend
    from amlocal.compute.services import remove_service, start_service
    from .. import _settings
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
    resolved = get_backend("docker").prepare(environment._to_spec(),
                                             log=print if show_output else (lambda line: None))
    settings = _settings.current()
    app = settings.home / "services" / workspace._id / name
    if app.exists():
        shutil.rmtree(app)
    _copy_source(source, app, skip=settings.home)
    for model in models:
        model.download(str(app / "azureml-models" / model.name / str(model.version)), exist_ok=True)
    env = {"AML_APP_ROOT": APP_ROOT, "PYTHONPATH": "/amlocal/runtime:/amlocal/runtime/amlocal/_runtime/shim",
           "PYTHONUNBUFFERED": "1", "HOME": "/tmp",
           **{str(k): str(v) for k, v in (environment.environment_variables or {}).items()},
           **limits.to_env()}
    if len(models) == 1:
        env["AZUREML_MODEL_DIR"] = f"azureml-models/{models[0].name}/{models[0].version}"
    if existing:
        remove_service(existing["id"])
    port = getattr(deployment_config, "port", None)
    found = start_service(
        resolved.image, ["python", "-m", "amlocal._runtime.scoring", inference_config.entry_script,
                         str(CONTAINER_PORT)],
        mounts=[Mount(str(package_tree(settings.home / "runtime")), "/amlocal/runtime/amlocal"),
                Mount(str(app), APP_ROOT)],
        env=env, container_port=CONTAINER_PORT, host_port=port, workdir=APP_ROOT,
        labels={"amlocal.webservice": name, "amlocal.workspace_id": workspace._id})
    service = LocalWebservice(workspace, name, _found={**found, "labels": {}})
    if show_output:
        print(f"Deploying {name} from image {resolved.image} on port {service.port}")
    return service


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
