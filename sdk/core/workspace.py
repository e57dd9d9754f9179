"""Workspace: a named local workspace under ``AMLOCAL_HOME``.

Deliberate difference from Azure: there is nothing to provision, so ``Workspace(...)`` creates
a workspace that does not exist yet, printing one line, where Azure would raise. ``Workspace.get``
still raises for an unknown name, as Azure does.
"""
from __future__ import annotations

import json
import re
import sys
import uuid
from pathlib import Path

from ..errors import NotFoundError, UserErrorException
from ._workspace_object import object_class

_NAME = re.compile(r"^[a-zA-Z0-9][\w\-]{2,32}$")
DEFAULT_DATASTORE = "workspaceblobstore"
WORKSPACE_DEFAULT_BLOB_STORE_NAME = DEFAULT_DATASTORE  # azureml's name for it


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise UserErrorException(
            f"workspace name {name!r} is not valid: use 3-33 letters, digits, '_' or '-', "
            "starting with a letter or digit")


class Workspace:
    """``Workspace(subscription_id, resource_group, workspace_name, auth=None)``."""

    DEFAULT_CPU_CLUSTER_NAME = "cpu-cluster"
    DEFAULT_GPU_CLUSTER_NAME = "gpu-cluster"

    def __init__(self, subscription_id: str, resource_group: str, workspace_name: str, auth=None,
                 _location: str | None = None, _disable_service_check: bool = False,
                 _workspace_id: str | None = None, sku: str = "basic", tags: dict | None = None,
                 _cloud: str = "AzureCloud", *, _store=None, _info=None):
        from .. import _context
        self._auth = auth
        self._store = _store or _context.current_store()
        if _info is None:
            _check_name(workspace_name)
            found = self._store.find_workspaces(workspace_name, resource_group, subscription_id)
            _info = found[0] if found else self._create(
                self._store, workspace_name, subscription_id, resource_group, _location, notice=True)
        self._info = _info

    # -- creation and lookup ----------------------------------------------------------------
    @staticmethod
    def _create(store, name, subscription_id, resource_group, location, notice):
        from ..store.entities import DatastoreInfo, WorkspaceInfo
        from .. import _settings
        info = store.create_workspace(WorkspaceInfo(
            id=uuid.uuid4().hex, name=name, subscription_id=str(subscription_id),
            resource_group=str(resource_group), location=location or "local"))
        folder = _settings.current().datastores / info.id / DEFAULT_DATASTORE
        folder.mkdir(parents=True, exist_ok=True)
        store.put_datastore(DatastoreInfo(workspace_id=info.id, name=DEFAULT_DATASTORE,
                                          url=folder.as_uri(), kind="file"))
        if notice:
            print(f"amlocal: created local workspace '{name}' (resource group '{resource_group}')",
                  file=sys.stderr)
        return info

    @classmethod
    def create(cls, name: str, auth=None, subscription_id: str | None = None,
               resource_group: str | None = None, location: str | None = None,
               create_resource_group: bool = True, sku: str = "basic", tags: dict | None = None,
               exist_ok: bool = False, show_output: bool = True, **kwargs) -> "Workspace":
        """Create a workspace; an existing one is returned with ``exist_ok=True``, else raises."""
        from .. import _context
        _check_name(name)
        store = _context.current_store()
        subscription_id = subscription_id or "00000000-0000-0000-0000-000000000000"
        resource_group = resource_group or f"{name}-rg"
        found = store.find_workspaces(name, resource_group, subscription_id)
        if found and not exist_ok:
            raise UserErrorException(
                f"workspace '{name}' already exists in resource group '{resource_group}'; "
                "pass exist_ok=True to use it")
        info = found[0] if found else cls._create(store, name, subscription_id, resource_group,
                                                  location, notice=False)
        if show_output and not found:
            print(f"Deployed workspace '{name}' locally", file=sys.stderr)
        return cls(info.subscription_id, info.resource_group, info.name, auth, _store=store, _info=info)

    @classmethod
    def get(cls, name: str, auth=None, subscription_id: str | None = None,
            resource_group: str | None = None, location: str | None = None,
            cloud: str = "AzureCloud", id: str | None = None) -> "Workspace":
        """An existing workspace by name (and optionally resource group / subscription).

        Raises NotFoundError listing the known workspaces, or UserErrorException when the name
        is ambiguous.
        """
        from .. import _context
        store = _context.current_store()
        found = store.find_workspaces(name, resource_group, subscription_id)
        if not found:
            known = sorted({f"{w.name} (resource group {w.resource_group})" for w in store.find_workspaces()})
            raise NotFoundError(
                f"no workspace named '{name}'"
                + (f" in resource group '{resource_group}'" if resource_group else "")
                + f". Known workspaces: {', '.join(known) or '(none)'}. "
                "Create one with `amlocal workspace create -w NAME -g GROUP`")
        if len(found) > 1:
            scopes = ", ".join(f"subscription {w.subscription_id}/resource group {w.resource_group}"
                               for w in found)
            raise UserErrorException(
                f"workspace name '{name}' is ambiguous ({scopes}); also give the resource group "
                "(-g) and subscription (--subscription-id)")
        info = found[0]
        return cls(info.subscription_id, info.resource_group, info.name, auth, _store=store, _info=info)

    @classmethod
    def list(cls, subscription_id: str | None = None, auth=None,
             resource_group: str | None = None) -> dict:
        """``{name: [Workspace, ...]}`` as Azure returns it."""
        from .. import _context
        store = _context.current_store()
        result: dict = {}
        for info in store.find_workspaces(None, resource_group, subscription_id):
            result.setdefault(info.name, []).append(
                cls(info.subscription_id, info.resource_group, info.name, auth, _store=store, _info=info))
        return result

    # -- config files -----------------------------------------------------------------------
    @classmethod
    def from_config(cls, path: str | None = None, auth=None, _logger=None,
                    _file_name: str | None = None) -> "Workspace":
        """Read ``config.json`` as Azure does: a file path is used directly; otherwise walk up
        from ``path`` (default ``.``) trying ``.azureml/``, ``aml_config/`` and the folder itself."""
        config = _find_config(path, _file_name)
        data = json.loads(config.read_text())
        if "Scope" in data and data["Scope"]:
            parts = data["Scope"].split("/")
            sub, rg, name = parts[2], parts[4], parts[8]
        else:
            try:
                sub, rg, name = data["subscription_id"], data["resource_group"], data["workspace_name"]
            except KeyError as exc:
                raise UserErrorException(
                    f"{config} has no {exc.args[0]!r}; it needs subscription_id, resource_group "
                    "and workspace_name (or a Scope)") from exc
        print(f"Found the config file in: {config}", file=sys.stderr)
        return cls(sub, rg, name, auth)

    def write_config(self, path: str | None = None, file_name: str | None = None) -> Path:
        folder = Path(path or ".") / ".azureml"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / (file_name or "config.json")
        scope = (f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
                 f"/providers/Microsoft.MachineLearningServices/workspaces/{self.name}")
        target.write_text(json.dumps({"Id": None, "Scope": scope}, indent=4))
        return target

    # -- properties -------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._info.name

    @property
    def subscription_id(self) -> str:
        return self._info.subscription_id

    @property
    def resource_group(self) -> str:
        return self._info.resource_group

    @property
    def location(self) -> str:
        return self._info.location

    @property
    def _id(self) -> str:
        return self._info.id

    @property
    def datastores(self) -> dict:
        from .datastore import Datastore
        return {d.name: Datastore._from_info(self, d) for d in self._store.list_datastores(self._id)}

    @property
    def datasets(self) -> dict:
        """``{name: latest version}`` of the registered datasets (``Dataset.get_all``)."""
        from .dataset import Dataset
        return Dataset.get_all(self)

    def _dataset(self, name: str, version="latest"):
        """The registered dataset ``name`` at ``version`` (``Dataset.get_by_name``): what a
        ``(workspace, name[, version])`` tuple given as a step's dataset names."""
        from .dataset import Dataset
        return Dataset.get_by_name(self, name, version)

    @property
    def experiments(self) -> dict:
        return {e.name: e for e in object_class("experiment").list(self)}  # active ones, as on Azure

    @property
    def compute_targets(self) -> dict:
        from .compute import ComputeTarget
        return {c.name: ComputeTarget._from_info(self, c) for c in self._store.list_compute_targets(self._id)}

    @property
    def environments(self) -> dict:
        from .environment import Environment
        return Environment.list(self)

    @property
    def models(self) -> dict:
        return {m.name: m for m in object_class("model").list(self, latest=True)}

    def get_default_datastore(self):
        from .datastore import Datastore
        return Datastore.get(self, self._refresh().default_datastore)

    def set_default_datastore(self, name: str) -> None:
        from .datastore import Datastore
        Datastore.get(self, name)  # raises with the known names if unknown
        self._store.set_default_datastore(self._id, name)

    def _refresh(self):
        found = self._store.find_workspaces(self.name, self.resource_group, self.subscription_id)
        if found:
            self._info = found[0]
        return self._info

    def get_run(self, run_id: str):
        return object_class("run")._by_id(self, run_id)

    def get_details(self) -> dict:
        return {"id": self._id, "name": self.name, "location": self.location,
                "subscriptionId": self.subscription_id, "resourceGroup": self.resource_group,
                "creationTime": self._info.created_at, "sku": "local"}

    def get_default_compute_target(self, type: str):
        """Deprecated on Azure: the compute target named ``cpu-cluster`` (type 'CPU') or
        ``gpu-cluster`` ('GPU'), or None when there is none."""
        print("'get_default_compute_target' is deprecated; use ws.compute_targets['name']",
              file=sys.stderr)
        kinds = {"cpu": self.DEFAULT_CPU_CLUSTER_NAME, "gpu": self.DEFAULT_GPU_CLUSTER_NAME}
        if str(type).lower() not in kinds:
            raise ValueError("Invalid compute type. Accepted values are CPU and GPU")
        return self.compute_targets.get(kinds[str(type).lower()])

    def delete(self, delete_dependent_resources: bool = False, no_wait: bool = False) -> None:
        """Delete this local workspace and everything recorded in it: runs (metrics, logs,
        files), experiments, registered models and their files, environments, datasets,
        datastore registrations, published pipelines and compute targets.

        As on Azure, the workspace's storage is kept unless ``delete_dependent_resources=True``:
        then the folder behind its default datastore (``workspaceblobstore``) is deleted too.
        Other datastores' data is never touched. Refused while a run of the workspace has not
        finished. ``no_wait`` is accepted; deletion is immediate."""
        import shutil
        from .. import _settings
        self._store.delete_workspace(self._id)
        if delete_dependent_resources:
            shutil.rmtree(_settings.current().datastores / self._id, ignore_errors=True)

    @staticmethod
    def setup() -> "Workspace":
        """Deprecated on Azure: the workspace of ``config.json`` (``Workspace.from_config()``).
        Azure then prompts for a new workspace's parameters; amlocal raises instead, naming how
        to create one."""
        print("setup() is deprecated: use Workspace.create() for a new workspace, or "
              "Workspace.get()/from_config() for an existing one", file=sys.stderr)
        return Workspace.from_config()

    def get_mlflow_tracking_uri(self, _with_auth: bool = False) -> str:
        """The MLflow tracking URI of this workspace: on this home's studio server (started in
        the background, with a one-line notice, when none runs), in Azure's shape
        (``http://127.0.0.1:8765/mlflow/v1.0/subscriptions/<sub>/resourceGroups/<rg>/providers/
        Microsoft.MachineLearningServices/workspaces/<name>``). Use it as on Azure:
        ``mlflow.set_tracking_uri(ws.get_mlflow_tracking_uri())``.

        Where Azure's plugin authenticates the mlflow client from the workspace, amlocal sets
        ``MLFLOW_TRACKING_TOKEN`` (which the mlflow client sends as a bearer key) to this
        home's client key when it is unset, so writes are authorised. Inside a step this is the
        step's own tracking URI (``MLFLOW_TRACKING_URI``, set when the step's environment has
        mlflow), which records on the step run. ``_with_auth`` is deprecated on Azure and
        ignored."""
        import os
        from .. import _context
        if _with_auth:
            print("'_with_auth' is deprecated and will be removed in a future release.",
                  file=sys.stderr)
        if _context.job_context() is not None:
            uri = os.environ.get("MLFLOW_TRACKING_URI")
            if not uri:
                raise UserErrorException(
                    "mlflow is not installed in this step's environment, so the step has no "
                    "MLflow tracking URI: add mlflow (or mlflow-skinny) to its conda or pip "
                    "dependencies, or log with run.log(...)")
            return uri
        from .._engine import studio
        from .._engine.mlflow_tracking import tracking_path
        info = studio.ensure_running()
        if not os.environ.get("MLFLOW_TRACKING_TOKEN"):
            os.environ["MLFLOW_TRACKING_TOKEN"] = studio.client_key(self._store)
        return info.url + tracking_path(self.subscription_id, self.resource_group, self.name)

    def __eq__(self, other) -> bool:
        return isinstance(other, Workspace) and other._id == self._id

    def __deepcopy__(self, memo) -> "Workspace":
        """A workspace is a handle: copies of configurations that hold it (a run configuration's
        datasets, ScriptRunConfig arguments) share it instead of copying its store."""
        return self

    def __copy__(self) -> "Workspace":
        return self

    def __hash__(self) -> int:
        return hash(self._id)

    def __repr__(self) -> str:
        return (f"Workspace.create(name='{self.name}', subscription_id='{self.subscription_id}', "
                f"resource_group='{self.resource_group}')")


