"""Page JSON of the studio page's catalog views (``/api/v1/page/...``): what the pipelines,
endpoints, datasets and web services views need beyond the read API.

- ``GET  /workspaces/{ws}/pipelines/{id}/form``: a published pipeline's parameters with their
  types (int, float, bool, string, datapath, dataset), the datastores and registered datasets a
  value may name, and the REST submit path (the form POSTs Azure's body there).
- ``POST /pipelines/{id}/status``: enable or disable a published pipeline (a key required).
- ``GET  /workspaces/{ws}/endpoints``: pipeline endpoints with their versions (which is default).
- ``PUT  /endpoints/{id}/default``: make a version the default (``set_default_version``; a key
  required); ``POST /endpoints/{id}/status``: enable or disable an endpoint (a key required).
- ``GET  /workspaces/{ws}/datasets/lineage``: each registered dataset's versions and the runs
  whose step definition's ``inputDatasets`` name it.
- ``GET  /workspaces/{ws}/services`` and ``/services/{name}/logs``: deployed models and
  pipeline web services with their state, and their logs.

Reads follow the server's read rule (``auth.read_access``); writes need a key
(``auth.require_key``). Unknown ids are 404, bad values 400/422 with a JSON ``detail``.
"""
from __future__ import annotations

import enum
import logging
from typing import Any, Optional

from fastapi import APIRouter, Depends, HTTPException, Path as PathParam, Query, Request
from pydantic import BaseModel, Field

from .auth import read_access, require_key

router = APIRouter(prefix="/api/v1/page", tags=["page"])
log = logging.getLogger(__name__)

MAX_LOG = 200_000


# -- models -------------------------------------------------------------------------------------
class ParameterType(str, enum.Enum):
    int = "int"
    float = "float"
    bool = "bool"
    string = "string"
    datapath = "datapath"
    dataset = "dataset"


class FormParameter(BaseModel):
    name: str
    type: ParameterType
    default: Any = Field(None, description="the scalar default (int, float, bool, string)")
    datastore: Optional[str] = Field(None, description="a DataPath default's datastore")
    path: Optional[str] = Field(None, description="a DataPath default's path on the datastore")
    datasetType: Optional[str] = Field(None, description="FileDataset or TabularDataset")
    datasetName: Optional[str] = Field(None, description="the default dataset's registered name")
    datasetVersion: Optional[int] = Field(None, description="the default dataset's version")


class FormDatasetVersion(BaseModel):
    version: int
    id: str
    type: str


class FormDataset(BaseModel):
    name: str
    versions: list[FormDatasetVersion] = Field(description="newest first")


class PipelineForm(BaseModel):
    id: str
    name: str
    status: str
    description: Optional[str] = None
    defaultExperiment: str = Field(description="the experiment a submission goes to by default")
    submitPath: str = Field(description="POST Azure's PipelineSubmissionInfo here (a key needed)")
    parameters: list[FormParameter]
    datastores: list[str]
    datasets: list[FormDataset]
    steps: list[str]


class StatusChange(BaseModel):
    status: str = Field(pattern="^(Active|Disabled)$", description="Active or Disabled")


class PipelineStatus(BaseModel):
    id: str
    status: str


class EndpointVersion(BaseModel):
    version: str
    pipelineId: str
    pipelineName: Optional[str] = None
    pipelineStatus: Optional[str] = None
    isDefault: bool
    createdUtc: str = ""


class Endpoint(BaseModel):
    id: str
    name: str
    description: Optional[str] = None
    status: str
    defaultVersion: str
    createdUtc: str
    updatedUtc: str
    submitPath: str = Field(description="POST Azure's body here to run the default version")
    versions: list[EndpointVersion] = Field(description="oldest first")


class DefaultVersion(BaseModel):
    version: str = Field(min_length=1, max_length=16)


class LineageRun(BaseModel):
    runId: str
    name: Optional[str] = None
    parentRunId: Optional[str] = None
    experiment: str
    status: str
    createdUtc: str
    input: str = Field(description="the step's input name")
    version: Optional[int] = Field(None, description="the dataset version read, when known")


