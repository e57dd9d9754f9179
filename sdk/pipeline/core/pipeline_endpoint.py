"""``azureml.pipeline.core.pipeline_endpoint``: PipelineEndpoint, a stable name and REST URL in
front of the versions of a published pipeline.

Versions are strings ("0", "1", ...; the pipeline an endpoint is published with is "0" and the
default), compared as strings, as on Azure (``get_pipeline(1)`` with an int finds nothing).
Endpoints are kept in the home's store (``amlocal.store.sql_endpoints``); every change reads the
stored endpoint, changes it and writes it back in one transaction, as Azure's read-modify-write.
``endpoint`` is an http URL on the home's studio server (``.../PipelineRuns/PipelineEndpointSubmit
/Id/{id}``) that runs the default version; a ``/{version}`` suffix, ``?pipelineVersion=`` or a
``PipelineVersion`` body key runs another. Submissions go through ``PublishedPipeline``'s one
submission path.

Deliberate differences: ``swaggerurl`` is the studio server's OpenAPI document (Azure serves one
per endpoint); an unknown id or name raises NotFoundError (Azure's SDK raises its service's HTTP
error); ``submit`` reads the stored status (Azure checks the status cached in the object), so an
endpoint disabled elsewhere refuses at once.
"""
from __future__ import annotations

import logging
from datetime import datetime

from ...errors import NotFoundError, UserErrorException
from .published import PipelineDisabledError, PublishedPipeline, _ensure_server, _service_url

_log = logging.getLogger(__name__)


def _submit_pipeline_endpoint(pipeline_endpoint, workspace, experiment_name, **kwargs):
    """``Experiment.submit(endpoint, pipeline_parameters=..., parent_run_id=...,
    pipeline_version=...)`` (Azure's submit function; the old ``pipeline_params`` key is read
    with a warning; other keys are ignored, as on Azure)."""
    params = kwargs.get("pipeline_parameters")
    if "pipeline_params" in kwargs:
        _log.warning("The 'pipeline_params' argument is deprecated. Please use "
                     "'pipeline_parameters' instead.")
        params = kwargs["pipeline_params"] if params is None else params
    return pipeline_endpoint.submit(experiment_name=experiment_name, pipeline_parameters=params,
                                    parent_run_id=kwargs.get("parent_run_id"),
                                    pipeline_version=kwargs.get("pipeline_version"))


class PipelineIdVersion:
    """The id of the published pipeline behind one version of an endpoint."""

    def __init__(self, version, pipeline_id):
        self._version = version
        self._pipeline_id = pipeline_id

    version = property(lambda self: self._version)
    pipeline_id = property(lambda self: self._pipeline_id)

    def __eq__(self, other) -> bool:
        return isinstance(other, PipelineIdVersion) and \
            (self.version, self.pipeline_id) == (other.version, other.pipeline_id)

    def __hash__(self) -> int:
        return hash((self.version, self.pipeline_id))

    def __repr__(self) -> str:
        return f"PipelineIdVersion(Version: {self.version},\nPipelineId: {self.pipeline_id})"


class PipelineVersion:
    """One version of an endpoint with its PublishedPipeline."""

    def __init__(self, version, pipeline):
        self._version = version
        self._pipeline = pipeline

    version = property(lambda self: self._version)
    pipeline = property(lambda self: self._pipeline)

    def __repr__(self) -> str:
        return f"PipelineVersion(version: {self.version},\npipeline: {self.pipeline.id})"


