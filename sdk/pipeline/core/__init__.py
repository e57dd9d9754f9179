"""``amlocal.pipeline.core``: Pipeline, PublishedPipeline, PipelineData, PipelineParameter,
PipelineRun, StepRun, WebServiceInput, WebServiceOutput."""
from .builder import InputPortBinding, PipelineData, PipelineOutputFileDataset, PipelineParameter
from .pipeline import Pipeline
from .pipeline_endpoint import PipelineEndpoint
from .published import PublishedPipeline
from .run import PipelineRun, StepRun
from .schedule import Schedule, ScheduleRecurrence, TimeZone
from .webservice_ports import WebServiceInput, WebServiceOutput

__all__ = ["InputPortBinding", "Pipeline", "PipelineData", "PipelineOutputFileDataset",
           "PipelineEndpoint", "PipelineParameter", "PipelineRun",
           "PublishedPipeline", "Schedule", "ScheduleRecurrence", "StepRun", "TimeZone", "WebServiceInput", "WebServiceOutput"]