class DatasetLineage(BaseModel):
    name: str
    versions: list[dict[str, Any]] = Field(description="version, id, createdUtc, type, tags, "
                                                       "description; newest first")
    runs: list[LineageRun] = Field(description="step runs that read it, newest first")


class Service(BaseModel):
    name: str
    kind: str = Field(description="model (a deployed model) or pipeline (a pipeline service)")
    state: str
    scoringUri: Optional[str] = None
    error: Optional[str] = None


class ServiceLogs(BaseModel):
    name: str
    state: str
    text: str
    truncated: bool


# -- helpers -------------------------------------------------------------------------------------
def _store(request: Request):
    return request.app.state.store


def _workspace(request: Request, key: str):
    """The facade Workspace of a workspace id (or unique name)."""
    from ..core.workspace import Workspace
    from .api_read import _find_workspace
    store = _store(request)
    info = _find_workspace(store, key)
    return Workspace(info.subscription_id, info.resource_group, info.name, _store=store,
                     _info=info)


def _workspace_of(request: Request, workspace_id: str):
    """The facade Workspace of a record's workspace (404 when it was deleted meanwhile)."""
    return _workspace(request, workspace_id)


def _service_path(ws) -> str:
    from urllib.parse import quote

    from .api_pipelines import SERVICE
    return SERVICE.format(subscriptionId=quote(ws.subscription_id, safe=""),
                          resourceGroupName=quote(ws.resource_group, safe=""),
                          workspaceName=quote(ws.name, safe=""))


def _parameter(name: str, default) -> FormParameter:
    if isinstance(default, dict) and default.get("kind") == "datapath":
        return FormParameter(name=name, type=ParameterType.datapath,
                             datastore=default.get("datastore"),
                             path=default.get("path_on_datastore") or "")
    if isinstance(default, dict) and default.get("kind") == "dataset":
        definition = default.get("definition") or {}
        registered = definition.get("registered") or {}
        return FormParameter(name=name, type=ParameterType.dataset,
                             datasetType=definition.get("type", "FileDataset"),
                             datasetName=registered.get("name"),
                             datasetVersion=registered.get("version"))
    kind = {bool: ParameterType.bool, int: ParameterType.int,
            float: ParameterType.float}.get(type(default), ParameterType.string)
    return FormParameter(name=name, type=kind,
                         default=default if kind != ParameterType.string else
                         ("" if default is None else str(default)))


def _datasets(store, workspace_id: str) -> list[FormDataset]:
    by_name: dict[str, list] = {}
    for info in store.list_datasets(workspace_id):
        by_name.setdefault(info.name, []).append(info)
    return [FormDataset(name=name, versions=[
        FormDatasetVersion(version=i.version, id=i.id,
                           type=(i.definition or {}).get("type", "FileDataset"))
        for i in sorted(items, key=lambda i: -i.version)])
        for name, items in sorted(by_name.items())]


# -- published pipelines ------------------------------------------------------------------------
@router.get("/workspaces/{workspace}/pipelines/{pipeline_id}/form", response_model=PipelineForm,
            dependencies=[Depends(read_access)])
def pipeline_form(request: Request, workspace: str = PathParam(min_length=1, max_length=256), pipeline_id: str = PathParam(min_length=1, max_length=256)):
    """What the submit form of a published pipeline is built from."""
    from ..pipeline.core.published import PublishedPipeline
    ws = _workspace(request, workspace)
    published = PublishedPipeline.get(ws, pipeline_id)
    graph = published.get_graph() or {}
    store = _store(request)
    return PipelineForm(
        id=published.id, name=published.name, status=published.status,
        description=published.description,
        defaultExperiment=published.default_experiment_name(),
        submitPath=f"{_service_path(ws)}/PipelineRuns/PipelineSubmit/{published.id}",
        parameters=[_parameter(n, d) for n, d in (graph.get("parameters") or {}).items()],
        datastores=[d.name for d in store.list_datastores(ws._id)],
        datasets=_datasets(store, ws._id),
        steps=[str(s.get("name")) for s in graph.get("steps") or []])


