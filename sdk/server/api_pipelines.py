"""REST submission of published pipelines and pipeline endpoints, in Azure ML v1's paths and
bodies (``/pipelines/v1.0/subscriptions/{s}/resourceGroups/{rg}/providers/
Microsoft.MachineLearningServices/workspaces/{ws}/...``):

- ``POST .../PipelineRuns/PipelineSubmit/{pipelineId}``: run a published pipeline (what
  ``PublishedPipeline.endpoint`` is);
- ``POST .../PipelineRuns/PipelineEndpointSubmit/Id/{endpointId}[/{version}]`` and
  ``.../PipelineEndpointSubmit/Name/{name}[/{version}]``: run a pipeline endpoint's version
  (the path suffix, else ``?pipelineVersion=``, else the body's ``PipelineVersion``, else the
  default version); ``?parentRunId=`` as Azure's;
- ``GET .../PipelineEndpoints/Id/{id}``, ``.../PipelineEndpoints/Name?Name=``,
  ``.../PipelineEndpoints?activeOnly=``: the endpoint entities (reads: ``auth.read_access``).

The body is Azure's ``PipelineSubmissionInfo`` (keys matched case-insensitively, as Azure's
service does; keys it does not know are ignored, as there). Every POST needs a key
(``Depends(require_key)``). A submission goes through ``PublishedPipeline._submit_to_experiment``
/ ``PipelineEndpoint._submit``, the code path of Python and the CLI: ``ParameterAssignments``
values (strings, or JSON numbers and booleans) are converted to each parameter's type;
``DataPathAssignments`` become DataPaths; ``DataSetDefinitionValueAssignments`` name registered
datasets by id. A parameter name the pipeline does not have is left out, as Azure's pipeline
service leaves it out (its v1 how-to posts ``{"1": "united", "2": "city"}`` to an endpoint whose
pipeline has neither), and never silently: the run's ``amlocal.ignored_parameters`` property and
the answer's ``HasWarnings``/``Warnings`` name it (Python's ``submit`` refuses it). The answer is Azure's PipelineRunEntity
(``Id`` is the run id). The run's properties say how it came: ``runSource`` (the body's
``RunSource``, default ``API``), ``runType`` (default ``HTTP``) and ``amlocal.submitted_via``
= ``REST``.

Errors are JSON ``{"detail": message}``: 400 for a bad body or value (also for body fields of
the wrong type: FastAPI's 422 is answered as 400 here), 404 for an unknown workspace, pipeline,
endpoint, version, datastore or dataset, 401 without a valid key.
"""
from __future__ import annotations

import sys
from typing import Any, Callable, Optional, Union
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..errors import NotFoundError, UserErrorException
from .auth import read_access, require_key

SERVICE = ("/pipelines/v1.0/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/"
           "providers/Microsoft.MachineLearningServices/workspaces/{workspaceName}")
MAX_NAME = 255


class _AzureRoute(APIRoute):
    """Body and query values of the wrong type answer 400 (Azure's status for a bad body),
    with FastAPI's list of what is wrong."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def route(request: Request):
            try:
                return await handler(request)
            except RequestValidationError as exc:
                problems = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")}
                            for e in exc.errors()]
                where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                                  for e in problems)
                return JSONResponse({"detail": f"the request is not valid: {where}",
                                     "errors": problems}, status_code=400)
        return route


router = APIRouter(tags=["pipelines"], route_class=_AzureRoute)

Scalar = Union[bool, int, float, str]


class _CaseInsensitive(BaseModel):
    """Azure's service reads its JSON keys case-insensitively."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _keys(cls, data):
        if not isinstance(data, dict):
            return data
        names = {name.lower(): name for name in cls.model_fields}
        return {names.get(str(k).lower(), k): v for k, v in data.items()}


class DataPathModel(_CaseInsensitive):
    """Azure's ``LegacyDataPath``: a datastore and a path on it."""

    DataStoreName: str = Field(min_length=1, max_length=MAX_NAME)
    RelativePath: str = Field(default="", max_length=4096)


