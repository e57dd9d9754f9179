"""Model: registered model files, versioned 1, 2, 3 ... per name in a workspace.

Mirrors ``azureml.core.model.Model`` (registration, lookup, listing, download and
``get_model_path``), without deployment. Deliberate differences from Azure:

* the files live in the amlocal store (``AMLOCAL_HOME/models``), so ``url`` is a ``file://`` URI
  of the stored copy on the host (``aml://model/<name>:<version>/<entry>`` when the store is
  reached through the run service);
* ``datasets`` (at registration or with ``add_dataset_references``) are recorded; a model read
  back rebuilds them. ``sample_input_dataset``, ``sample_output_dataset`` and
  ``resource_configuration`` are kept on the returned object only, and
  ``Model.list(dataset_id=...)`` raises;
* tags can be added and removed and properties added (``update_tags_properties``, ``add_tags``,
  ``remove_tags``, ``add_properties``); ``update`` and ``delete`` raise UserErrorException for
  now.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from datetime import datetime
from pathlib import Path, PurePosixPath

from .._cloud_only import cloud_only_class, cloud_only_function
from ..errors import ModelNotFoundException, UserErrorException, WebserviceException
from ..store.entities import parse_utc
from ._model_extras import _record_datasets, _recorded_datasets, print_configuration
from ._workspace_object import WorkspaceObject
from .webservice import InferenceConfig  # noqa: F401 - Azure's import path: azureml.core.model

_PACKAGE = "model packages are images built in the workspace's Azure container registry"
_LOCALLY = ("Model.deploy(..., deployment_config=LocalWebservice.deploy_configuration()) builds "
            "and serves the model's image locally")

_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-\._]{0,254}$")
MODELS_DIR_NAME = "azureml-models"


def _models_dir() -> str:
    """Azure's cache folder: ``$AML_APP_ROOT/azureml-models`` (relative to the cwd when unset)."""
    return os.path.join(os.environ.get("AML_APP_ROOT", ""), MODELS_DIR_NAME)


def _check_name(name) -> None:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise WebserviceException(
            f"Error, provided model name {name!r} is invalid. It must only consist of letters, "
            "numbers, dashes, periods, or underscores, start with a letter or number, and be "
            "between 1 and 255 characters long.")


