"""``amlocal.pipeline.core``: Pipeline, PublishedPipeline, PipelineData, PipelineParameter,
PipelineRun, StepRun, WebServiceInput, WebServiceOutput."""
from .builder import InputPortBinding, PipelineData, PipelineOutputFileDataset, PipelineParameter
from .pipeline import Pipeline
from .published import PublishedPipeline
from .run import PipelineRun, StepRun
from .webservice_ports import WebServiceInput, WebServiceOutput

__all__ = ["InputPortBinding", "Pipeline", "PipelineData", "PipelineOutputFileDataset",
           "PipelineParameter", "PipelineRun",
           "PublishedPipeline", "StepRun", "WebServiceInput", "WebServiceOutput"]