class DatasetIdModel(_CaseInsensitive):
    Id: str = Field(min_length=1, max_length=MAX_NAME)
    Version: Optional[str] = Field(default=None, max_length=64)


class DataSetDefinitionValueModel(_CaseInsensitive):
    """Azure's ``DataSetDefinitionValue``: a saved or registered dataset's id (a literal
    DataPath is refused: register the files as a dataset)."""

    SavedDataSetReference: Optional[DatasetIdModel] = None
    DataSetReference: Optional[DatasetIdModel] = None
    LiteralValue: Optional[DataPathModel] = None


class PipelineSubmissionInfo(_CaseInsensitive):
    """Azure's submission body. ``PipelineVersion`` is an amlocal addition for endpoints (the
    SDK puts the version in the path and query)."""

    ExperimentName: Optional[str] = Field(default=None, max_length=MAX_NAME)
    Description: Optional[str] = Field(default=None, max_length=5000)
    RunSource: Optional[str] = Field(default=None, max_length=64)
    RunType: Optional[str] = Field(default=None, max_length=64)
    ParameterAssignments: Optional[dict[str, Scalar]] = None
    DataPathAssignments: Optional[dict[str, DataPathModel]] = None
    DataSetDefinitionValueAssignments: Optional[dict[str, DataSetDefinitionValueModel]] = None
    ContinueRunOnStepFailure: Optional[bool] = None
    EnableNotification: Optional[bool] = None
    ScheduleId: Optional[str] = Field(default=None, max_length=MAX_NAME)
    tags: Optional[dict[str, Scalar]] = None
    Properties: Optional[dict[str, Scalar]] = None
    PipelineVersion: Optional[str] = Field(default=None, max_length=16)


# -- helpers -----------------------------------------------------------------------------------
def _workspace(request: Request, subscription_id: str, resource_group: str, name: str):
    from ..core.workspace import Workspace
    store = request.app.state.store
    found = store.find_workspaces(name, resource_group, subscription_id)
    if not found:
        raise NotFoundError(f"no workspace '{name}' in resource group '{resource_group}' of "
                            f"subscription '{subscription_id}' in this amlocal home")
    info = found[0]
    return Workspace(info.subscription_id, info.resource_group, info.name, _store=store,
                     _info=info)


def _experiment_name(body: PipelineSubmissionInfo) -> str:
    name = (body.ExperimentName or "").strip()
    if not name:
        raise UserErrorException("ExperimentName is required: send {\"ExperimentName\": \"my-exp\", "
                                 "\"ParameterAssignments\": {...}}")
    return name


def _parameters(ws, body: PipelineSubmissionInfo) -> dict:
    """The body's assignments as the values ``pipeline_parameters`` takes in Python."""
    from ..core.datastore import Datastore
    from ..data.abstract_dataset import Dataset
    from ..data.datapath import DataPath
    from ..datastores.paths import safe_relpath
    scalars = dict(body.ParameterAssignments or {})
    paths = dict(body.DataPathAssignments or {})
    datasets = dict(body.DataSetDefinitionValueAssignments or {})
    for first, second, a, b in ((scalars, paths, "ParameterAssignments", "DataPathAssignments"),
                                (scalars, datasets, "ParameterAssignments",
                                 "DataSetDefinitionValueAssignments"),
                                (paths, datasets, "DataPathAssignments",
                                 "DataSetDefinitionValueAssignments")):
        both = sorted(set(first) & set(second))
        if both:
            raise UserErrorException(f"{', '.join(both)} is assigned in both {a} and {b}; "
                                     "assign each parameter once")
    values: dict[str, Any] = dict(scalars)
    for name, path in paths.items():
        # refused here, before anything runs (the engine would refuse it when the step starts)
        safe_relpath(path.RelativePath, f"DataPathAssignments['{name}'].RelativePath")
        values[name] = DataPath(Datastore(ws, path.DataStoreName), path.RelativePath)
    for name, value in datasets.items():
        ref = value.SavedDataSetReference or value.DataSetReference
        if ref is None:
            raise UserErrorException(
                f"DataSetDefinitionValueAssignments['{name}']: give SavedDataSetReference "
                "{\"Id\": <dataset id>} (a literal data path is not a dataset here: register "
                "the files with Dataset.File.from_files(...).register(...) and pass its id)")
        dataset = Dataset.get_by_id(ws, ref.Id)
        if ref.Version is not None and str(dataset.version) != str(ref.Version):
            dataset = Dataset.get_by_name(ws, dataset.name, version=ref.Version)
            if dataset.id != ref.Id:
                raise NotFoundError(f"dataset {ref.Id} has no version {ref.Version}")
        values[name] = dataset
    return values


