"""The typed answers of the read API (:mod:`.api_read`): pydantic models, so the OpenAPI
document describes every field. Field names follow Azure ML's JSON (camelCase, ``runId``,
``createdUtc``, ``startTimeUtc`` ...), as ``Run.get_details()`` and ``amlocal run show -o json``
print them."""
from __future__ import annotations

import enum
from typing import Any

from pydantic import BaseModel, Field


class RunKind(str, enum.Enum):
    pipeline = "pipeline"
    step = "step"
    script = "script"


class Workspace(BaseModel):
    id: str
    name: str
    subscriptionId: str
    resourceGroup: str
    location: str
    defaultDatastore: str
    createdUtc: str


class Experiment(BaseModel):
    name: str
    workspaceId: str
    createdUtc: str
    tags: dict[str, Any] = Field(default_factory=dict)
    archived: bool = False
    archivedUtc: str | None = None


class RunSummary(BaseModel):
    runId: str
    displayName: str | None = None
    type: str = Field(description="azureml.PipelineRun, azureml.StepRun or azureml.scriptrun")
    kind: RunKind
    status: str = Field(description="Azure's status string: NotStarted, Running, Finished, ...")
    experiment: str
    workspaceId: str
    target: str
    parentRunId: str | None = None
    createdUtc: str
    startTimeUtc: str | None = None
    endTimeUtc: str | None = None
    tags: dict[str, Any] = Field(default_factory=dict)
    properties: dict[str, Any] = Field(default_factory=dict)
    error: dict[str, Any] | None = None
    reusedFrom: str | None = Field(None, description="the step run whose outputs this one reused")


class RunDetail(RunSummary):
    children: list[RunSummary] = Field(
        default_factory=list,
        description="direct child runs, oldest first (a pipeline run's steps)")
    files: list[str] = Field(default_factory=list, description="the run's artifact names")
    inputDatasets: list[dict[str, Any]] = Field(default_factory=list)


class RunPage(BaseModel):
    value: list[RunSummary]
    count: int = Field(description="how many runs match the filters, over all pages")
    nextLink: str | None = Field(None, description="URL of the next page; null on the last one")
    continuationToken: str | None = Field(
        None, description="pass as `continuation` for the next page; null on the last one")


class Metrics(BaseModel):
    runId: str
    metrics: dict[str, Any] = Field(
        description="as Run.get_metrics(): a value logged once is a value, logged N times a list; "
                    "a row is {column: value} (rows logged N times {column: [values]}); a table "
                    "is {column: [values]}; an image is its aml:// artifact path")
    kinds: dict[str, str] = Field(
        description="each metric's kind: scalar, list, row, table or image")


class LogChunk(BaseModel):
    runId: str
    name: str = Field(description="the log artifact read")
    offset: int = Field(description="the byte offset this text starts at")
    nextOffset: int = Field(description="pass as `offset` to read what comes next")
    text: str
    status: str = Field(description="the run's status when read")
    complete: bool = Field(description="true when the run has ended and everything was read")


class Artifacts(BaseModel):
    runId: str
    files: list[str]


class OutputLocation(BaseModel):
    name: str
    datastore: str
    path: str = Field(description="the output folder, relative to the datastore's root")
    digest: str | None = Field(None, description="content digest, taken when the step finished")


class StepOutputs(BaseModel):
    runId: str
    name: str | None = None
    outputs: dict[str, OutputLocation]


class RunOutputs(BaseModel):
    runId: str
    outputs: dict[str, OutputLocation] = Field(
        description="a step run's outputs (empty before it ran, and for a pipeline run)")
    steps: list[StepOutputs] = Field(
        default_factory=list, description="for a pipeline run: the outputs of each step run")


class PublishedPipeline(BaseModel):
    id: str
    name: str
    description: str | None = None
    version: str | None = None
    status: str = Field(description="Active, Disabled or Deprecated")
    workspaceId: str
    createdUtc: str
    continueOnStepFailure: bool
    totalRunSteps: int
    endpoint: str | None = Field(None, description="the URL that submits it (POST)")
    parameters: dict[str, Any] = Field(default_factory=dict,
                                       description="pipeline parameters and their defaults")


class ModelVersion(BaseModel):
    id: str = Field(description="NAME:VERSION")
    name: str
    version: int
    workspaceId: str
    createdUtc: str
    description: str | None = None
    tags: dict[str, Any] = Field(default_factory=dict)
    properties: dict[str, Any] = Field(default_factory=dict)
    framework: str | None = None
    frameworkVersion: str | None = None
    runId: str | None = None
    datasets: list[dict[str, Any]] = Field(default_factory=list)


class DatasetVersion(BaseModel):
    id: str = Field(description="the definition's content id")
    name: str
    version: int
    workspaceId: str
    createdUtc: str
    description: str | None = None
    tags: dict[str, Any] = Field(default_factory=dict)
    definition: dict[str, Any]


class EnvironmentVersion(BaseModel):
    name: str
    version: int
    workspaceId: str
    createdUtc: str
    definition: dict[str, Any]
