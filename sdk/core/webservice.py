"""Models served as web services, Azure ML v1 style: ``Model.deploy(...)`` to a
``LocalWebservice``.

A deployed service is a container built for the inference environment that imports the entry
script once, calls ``init()`` once and ``run(raw_data)`` per ``POST /score`` (reference section
16): app root ``/var/azureml-app`` holding the source directory and the models under
``azureml-models/<name>/<version>/``, ``AZUREML_MODEL_DIR`` set for a single model, and
``Model.get_model_path`` working inside. It keeps running after the deploying process exits,
until ``delete()``; it is found again by its container labels (``Webservice(ws, name)``).
"""
from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

from ..errors import UserErrorException, WebserviceException

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

    # -- properties -------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._found["port"]

    @property
    def scoring_uri(self) -> str:
        return f"http://localhost:{self.port}/score"

    @property
    def state(self) -> str:
        from amlocal.compute.services import find_services
        found = find_services({"amlocal.webservice": self.name, "amlocal.workspace_id": self.workspace._id})
        return {"running": "Healthy"}.get(found[0]["status"], found[0]["status"]) if found else "Deleted"

    @staticmethod
    def list(workspace) -> list:
        from amlocal.compute.services import find_services
        return [LocalWebservice(workspace, f["labels"]["amlocal.webservice"], _found=f)
                for f in find_services({"amlocal.workspace_id": workspace._id})]

    # -- use --------------------------------------------------------------------------------
    def run(self, input_data):
        """POST ``input_data`` (a JSON string, or data that is sent as JSON) to ``/score``."""
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
        from amlocal.compute.services import service_logs
        return "\n".join(service_logs(self._found["id"]).splitlines()[-num_lines:])

    def delete(self) -> None:
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
    found = find_services({"amlocal.webservice": name, "amlocal.workspace_id": workspace._id})
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
    from amlocal._runtime import package_tree
    from amlocal.compute import Mount, get_backend
    from amlocal.compute.services import remove_service, start_service
    from .. import _settings
    from .environment import Environment

    if inference_config is None or not inference_config.entry_script:
        raise UserErrorException("Model.deploy needs inference_config=InferenceConfig(entry_script=...)")
    source = Path(inference_config.source_directory or ".").resolve()
    if not (source / inference_config.entry_script).is_file():
        raise UserErrorException(f"entry script '{inference_config.entry_script}' was not found in "
                                 f"source_directory '{source}'")
    try:
        existing = _find(workspace, name)
    except WebserviceException:
        existing = None
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
           **{str(k): str(v) for k, v in (environment.environment_variables or {}).items()}}
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


__all__ = ["InferenceConfig", "LocalWebservice", "Webservice"]