def _properties(body: PipelineSubmissionInfo, extra: dict) -> dict:
    ours = {"runSource": body.RunSource or "API", "runType": body.RunType or "HTTP",
            "amlocal.submitted_via": "REST", **extra}
    if body.Description:
        ours["amlocal.description"] = body.Description
    if body.ScheduleId:
        ours["azureml.pipelines.scheduleId"] = body.ScheduleId
    given = {str(k): str(v) for k, v in (body.Properties or {}).items()}
    clash = sorted(k for k in given if k in ours or k.startswith("amlocal."))
    if clash:
        raise UserErrorException(f"Properties {', '.join(clash)} are set by amlocal for every "
                                 "REST submission; choose other names")
    return {**given, **ours}


def _submitted(run, ws, body: PipelineSubmissionInfo, published, experiment: str) -> dict:
    """Azure's PipelineRunEntity for a submitted run."""
    if body.tags:
        run.set_tags({str(k): str(v) for k, v in body.tags.items()})
    info = ws._store.get_run(run.id)
    resolved = (info.definition or {}).get("parameters") or {}
    given = body.ParameterAssignments or {}
    warnings = []
    ignored = info.properties.get("amlocal.ignored_parameters")
    if ignored:
        known = ", ".join(sorted(published.get_graph().get("parameters", {}))) or "(none)"
        warnings.append(f"parameters {ignored} are not parameters of pipeline {published.id} "
                        f"and were ignored (its parameters: {known})")
        print(f"amlocal studio: run {info.id}: {warnings[-1]}", file=sys.stderr, flush=True)
    return {
        "Id": info.id,
        "Description": body.Description or experiment,
        "Status": {"StatusCode": info.status, "StatusDetail": None,
                   "CreationTime": info.created_at, "EndTime": info.ended_at},
        "GraphId": published.id,
        "IsSubmitted": True,
        "HasErrors": False,
        "HasWarnings": bool(warnings),
        "Warnings": warnings,
        "UploadState": "Completed",
        "ParameterAssignments": {k: str(resolved.get(k, v)) for k, v in given.items()
                                 if k in resolved},
        "DataPathAssignments": {k: v.model_dump() for k, v in
                                (body.DataPathAssignments or {}).items()},
        "DataSetDefinitionValueAssignments": {
            k: v.model_dump(exclude_none=True)
            for k, v in (body.DataSetDefinitionValueAssignments or {}).items()},
        "RunHistoryExperimentName": experiment,
        "PipelineId": published.id,
        "RunSource": info.properties.get("runSource"),
        "RunType": info.properties.get("runType"),
        "TotalRunSteps": published.total_run_steps,
        "ScheduleId": body.ScheduleId,
        "tags": dict(info.tags),
        "Properties": dict(info.properties),
        "EntityStatus": "Active",
        "Etag": None,
        "CreatedDate": info.created_at,
        "LastModifiedDate": info.created_at,
    }


def _experiment(ws, body):
    from ..core.experiment import Experiment
    name = _experiment_name(body)
    return name, Experiment(ws, name)


# -- published pipelines -------------------------------------------------------------------------
@router.post(SERVICE + "/PipelineRuns/PipelineSubmit/{pipelineId}",
             summary="Run a published pipeline (PublishedPipeline.endpoint)")