@router.post("/pipelines/{pipeline_id}/status", response_model=PipelineStatus)
def set_pipeline_status(request: Request, change: StatusChange, pipeline_id: str = PathParam(min_length=1, max_length=256),
                        _key=Depends(require_key)):
    """Enable (Active) or disable a published pipeline, as ``enable()`` / ``disable()``."""
    from ..pipeline.core.published import PublishedPipeline
    info = _store(request).get_pipeline(pipeline_id)
    if info is None:
        raise HTTPException(404, f"no published pipeline with id {pipeline_id!r}")
    published = PublishedPipeline(_workspace_of(request, info.workspace_id), info)
    published.enable() if change.status == "Active" else published.disable()
    return PipelineStatus(id=published.id, status=published.status)


# -- pipeline endpoints -------------------------------------------------------------------------
def _endpoint_model(store, ws, endpoint) -> Endpoint:
    info = endpoint._info
    versions = []
    for v in info.versions:
        pipeline = store.get_pipeline(v.pipeline_id)
        versions.append(EndpointVersion(
            version=v.version, pipelineId=v.pipeline_id,
            pipelineName=pipeline.name if pipeline else None,
            pipelineStatus=pipeline.status if pipeline else None,
            isDefault=v.version == info.default_version, createdUtc=v.created_at or ""))
    return Endpoint(id=info.id, name=info.name, description=info.description,
                    status=info.status, defaultVersion=info.default_version,
                    createdUtc=info.created_at, updatedUtc=info.updated_at,
                    submitPath=(f"{_service_path(ws)}/PipelineRuns/PipelineEndpointSubmit/Id/"
                                f"{info.id}"),
                    versions=versions)


def _endpoint(request: Request, endpoint_id: str):
    from ..pipeline.core.pipeline_endpoint import PipelineEndpoint
    info = _store(request).get_pipeline_endpoint(endpoint_id)
    if info is None:
        raise HTTPException(404, f"no pipeline endpoint with id {endpoint_id!r}")
    ws = _workspace_of(request, info.workspace_id)
    return ws, PipelineEndpoint._from_info(ws, info)


@router.get("/workspaces/{workspace}/endpoints", response_model=list[Endpoint],
            dependencies=[Depends(read_access)])
def list_endpoints(request: Request, workspace: str = PathParam(min_length=1, max_length=256),
                   active_only: bool = Query(False, description="only Active endpoints")):
    from ..pipeline.core.pipeline_endpoint import PipelineEndpoint
    ws = _workspace(request, workspace)
    store = _store(request)
    found = PipelineEndpoint.list(ws, active_only=active_only, max_results=10_000)
    return [_endpoint_model(store, ws, e) for e in found]


@router.put("/endpoints/{endpoint_id}/default", response_model=Endpoint)
def set_default_version(request: Request, change: DefaultVersion, endpoint_id: str = PathParam(min_length=1, max_length=256),
                        _key=Depends(require_key)):
    """Make ``version`` the endpoint's default (``PipelineEndpoint.set_default_version``)."""
    ws, endpoint = _endpoint(request, endpoint_id)
    try:
        endpoint.set_default_version(change.version)
    except ValueError as exc:
        known = ", ".join(v.version for v in endpoint.pipeline_version_list)
        raise HTTPException(404, f"{exc}; its versions: {known}") from None
    return _endpoint_model(_store(request), ws, endpoint)


@router.post("/endpoints/{endpoint_id}/status", response_model=Endpoint)
def set_endpoint_status(request: Request, change: StatusChange, endpoint_id: str = PathParam(min_length=1, max_length=256),
                        _key=Depends(require_key)):
    """Enable (Active) or disable a pipeline endpoint, as ``enable()`` / ``disable()``."""
    ws, endpoint = _endpoint(request, endpoint_id)
    endpoint.enable() if change.status == "Active" else endpoint.disable()
    return _endpoint_model(_store(request), ws, endpoint)


# -- dataset lineage ----------------------------------------------------------------------------
@router.get("/workspaces/{workspace}/datasets/lineage", response_model=list[DatasetLineage],
            dependencies=[Depends(read_access)])