class PipelineEndpoint:
    """A pipeline workflow triggered from one URL while its published pipelines change.

    Made by :meth:`publish` or read by :meth:`get` / :meth:`list`; the constructor is internal
    (Azure's signature)."""

    def __init__(self, workspace, id, name, description, status, default_version, endpoint,
                 pipeline_version_list, _pipeline_endpoint_provider=None,
                 _published_pipeline_provider=None, _swaggerurl=None):
        self._workspace = workspace
        self._id = id
        self._name = name
        self._description = description
        self._status = status
        self._default_version = default_version
        self._endpoint = endpoint
        self._pipeline_version_list = pipeline_version_list
        self._swaggerurl = _swaggerurl

    @classmethod
    def _from_info(cls, workspace, info) -> "PipelineEndpoint":
        obj = cls(workspace, info.id, info.name, info.description, info.status,
                  info.default_version, None,
                  [PipelineIdVersion(v.version, v.pipeline_id) for v in info.versions])
        obj._info = info
        return obj

    def _refresh(self, info=None) -> "PipelineEndpoint":
        info = info or self._workspace._store.get_pipeline_endpoint(self._id)
        if info is None:
            raise NotFoundError(f"pipeline endpoint {self._id} no longer exists")
        self._info = info
        self._name, self._description, self._status = info.name, info.description, info.status
        self._default_version = info.default_version
        self._pipeline_version_list = [PipelineIdVersion(v.version, v.pipeline_id)
                                       for v in info.versions]
        return self

    # -- properties -------------------------------------------------------------------------
    id = property(lambda self: self._id)
    name = property(lambda self: self._name)
    description = property(lambda self: self._description)
    status = property(lambda self: self._status)
    default_version = property(lambda self: self._default_version)
    pipeline_version_list = property(lambda self: self._pipeline_version_list)

    @property
    def endpoint(self) -> str:
        """The REST URL that runs the default version (``POST`` with Azure's body and a bearer
        key); reading it starts the home's studio server when none runs."""
        return (f"{_service_url(self._workspace)}/PipelineRuns/PipelineEndpointSubmit/Id/"
                f"{self._id}")

    @property
    def swaggerurl(self) -> str:
        """The studio server's OpenAPI document (Azure serves a per-endpoint Swagger)."""
        return _service_url(self._workspace).split("/pipelines/v1.0/", 1)[0] + "/openapi.json"

    # -- creating and reading -----------------------------------------------------------------
    @staticmethod
    def publish(workspace, name, description, pipeline, _workflow_provider=None,
                _service_endpoint=None) -> "PipelineEndpoint":
        """A new endpoint named ``name`` (unique in the workspace) whose version "0" is
        ``pipeline``: a PublishedPipeline, or a Pipeline published first as
        ``<name>-<MM-DD-YYYY-HH-MM>-Pipeline``. Starts the studio server when none runs."""
        from .pipeline import Pipeline
        store = workspace._store
        if name is not None and store.find_pipeline_endpoint(workspace._id, name) is not None:
            raise ValueError("PipelineEndpoint already exists with the given name. Please "
                             "choose a unique value.")
        if type(pipeline) not in (Pipeline, PublishedPipeline):
            raise ValueError("pipeline should be either type Pipeline or PublishedPipeline")
        if type(pipeline) is Pipeline:
            pipeline_name = f"{name}-{datetime.now().strftime('%m-%d-%Y-%H-%M')}-Pipeline"
            pipeline = pipeline.publish(name=pipeline_name,
                                        description="Description for " + pipeline_name)
        _published_in(workspace, pipeline.id)
        from ...store.sql_endpoints import PipelineEndpointNameTaken
        try:
            info = store.create_pipeline_endpoint(workspace._id, name, description, pipeline.id)
        except PipelineEndpointNameTaken:
            raise ValueError("PipelineEndpoint already exists with the given name. Please "
                             "choose a unique value.") from None
        _ensure_server()
        return PipelineEndpoint._from_info(workspace, info)

    @staticmethod
    def get(workspace, id=None, name=None, _workflow_provider=None,
            _service_endpoint=None) -> "PipelineEndpoint":
        """The endpoint with this id, else with this name; NotFoundError when none."""
        store = workspace._store
        if id is not None:
            info = store.get_pipeline_endpoint(id)
            if info is None or info.workspace_id != workspace._id:
                raise NotFoundError(f"no pipeline endpoint with id {id} in workspace "
                                    f"'{workspace.name}'")
            return PipelineEndpoint._from_info(workspace, info)
        if name is not None:
            info = store.find_pipeline_endpoint(workspace._id, name)
            if info is None:
                known = ", ".join(sorted(i.name for i in store.list_pipeline_endpoints(
                    workspace._id))) or "(none)"
                raise NotFoundError(f"no pipeline endpoint named '{name}' in workspace "
                                    f"'{workspace.name}'. Known endpoints: {known}")
            return PipelineEndpoint._from_info(workspace, info)
        raise Exception("Please, enter either id or name to get PipelineEndpoint")

    @staticmethod
    def list(workspace, active_only=True, max_results=100, _workflow_provider=None,
             _service_endpoint=None) -> list:
        """The workspace's endpoints (only Active ones unless ``active_only=False``), newest
        first, at most ``max_results``."""
        infos = workspace._store.list_pipeline_endpoints(workspace._id, active_only=active_only)
        return [PipelineEndpoint._from_info(workspace, i) for i in infos[:max_results]]

    @staticmethod
    def get_all(workspace, active_only=True, _workflow_provider=None, _service_endpoint=None):
        """Deprecated alias of :meth:`list` (as on Azure, with its warning)."""
        logging.warning("PipelineEndpoint.get_all(workspace) is being deprecated. "
                        "Use PipelineEndpoint.list(workspace) instead.")
        return PipelineEndpoint.list(workspace, active_only=active_only)

    # -- versions -----------------------------------------------------------------------------
    def get_default_version(self) -> str:
        return self._default_version

    def get_pipeline(self, version=None) -> PublishedPipeline:
        """The PublishedPipeline of ``version`` (a str), or of the default version."""
        if version is None:
            version = self._default_version
        for item in self._pipeline_version_list:
            if item.version == version:
                return PublishedPipeline.get(self._workspace, item.pipeline_id)
        raise ValueError(f"Version {version}, pipeline not found in pipelineEndpoint {self.id}")

    def list_versions(self, _workflow_provider=None, _service_endpoint=None) -> list:
        """``[PipelineVersion(version, pipeline)]``, oldest version first."""
        return [PipelineVersion(item.version, PublishedPipeline.get(self._workspace, item.pipeline_id))
                for item in self._pipeline_version_list]

    def get_all_versions(self, _workflow_provider=None, _service_endpoint=None) -> list:
        logging.warning("get_all_versions() is being deprecated. Use list_versions() instead.")
        return self.list_versions()

    def list_pipelines(self, active_only=True, _workflow_provider=None,
                       _service_endpoint=None) -> list:
        """The PublishedPipelines of this endpoint's versions (only Active ones unless
        ``active_only=False``)."""
        pipelines = [PublishedPipeline.get(self._workspace, item.pipeline_id)
                     for item in self._refresh().pipeline_version_list]
        return [p for p in pipelines if not active_only or p.status == "Active"]

    def get_all_pipelines(self, active_only=True, _workflow_provider=None, _service_endpoint=None):
        logging.warning("get_all_pipelines() is being deprecated. Use list_pipelines() instead.")
        return self.list_pipelines(active_only=active_only)

    def add(self, pipeline) -> None:
        """Add a published pipeline as the next version; the default does not change."""
        self._add(pipeline, make_default=False)

    def add_default(self, pipeline) -> None:
        """Add a published pipeline as the next version and make it the default."""
        self._add(pipeline, make_default=True)

    def _add(self, pipeline, make_default: bool) -> None:
        _published_in(self._workspace, pipeline.id)
        try:
            info = self._workspace._store.add_pipeline_endpoint_version(
                self._id, pipeline.id, make_default=make_default)
        except NotFoundError:
            raise
        except UserErrorException as exc:
            raise ValueError(str(exc)) from None
        self._refresh(info)

    def set_default_version(self, version) -> None:
        """Make ``version`` (a str in the version list) the default."""
        if not any(item.version == version for item in self._pipeline_version_list):
            raise ValueError(f"Cannot set version {version}, does not exist in pipeline endpoint "
                             f"{self.id}. Please, use add() or add_default() to add ")
        self._refresh(self._workspace._store.update_pipeline_endpoint(
            self._id, default_version=version))

    def set_default(self, pipeline) -> None:
        """Make the version of ``pipeline`` (a PublishedPipeline already added) the default."""
        found = [item.version for item in self._pipeline_version_list
                 if item.pipeline_id == pipeline.id]
        if not found:
            raise ValueError(f"Cannot set pipeline, pipeline id {pipeline.id} does not exist in "
                             f"pipeline endpoint {self.id}. Please, use add() or add_default() "
                             "to add ")
        self._refresh(self._workspace._store.update_pipeline_endpoint(
            self._id, default_version=found[-1]))

    # -- name and status ----------------------------------------------------------------------
    def set_name(self, name) -> None:
        self._update(name=name)

    def enable(self) -> None:
        """Set the endpoint Active (it accepts submissions)."""
        self._update(status="Active")

    def disable(self) -> None:
        """Set the endpoint Disabled (it refuses submissions)."""
        self._update(status="Disabled")

    def archive(self) -> None:
        """Rename the endpoint to a fresh uuid (freeing its name) and disable it, as Azure."""
        import uuid
        self._update(name=str(uuid.uuid4()), status="Disabled")

    def reactivate(self, name) -> "PipelineEndpoint":
        """Give an archived endpoint a name and make it Active; returns the endpoint."""
        self._update(name=name, status="Active")
        return PipelineEndpoint._from_info(self._workspace, self._info)

    def _update(self, **fields) -> None:
        from ...store.sql_endpoints import PipelineEndpointNameTaken
        try:
            info = self._workspace._store.update_pipeline_endpoint(self._id, **fields)
        except PipelineEndpointNameTaken:
            raise ValueError("PipelineEndpoint already exists with the given name. Please "
                             "choose a unique value.") from None
        self._refresh(info)

    # -- running ------------------------------------------------------------------------------
    def submit(self, experiment_name, pipeline_parameters=None, parent_run_id=None,
               pipeline_version=None):
        """Run ``pipeline_version`` (a str; the default version when None) in the experiment;
        returns its PipelineRun. A Disabled endpoint raises ValueError (Azure's message)."""
        from ...core.experiment import Experiment
        return self._submit(Experiment(self._workspace, experiment_name), pipeline_parameters,
                            parent_run_id, pipeline_version)

    def _submit(self, experiment, pipeline_parameters=None, parent_run_id=None,
                pipeline_version=None, _properties=None, _ignore_unknown=False):
        """The endpoint's one submission path (Python, ``Experiment.submit``, REST and
        schedules): the version's PublishedPipeline submits, tagged with this endpoint.
        ``_ignore_unknown``: see ``PublishedPipeline._submit_to_experiment`` (REST)."""
        self._refresh()
        if self.status != "Active":
            raise PipelineDisabledError(f"Status must be Active, its {self.status}")
        version = self._default_version if pipeline_version is None else pipeline_version
        if not isinstance(version, str):
            raise UserErrorException(
                f"pipeline_version must be a str such as '{self._default_version}' (versions are "
                f"strings on Azure), not {type(version).__name__} {version!r}")
        pipeline = self.get_pipeline(version)
        properties = {"azureml.pipelineEndpointId": self._id,
                      "azureml.pipelineEndpointVersion": version, **(_properties or {})}
        return pipeline._submit_to_experiment(experiment, pipeline_parameters=pipeline_parameters,
                                              parent_run_id=parent_run_id,
                                              _properties=properties,
                                              _ignore_unknown=_ignore_unknown)

    def _submit_to_experiment(self, experiment, **kwargs):
        """``Experiment.submit(endpoint, ...)``: the keys Azure's submit function reads."""
        params = kwargs.get("pipeline_parameters")
        if "pipeline_params" in kwargs:
            _log.warning("The 'pipeline_params' argument is deprecated. Please use "
                         "'pipeline_parameters' instead.")
            params = kwargs["pipeline_params"] if params is None else params
        return self._submit(experiment, params, kwargs.get("parent_run_id"),
                            kwargs.get("pipeline_version"))

    # -- display ------------------------------------------------------------------------------
    def __str__(self) -> str:
        versions = [(v.version, v.pipeline_id) for v in self._pipeline_version_list]
        return (f"PipelineEndpoint(Name: {self.name},\nId: {self.id},\nDescription: "
                f"{self.description},\nPipelines: {versions})")

    __repr__ = __str__


def _published_in(workspace, pipeline_id: str) -> None:
    """A pipeline of another workspace cannot be put behind this workspace's endpoint."""
    info = workspace._store.get_pipeline(pipeline_id)
    if info is None or info.workspace_id != workspace._id:
        raise ValueError(f"published pipeline {pipeline_id} is not in workspace "
                         f"'{workspace.name}'; publish the pipeline in this workspace first")