def submit_published_pipeline(request: Request, subscriptionId: str, resourceGroupName: str,
                              workspaceName: str, pipelineId: str,
                              body: PipelineSubmissionInfo,
                              parentRunId: Optional[str] = Query(default=None, max_length=MAX_NAME),
                              _key=Depends(require_key)) -> dict:
    from ..pipeline.core.published import PublishedPipeline
    ws = _workspace(request, subscriptionId, resourceGroupName, workspaceName)
    published = PublishedPipeline.get(ws, pipelineId)
    name, experiment = _experiment(ws, body)
    run = published._submit_to_experiment(
        experiment, pipeline_parameters=_parameters(ws, body) or None, parent_run_id=parentRunId,
        continue_on_step_failure=body.ContinueRunOnStepFailure,
        _properties=_properties(body, {}), _ignore_unknown=True)
    return _submitted(run, ws, body, published, name)


# -- pipeline endpoints ---------------------------------------------------------------------------
def _endpoint_submit(request, ws, endpoint, body, version_in_path, version_query, parent_run_id):
    versions = {v for v in (version_in_path, version_query, body.PipelineVersion) if v is not None}
    if len(versions) > 1:
        raise UserErrorException(f"the pipeline version is given more than once with different "
                                 f"values ({', '.join(sorted(versions))}); give it once")
    version = versions.pop() if versions else None
    if version is not None and version not in {v.version for v in endpoint.pipeline_version_list}:
        known = ", ".join(v.version for v in endpoint.pipeline_version_list)
        raise NotFoundError(f"Version {version}, pipeline not found in pipelineEndpoint "
                            f"{endpoint.id}. Known versions: {known}")
    name, experiment = _experiment(ws, body)
    run = endpoint._submit(experiment, _parameters(ws, body) or None, parent_run_id, version,
                           _properties=_properties(body, {}), _ignore_unknown=True)
    published = endpoint.get_pipeline(version)
    return _submitted(run, ws, body, published, name)


def _endpoint_by_id(ws, endpoint_id):
    from ..pipeline.core.pipeline_endpoint import PipelineEndpoint
    return PipelineEndpoint.get(ws, id=endpoint_id)


def _endpoint_by_name(ws, name):
    from ..pipeline.core.pipeline_endpoint import PipelineEndpoint
    return PipelineEndpoint.get(ws, name=name)


@router.post(SERVICE + "/PipelineRuns/PipelineEndpointSubmit/Id/{endpointId}",
             summary="Run a pipeline endpoint's default version (PipelineEndpoint.endpoint)")
def submit_endpoint_by_id(request: Request, subscriptionId: str, resourceGroupName: str,
                          workspaceName: str, endpointId: str, body: PipelineSubmissionInfo,
                          pipelineVersion: Optional[str] = Query(default=None, max_length=16),
                          parentRunId: Optional[str] = Query(default=None, max_length=MAX_NAME),
                          _key=Depends(require_key)) -> dict:
    ws = _workspace(request, subscriptionId, resourceGroupName, workspaceName)
    return _endpoint_submit(request, ws, _endpoint_by_id(ws, endpointId), body, None,
                            pipelineVersion, parentRunId)


@router.post(SERVICE + "/PipelineRuns/PipelineEndpointSubmit/Id/{endpointId}/{version}",
             summary="Run one version of a pipeline endpoint")
def submit_endpoint_version_by_id(request: Request, subscriptionId: str, resourceGroupName: str,
                                  workspaceName: str, endpointId: str, version: str,
                                  body: PipelineSubmissionInfo,
                                  pipelineVersion: Optional[str] = Query(default=None,
                                                                         max_length=16),
                                  parentRunId: Optional[str] = Query(default=None,
                                                                     max_length=MAX_NAME),
                                  _key=Depends(require_key)) -> dict:
    ws = _workspace(request, subscriptionId, resourceGroupName, workspaceName)
    return _endpoint_submit(request, ws, _endpoint_by_id(ws, endpointId), body, version,
                            pipelineVersion, parentRunId)


@router.post(SERVICE + "/PipelineRuns/PipelineEndpointSubmit/Name/{endpointName}",
             summary="Run a pipeline endpoint, found by name, at its default version")