def _check_dict(value, what: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise WebserviceException(f"{what} must be a dict, not {type(value).__name__}")
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise WebserviceException(f"Error with JSON serialization for {what.lower()}, be sure "
                                  f"they are properly formatted: {exc}") from exc


def _matches(values: dict, filters) -> bool:
    """Azure's tag/property filters: a list of ``'key'`` or ``['key', 'value']``."""
    for item in filters or []:
        if isinstance(item, (list, tuple)):
            key, value = item[0], item[1]
            if key not in values or str(values[key]) != str(value):
                return False
        elif item not in values:
            return False
    return True


def _unsupported(what: str) -> UserErrorException:
    return UserErrorException(
        f"{what} is not supported by amlocal yet: a registered model's tags, properties and "
        "description are fixed at registration. Register a new version with "
        "Model.register(..., tags=..., properties=..., description=...) instead")


class Model(WorkspaceObject):
    """``Model(workspace, name=None, id=None, tags=None, properties=None, version=None,
    run_id=None, model_framework=None, expand=True)``: a registered model.

    Returns the given version (``version=`` or ``id="name:version"``), else the latest version
    matching every filter. Raises WebserviceException ("ModelNotFound: ...") when none matches.
    """

    _OBJECT_TYPE = "model"

    class Framework:
        """Model framework names, as ``azureml.core.Model.Framework``."""

        CUSTOM = "Custom"
        MULTI = "Multi"
        ONNX = "Onnx"
        PYTORCH = "Pytorch"
        SCIKITLEARN = "ScikitLearn"
        TENSORFLOW = "TensorFlow"
        TFKERAS = "TfKeras"

    def __init__(self, workspace, name: str | None = None, id: str | None = None,
                 tags: list | None = None, properties: list | None = None,
                 version: int | None = None, run_id: str | None = None,
                 model_framework: str | None = None, expand: bool = True, **kwargs):
        self.workspace = workspace
        self._info = kwargs.get("_info")
        self.run = None
        self.datasets: dict = {}
        self.sample_input_dataset = None
        self.sample_output_dataset = None
        self.resource_configuration = None
        if self._info is None and workspace is not None:
            self._info = self._get(workspace, name, id, tags, properties, version,
                                   model_framework, run_id)
            if self._info is None:
                details = ", ".join(f"{k} {v}" for k, v in (
                    ("name", name), ("id", id), ("tags", tags), ("properties", properties),
                    ("version", version), ("run_id", run_id), ("model_framework", model_framework))
                    if v)
                known = sorted({m.name for m in workspace._store.list_models(workspace._id)})
                raise WebserviceException(
                    f"ModelNotFound: Model with {details} not found in provided workspace "
                    f"'{workspace.name}'. Its models: {', '.join(known) or '(none)'}; list them "
                    "with Model.list(ws)")
        if self._info is not None:
            self.datasets = _recorded_datasets(workspace, self._info)

    # -- lookup -----------------------------------------------------------------------------
    @staticmethod
    def _get(workspace, name, id, tags, properties, version, model_framework, run_id):
        if not id and not name:
            raise WebserviceException("Error, one of id or name must be provided.")
        store = workspace._store
        if id:
            name, _, id_version = str(id).partition(":")
            if id_version:
                try:
                    return store.get_model(workspace._id, name, int(id_version))
                except ValueError:
                    raise WebserviceException(
                        f"model id {id!r} is not valid: use '<name>:<version>', e.g. "
                        f"'{name}:1'") from None
            return store.get_model(workspace._id, name)
        if version is not None:
            return store.get_model(workspace._id, name, int(version))
        found = Model._query(workspace, name, tags, properties, run_id, model_framework)
        return max(found, key=lambda m: m.version) if found else None

    @staticmethod
    def _query(workspace, name=None, tags=None, properties=None, run_id=None,
               model_framework=None) -> list:
        infos = workspace._store.list_models(workspace._id, name)
        return [m for m in infos
                if _matches(m.tags, tags) and _matches(m.properties, properties)
                and (run_id is None or m.run_id == run_id)
                and (model_framework is None or m.framework == model_framework)]

    @staticmethod
    def list(workspace, name: str | None = None, tags: list | None = None,
             properties: list | None = None, run_id: str | None = None, latest: bool = False,
             dataset_id: str | None = None, expand: bool = True, page_count: int = 255,
             model_framework: str | None = None) -> list:
        """Models of ``workspace``, by name then newest version first, filtered as Azure's:
        ``tags``/``properties`` are lists of ``'key'`` or ``['key', 'value']``; ``latest`` keeps
        only each name's latest version."""
        if page_count and (page_count < 20 or page_count > 255):
            raise UserErrorException(
                f"Expected page_count value is between 20 and 255. Provided: {page_count}")
        if tags is not None and not isinstance(tags, list):
            raise UserErrorException(
                'Expected tags must be list type. Ex. ["key", ["key2", "key2 value"]]: provided '
                f"{type(tags)}")
        if dataset_id is not None:
            raise UserErrorException(
                "Model.list(dataset_id=...) is not supported by amlocal: the datasets a model "
                "was registered with are not recorded. Filter by name, tags or properties")
        infos = Model._query(workspace, name, tags, properties, run_id, model_framework)
        if latest:
            newest: dict = {}
            for info in infos:
                if info.name not in newest or info.version > newest[info.name].version:
                    newest[info.name] = info
            infos = [i for i in infos if newest[i.name] is i]
        return [Model(workspace, _info=info) for info in infos]

    # -- registration -----------------------------------------------------------------------
    @staticmethod
    def register(workspace, model_path: str, model_name: str, tags: dict | None = None,
                 properties: dict | None = None, description: str | None = None,
                 datasets: list | None = None, model_framework: str | None = None,
                 model_framework_version: str | None = None, child_paths: list | None = None,
                 sample_input_dataset=None, sample_output_dataset=None,
                 resource_configuration=None) -> "Model":
        """Register the local file or folder ``model_path`` (relative to the current directory)
        as the next version of ``model_name``; print ``Registering model <name>``.

        Inside a step the model records the step's run as its ``run_id``. ``child_paths``
        (with a folder) keeps only those files and folders of it.

        Raises FileNotFoundError for a missing path, WebserviceException for an invalid name,
        tags or properties.
        """
        from .. import _context
        ctx = _context.job_context()
        model = Model._register(workspace, model_path, model_name, run_id=ctx.run_id if ctx else None,
                                tags=tags, properties=properties, description=description,
                                model_framework=model_framework,
                                model_framework_version=model_framework_version,
                                child_paths=child_paths)
        if datasets:
            _record_datasets(model, datasets, inside_job=ctx is not None)
        model.sample_input_dataset = sample_input_dataset
        model.sample_output_dataset = sample_output_dataset
        model.resource_configuration = resource_configuration
        return model

    @staticmethod
    def _register(workspace, model_path: str, model_name: str, *, run_id: str | None = None,
                  tags=None, properties=None, description=None, model_framework=None,
                  model_framework_version=None, child_paths=None) -> "Model":
        """Registration with an explicit ``run_id`` (``Run.register_model`` passes its run)."""
        from ..store.entities import ModelInfo
        _check_name(model_name)
        if model_framework is None and model_framework_version is not None:
            raise WebserviceException(
                "Model framework version cannot be provided without a valid framework")
        tags = _check_dict(tags, "Tags")
        properties = _check_dict(properties, "Properties")
        source = Path(os.path.abspath(model_path))
        if not source.exists():
            raise FileNotFoundError(
                f"Error, provided model path \"{model_path}\" cannot be found (looked for "
                f"{source}; a relative model_path is taken from the current directory "
                f"{os.getcwd()})")
        print(f"Registering model {model_name}")
        info = ModelInfo(workspace_id=workspace._id, name=model_name, version=0, path=source.name,
                         run_id=run_id, description=description, tags=tags,
                         properties=properties, framework=model_framework,
                         framework_version=model_framework_version)
        if not child_paths:
            registered = workspace._store.register_model(info, source)
        else:
            with tempfile.TemporaryDirectory(prefix="amlocal-model-") as staging:
                registered = workspace._store.register_model(
                    info, _stage_children(source, child_paths, Path(staging)))
        return Model(workspace, _info=registered)

    # -- attributes -------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return f"{self._info.name}:{self._info.version}"

    @property
    def name(self) -> str:
        return self._info.name

    @property
    def version(self) -> int:
        return self._info.version

    @property
    def run_id(self) -> str | None:
        return self._info.run_id

    @property
    def tags(self) -> dict:
        return dict(self._info.tags or {})

    @property
    def properties(self) -> dict:
        return dict(self._info.properties or {})

    @property
    def description(self) -> str | None:
        return self._info.description

    @property
    def created_time(self) -> datetime | None:
        return parse_utc(self._info.created_at)

    @property
    def model_framework(self) -> str | None:
        return self._info.framework

    @property
    def model_framework_version(self) -> str | None:
        return self._info.framework_version

    @property
    def experiment_name(self) -> str | None:
        """The experiment of the run that registered the model (None without a run)."""
        if not self._info.run_id:
            return None
        run = self.workspace._store.get_run(self._info.run_id)
        return run.experiment if run is not None else None

    @property
    def created_by(self) -> dict:
        return {}

    @property
    def mime_type(self) -> str:
        return "application/octet-stream"

    @property
    def unpack(self) -> bool:
        return False

    @property
    def parent_id(self) -> str | None:
        return None

    @property
    def derived_model_ids(self) -> list:
        return []

    @property
    def url(self) -> str:
        """Where the registered files are: a ``file://`` URI on the host, or their URL on the
        shared location (``AMLOCAL_ARTIFACTS_URL``, e.g. ``az://container/prefix/models/...``)."""
        files = getattr(self.workspace._store, "files", None)
        if files is not None and hasattr(files, "model_url"):
            return files.model_url(self._info.workspace_id, self.name, self.version,
                                   self._info.path)
        return f"aml://model/{self.id}/{self._info.path}"

    # -- files ------------------------------------------------------------------------------
    def download(self, target_dir: str = ".", exist_ok: bool = False,
                 exists_ok: bool | None = None) -> str:
        """Copy the model's file or folder into ``target_dir``; return its path.

        An existing file or folder of that name raises WebserviceException unless
        ``exist_ok``; then files are overwritten (other files in a folder stay)."""
        if exists_ok is not None:
            exist_ok = exists_ok
        target = os.path.join(target_dir, self._info.path)
        if os.path.exists(target) and not exist_ok:
            raise WebserviceException(
                f"File already exists. To overwrite, set exist_ok to True. {target}")
        self.workspace._store.fetch_model(self._info, Path(target_dir))
        return target

    @staticmethod
    def get_model_path(model_name: str, version: int | None = None, _workspace=None) -> str:
        """The local path of a model's file or folder, as Azure finds it.

        The workspace is ``_workspace`` or, inside a job, the job's workspace. With
        ``version=None``: download the latest version into
        ``azureml-models/<name>/<version>/`` when there is a workspace, else use that cache
        (its highest version) or ``./<model_name>``. With a version: the cache first (or
        ``./<model_name>``), then a download. Raises ModelNotFoundException.
        """
        if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
            raise WebserviceException("version should be an int")
        workspace = _workspace
        if workspace is None:
            from .. import _context
            ctx = _context.job_context()
            if ctx is not None:
                from .workspace import Workspace
                workspace = Workspace(ctx.subscription_id, ctx.resource_group, ctx.workspace_name)
        if version is not None:
            try:
                return Model._local_path(model_name, version)
            except ModelNotFoundException:
                if workspace is None:
                    raise  # a WebserviceException too, as Azure raises here
                return Model._remote_path(model_name, version, workspace)
        if workspace is not None:
            return Model._remote_path(model_name, None, workspace)
        return Model._local_path(model_name, None)

    @staticmethod
    def _local_path(model_name: str, version: int | None) -> str:
        if model_name is None:
            raise WebserviceException("model_name is None")
        root = _models_dir()
        folder = os.path.join(root, model_name)
        if os.path.isdir(folder):
            versions = [int(v) for v in os.listdir(folder) if v.isdigit()]
            chosen = version if version is not None else (max(versions) if versions else None)
            candidate = os.path.join(folder, str(chosen))
            if chosen is not None and os.path.isdir(candidate):
                entries = [e for e in os.listdir(candidate) if not e.startswith(".tmp-")]
                if len(entries) != 1:
                    raise WebserviceException(
                        f"Dir {candidate} can contain only 1 file or folder. Found {entries}")
                return os.path.join(candidate, entries[0])
        if os.path.exists(model_name):
            return model_name
        raise ModelNotFoundException(
            f"Model {model_name} not found in cache at {root} or in current working directory "
            f"{os.getcwd()}. Pass _workspace= (or run inside a job) to download it")

    @staticmethod
    def _remote_path(model_name: str, version: int | None, workspace) -> str:
        try:
            model = Model(workspace, name=model_name, version=version)
        except WebserviceException as exc:
            if "ModelNotFound" not in str(exc):
                raise
            known = sorted(f"{m.name}/{m.version}" for m in Model.list(workspace))
            raise ModelNotFoundException(
                f"Model/Version {model_name}/{version} not found in workspace. {known}") from exc
        target_dir = os.path.join(_models_dir(), model_name, str(model.version))
        path = model.download(target_dir, exist_ok=True)
        if not os.path.exists(path):
            raise ModelNotFoundException(f"Expected model path does not exist: {path}. Found "
                                         f"items in dir: {os.listdir(target_dir)}")
        return path

    @staticmethod
    def deploy(workspace, name: str, models: list, inference_config=None, deployment_config=None,
               deployment_target=None, overwrite: bool = False, show_output: bool = False):
        """Deploy ``models`` as a web service; locally a LocalWebservice (see
        ``amlocal.core.webservice``). ``deployment_target`` must be None (no AKS/ACI here)."""
        from .webservice import deploy
        if deployment_target is not None:
            raise UserErrorException("amlocal deploys to a local web service only; pass "
                                     "deployment_config=LocalWebservice.deploy_configuration(port)")
        return deploy(workspace, name, list(models), inference_config, deployment_config,
                      overwrite=overwrite, show_output=show_output)

    # -- serialization and representation ----------------------------------------------------
    def serialize(self) -> dict:
        """The model as Azure's JSON dict."""
        created = self.created_time
        return {
            "createdTime": created.isoformat() if created else None,
            "createdBy": self.created_by, "description": self.description, "id": self.id,
            "mimeType": self.mime_type, "name": self.name, "framework": self.model_framework,
            "frameworkVersion": self.model_framework_version, "tags": self.tags,
            "properties": self.properties, "unpack": self.unpack, "url": self.url,
            "version": self.version, "experimentName": self.experiment_name,
            "runId": self.run_id, "runDetails": str(self.run),
            "datasets": [{"name": r["scenario"], "id": r["id"]} for r in self._info.datasets or []],
            "resourceConfiguration": None, "sampleInputDatasetId": None,
            "sampleOutputDatasetId": None}

    @staticmethod
    def deserialize(workspace, model_payload: dict) -> "Model":
        """The model ``model_payload['id']`` of ``workspace`` (read back from the store)."""
        return Model(workspace, id=model_payload["id"])

    def update_tags_properties(self, add_tags: dict | None = None, remove_tags=None,
                               add_properties: dict | None = None) -> None:
        """Add and remove tags and add properties of this model version, in the workspace and
        on this object. Properties are add-only: changing an existing one raises
        WebserviceException, as Azure does."""
        add_tags = _check_dict(add_tags, "Tags") if add_tags is not None else None
        add_properties = (_check_dict(add_properties, "Properties")
                          if add_properties is not None else None)
        for key, value in (add_properties or {}).items():
            if key in self.properties and self.properties[key] != value:
                raise WebserviceException(f"Error, properties are immutable: property {key!r} "
                                          f"is already {self.properties[key]!r}")
        for key, value in (add_tags or {}).items():
            if key in self.tags:
                print(f"Replacing tag {key} -> {self.tags[key]} with {key} -> {value}")
        if remove_tags is not None and not isinstance(remove_tags, list):
            remove_tags = [remove_tags]
        for key in remove_tags or []:
            if key not in self.tags:
                print(f"Tag with key {key} not found.")
        self._info = self.workspace._store.update_model(
            self._info.workspace_id, self.name, self.version, add_tags=add_tags,
            remove_tags=remove_tags, add_properties=add_properties)

    def add_tags(self, tags: dict) -> None:
        self.update_tags_properties(add_tags=tags)
        print("Model tag add operation complete.")

    def remove_tags(self, tags: list) -> None:
        self.update_tags_properties(remove_tags=tags)
        print("Model tag remove operation complete.")

    def add_properties(self, properties: dict) -> None:
        self.update_tags_properties(add_properties=properties)
        print("Model properties add operation complete.")

    def add_dataset_references(self, datasets) -> None:
        """Record ``[(scenario, dataset), ...]`` as datasets of this model version (e.g.
        ``[('training', train_ds)]``); they are read back with the model (``model.datasets``)."""
        from .dataset import Dataset
        references = []
        for pair in datasets or []:
            if not (isinstance(pair, (tuple, list)) and len(pair) == 2
                    and isinstance(pair[1], Dataset)):
                raise WebserviceException(
                    f"Invalid dataset reference {pair!r}: give (scenario name, Dataset) pairs, "
                    "e.g. [('training', dataset)]")
            scenario, dataset = pair
            references.append({"scenario": str(scenario), "id": dataset.id,
                               "name": dataset.name, "version": dataset.version,
                               "definition": dataset._to_definition()})
        self._info = self.workspace._store.update_model(
            self._info.workspace_id, self.name, self.version, add_datasets=references)
        for scenario, dataset in datasets or []:
            self.datasets.setdefault(str(scenario), []).append(dataset)

    print_configuration = staticmethod(print_configuration)
    package = staticmethod(cloud_only_function("azureml.core.model.Model", "package", _PACKAGE,
                                               _LOCALLY))
    profile = staticmethod(cloud_only_function(
        "azureml.core.model.Model", "profile",
        "model profiling runs the model on Azure's profiling service to recommend CPU and memory",
        "deploy locally (LocalWebservice) and time service.run(...) calls"))
    get_sas_urls = cloud_only_function(
        "azureml.core.model.Model", "get_sas_urls",
        "SAS URLs are signed links to the model's files in Azure Blob storage",
        "model.download(target_dir) copies the files; model.url is their file:// location")

    def update(self, tags=None, description=None, sample_input_dataset=None,
               sample_output_dataset=None, resource_configuration=None) -> None:
        raise _unsupported("Model.update")

    def delete(self) -> None:
        raise _unsupported("Model.delete")

    def __eq__(self, other) -> bool:
        return (isinstance(other, Model) and other._info.workspace_id == self._info.workspace_id
                and other.id == self.id)

    def __hash__(self) -> int:
        return hash((self._info.workspace_id, self.id))

    def __repr__(self) -> str:
        return (f"Model(workspace={self.workspace!r}, name={self.name}, id={self.id}, "
                f"version={self.version}, tags={self.tags}, properties={self.properties})")


def _stage_children(source: Path, child_paths: list, staging: Path) -> Path:
    """A copy of folder ``source`` holding only ``child_paths``, under the same name."""
    if not source.is_dir():
        raise WebserviceException(f"child_paths needs model_path to be a folder; {source} is a file")
    root = staging / source.name
    root.mkdir()
    for child in child_paths:
        rel = PurePosixPath(str(child).replace("\\", "/"))
        if rel.is_absolute() or ".." in rel.parts:
            raise WebserviceException(f"child path {child!r} must be a path inside {source}")
        found = source.joinpath(*rel.parts)
        if not found.exists():
            raise WebserviceException(f'Error, provided child path "{child}" cannot be found')
        destination = root.joinpath(*rel.parts)
        destination.parent.mkdir(parents=True, exist_ok=True)
        if found.is_dir():
            shutil.copytree(found, destination, dirs_exist_ok=True)
        else:
            shutil.copy2(found, destination)
    return root


# azureml's module constant: where deployed models are found (``$AML_APP_ROOT/azureml-models``,
# read when the module is imported, as azureml does); Model.get_model_path reads it afresh.
MODELS_DIR = _models_dir()

ModelPackage = cloud_only_class("azureml.core.model", "ModelPackage", _PACKAGE, _LOCALLY)

__all__ = ["InferenceConfig", "MODELS_DIR", "Model", "ModelPackage"]