def _find_config(path: str | None, file_name: str | None) -> Path:
    start = Path(path or ".").resolve()
    if start.is_file():
        return start
    names = [file_name] if file_name else ["config.json", "project.json"]
    for folder in [start, *start.parents]:
        for sub in (".azureml", "aml_config", ""):
            for name in names:
                candidate = folder / sub / name if sub else folder / name
                if candidate.is_file():
                    return candidate
    raise UserErrorException(
        f"We could not find config.json in: {start} or in its parent directories. Write one with "
        "`ws.write_config()` or `amlocal workspace create -w NAME -g GROUP --write-config`, or "
        "pass the workspace's subscription, resource group and name explicitly")


def _azure_only(name: str, reason: str, alternative: str | None = None):
    from .._cloud_only import cloud_only_function
    return cloud_only_function("azureml.core.workspace.Workspace", name, reason, alternative)


_KEYS = "the keys of a workspace's Azure storage account, container registry and App Insights"
_CONNECTIONS = "workspace connections are credentials kept by the Azure workspace service"
_ENDPOINTS = "private endpoints are Azure networking"
for _name, _reason, _alternative in (
        ("update", "friendly name, description, tags, image build compute, identities and "
                   "network access are settings of the Azure workspace resource; a local "
                   "workspace has none of them", None),
        ("sync_keys", _KEYS + " exist only in Azure", None),
        ("list_keys", _KEYS + " exist only in Azure", None),
        ("diagnose_workspace", "it diagnoses the Azure resources behind a workspace",
         "`amlocal workspace show` and `amlocal env base` show the local set-up"),
        ("get_default_keyvault", "workspace secrets live in the workspace's Azure Key Vault",
         "run.get_secret(name) reads the environment variable `name`; pass it to steps with "
         "runconfig.environment_variables"),
        ("update_dependencies", "it replaces the Azure resources (container registry, storage, "
                                "Key Vault) a workspace depends on", None),
        ("add_private_endpoint", _ENDPOINTS, None),
        ("delete_private_endpoint_connection", _ENDPOINTS, None),
        ("set_connection", _CONNECTIONS, "pass credentials to steps as environment variables"),
        ("get_connection", _CONNECTIONS, "pass credentials to steps as environment variables"),
        ("list_connections", _CONNECTIONS, "pass credentials to steps as environment variables"),
        ("delete_connection", _CONNECTIONS, None)):
    setattr(Workspace, _name, _azure_only(_name, _reason, _alternative))
del _name, _reason, _alternative