def submit_endpoint_by_name(request: Request, subscriptionId: str, resourceGroupName: str,
                            workspaceName: str, endpointName: str, body: PipelineSubmissionInfo,
                            pipelineVersion: Optional[str] = Query(default=None, max_length=16),
                            parentRunId: Optional[str] = Query(default=None, max_length=MAX_NAME),
                            _key=Depends(require_key)) -> dict:
    ws = _workspace(request, subscriptionId, resourceGroupName, workspaceName)
    return _endpoint_submit(request, ws, _endpoint_by_name(ws, endpointName), body, None,
                            pipelineVersion, parentRunId)


@router.post(SERVICE + "/PipelineRuns/PipelineEndpointSubmit/Name/{endpointName}/{version}",
             summary="Run one version of a pipeline endpoint found by name")
def submit_endpoint_version_by_name(request: Request, subscriptionId: str,
                                    resourceGroupName: str, workspaceName: str,
                                    endpointName: str, version: str,
                                    body: PipelineSubmissionInfo,
                                    pipelineVersion: Optional[str] = Query(default=None,
                                                                           max_length=16),
                                    parentRunId: Optional[str] = Query(default=None,
                                                                       max_length=MAX_NAME),
                                    _key=Depends(require_key)) -> dict:
    ws = _workspace(request, subscriptionId, resourceGroupName, workspaceName)
    return _endpoint_submit(request, ws, _endpoint_by_name(ws, endpointName), body, version,
                            pipelineVersion, parentRunId)


def _endpoint_entity(request: Request, endpoint) -> dict:
    """Azure's PipelineEndpointEntity (its URLs on this server, as the request reached it)."""
    info = endpoint._info
    ws = endpoint._workspace
    base = str(request.base_url).rstrip("/")
    service = base + SERVICE.format(subscriptionId=quote(ws.subscription_id, safe=""),
                                    resourceGroupName=quote(ws.resource_group, safe=""),
                                    workspaceName=quote(ws.name, safe=""))
    return {"Id": endpoint.id, "Name": endpoint.name, "Description": endpoint.description,
            "DefaultVersion": endpoint.default_version,
            "PipelineVersionList": [{"Version": v.version, "PipelineId": v.pipeline_id}
                                    for v in endpoint.pipeline_version_list],
            "Url": f"{service}/PipelineRuns/PipelineEndpointSubmit/Id/{endpoint.id}",
            "SwaggerUrl": f"{base}/openapi.json",
            "EntityStatus": endpoint.status, "CreatedDate": info.created_at,
            "LastModifiedDate": info.updated_at, "Etag": None, "Properties": {}, "tags": {}}


@router.get(SERVICE + "/PipelineEndpoints/Id/{endpointId}", summary="A pipeline endpoint")
def get_endpoint_by_id(request: Request, subscriptionId: str, resourceGroupName: str,
                       workspaceName: str, endpointId: str, _key=Depends(read_access)) -> dict:
    ws = _workspace(request, subscriptionId, resourceGroupName, workspaceName)
    return _endpoint_entity(request, _endpoint_by_id(ws, endpointId))


@router.get(SERVICE + "/PipelineEndpoints/Name", summary="A pipeline endpoint by name")
def get_endpoint_by_name(request: Request, subscriptionId: str, resourceGroupName: str,
                         workspaceName: str, Name: str = Query(min_length=1, max_length=MAX_NAME),
                         _key=Depends(read_access)) -> dict:
    ws = _workspace(request, subscriptionId, resourceGroupName, workspaceName)
    return _endpoint_entity(request, _endpoint_by_name(ws, Name))


@router.get(SERVICE + "/PipelineEndpoints", summary="The workspace's pipeline endpoints")
def list_endpoints(request: Request, subscriptionId: str, resourceGroupName: str,
                   workspaceName: str, activeOnly: bool = True,
                   pageSize: int = Query(default=100, ge=1, le=1000),
                   _key=Depends(read_access)) -> dict:
    from ..pipeline.core.pipeline_endpoint import PipelineEndpoint
    ws = _workspace(request, subscriptionId, resourceGroupName, workspaceName)
    found = PipelineEndpoint.list(ws, active_only=activeOnly, max_results=pageSize)
    return {"Value": [_endpoint_entity(request, e) for e in found], "ContinuationToken": None}