def dataset_lineage(request: Request, workspace: str = PathParam(min_length=1, max_length=256),
                    name: Optional[str] = Query(None, max_length=255,
                                                description="only this dataset"),
                    top: int = Query(50, ge=1, le=1000, description="runs per dataset")):
    """Each registered dataset's versions and the step runs that read it (their definition's
    ``inputDatasets`` name it, by registration or by the id of one of its versions)."""
    from .api_read import _find_workspace
    store = _store(request)
    ws = _find_workspace(store, workspace)
    by_name: dict[str, list] = {}
    for info in store.list_datasets(ws.id):
        if name is None or info.name == name:
            by_name.setdefault(info.name, []).append(info)
    if name is not None and not by_name:
        raise HTTPException(404, f"no dataset named {name!r} in workspace '{ws.name}'")
    ids = {i.id: (n, i.version) for n, items in by_name.items() for i in items}
    runs: dict[str, list[LineageRun]] = {n: [] for n in by_name}
    from ..core._run_filters import _paged
    for run in _paged(store, ws.id):              # newest first, a page at a time
        if all(len(found) >= top for found in runs.values()):
            break                                 # every dataset has its runs: stop reading
        for entry in (run.definition or {}).get("inputDatasets") or []:
            if not isinstance(entry, dict):
                continue
            registered = entry.get("registered") or {}
            found = None
            if registered.get("name") in by_name:
                found = (registered["name"], registered.get("version"))
            elif entry.get("dataset_id") in ids:
                found = ids[entry["dataset_id"]]
            if found is None or len(runs[found[0]]) >= top:
                continue
            version = found[1]
            runs[found[0]].append(LineageRun(
                runId=run.id, name=run.name, parentRunId=run.parent_id,
                experiment=run.experiment, status=str(run.status), createdUtc=run.created_at,
                input=str(entry.get("name") or ""),
                version=int(version) if str(version or "").isdigit() else None))
    result = []
    for dataset, items in sorted(by_name.items()):
        versions = [{"version": i.version, "id": i.id, "createdUtc": i.created_at,
                     "type": (i.definition or {}).get("type", "FileDataset"),
                     "description": i.description, "tags": dict(i.tags or {})}
                    for i in sorted(items, key=lambda i: -i.version)]
        result.append(DatasetLineage(name=dataset, versions=versions, runs=runs[dataset]))
    return result


# -- web services -------------------------------------------------------------------------------
def _services(ws) -> list:
    from ..core.webservice import Webservice
    try:
        return Webservice.list(ws)
    except Exception as exc:  # noqa: BLE001 - Docker absent or not answering: say so
        raise HTTPException(503, f"the web services cannot be listed: the container engine "
                                 f"does not answer ({type(exc).__name__}: {exc})") from None


def _service_model(service) -> Service:
    kind = "pipeline" if service._pipeline else "model"
    try:
        state, uri, error = service.state, service.scoring_uri, None
    except Exception as exc:  # noqa: BLE001 - a broken service is shown as such
        state, uri, error = "Failed", None, str(exc)
    return Service(name=service.name, kind=kind, state=state, scoringUri=uri, error=error)


@router.get("/workspaces/{workspace}/services", response_model=list[Service],
            dependencies=[Depends(read_access)])
def list_services(request: Request, workspace: str = PathParam(min_length=1, max_length=256)):
    """The workspace's web services: deployed models and pipeline services, by name."""
    ws = _workspace(request, workspace)
    return [_service_model(s) for s in _services(ws)]


@router.get("/workspaces/{workspace}/services/{name}/logs", response_model=ServiceLogs,
            dependencies=[Depends(read_access)])
def service_logs(request: Request, workspace: str = PathParam(min_length=1, max_length=256),
                 name: str = PathParam(min_length=1, max_length=64),
                 lines: int = Query(5000, ge=1, le=100_000, description="the last lines")):
    ws = _workspace(request, workspace)
    found = [s for s in _services(ws) if s.name == name]
    if not found:
        raise HTTPException(404, f"no web service named {name!r} in workspace '{ws.name}'")
    service = found[0]
    model = _service_model(service)
    try:
        text = service.get_logs(num_lines=lines)
    except Exception as exc:  # noqa: BLE001 - the log of a gone container
        text = f"(no log: {type(exc).__name__}: {exc})"
    truncated = len(text) > MAX_LOG
    return ServiceLogs(name=name, state=model.state, text=text[-MAX_LOG:], truncated=truncated)
