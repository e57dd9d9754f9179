"""``amlocal.pipeline.core``: Pipeline, PublishedPipeline, PipelineData, PipelineParameter,
PipelineRun, StepRun, StepSequence, PortDataReference, WebServiceInput, WebServiceOutput.

``Module``, ``ModuleVersion``, ``ModuleVersionDescriptor`` and ``PipelineDraft`` are Azure's
workspace-registered pipeline building blocks: they import, and using them raises CloudOnlyError.
"""
from ..._cloud_only import cloud_only_class
from ._inputs import PipelineDataset
from .builder import (InputPortBinding, OutputPortBinding, PipelineData, PipelineParameter,
                      PipelineStep, StepSequence)
from .graph import TrainingOutput
from .pipeline import Pipeline
from .pipeline_endpoint import PipelineEndpoint
from .pipeline_output_dataset import PipelineOutputFileDataset
from .published import PublishedPipeline
from .run import PipelineRun, PortDataReference, StepRun, StepRunOutput
from .schedule import Schedule, ScheduleRecurrence, TimeZone
from .webservice_ports import WebServiceInput, WebServiceOutput

_MODULES = ("Azure's versioned modules are stored in and run by its pipeline service")
_USE_STEPS = "use a PythonScriptStep in a Pipeline; publish it with Pipeline.publish for a fixed id"
Module = cloud_only_class("azureml.pipeline.core", "Module", _MODULES, _USE_STEPS)
ModuleVersion = cloud_only_class("azureml.pipeline.core", "ModuleVersion", _MODULES, _USE_STEPS)
ModuleVersionDescriptor = cloud_only_class("azureml.pipeline.core", "ModuleVersionDescriptor",
                                           _MODULES, _USE_STEPS)
PipelineDraft = cloud_only_class(
    "azureml.pipeline.core", "PipelineDraft", "pipeline drafts are edited in Azure's designer "
    "and stored by its pipeline service", "keep the pipeline in code and Pipeline.publish it")

__all__ = ["InputPortBinding", "Module", "ModuleVersion", "ModuleVersionDescriptor",
           "OutputPortBinding", "Pipeline", "PipelineData", "PipelineDataset", "PipelineDraft",
           "PipelineEndpoint", "PipelineOutputFileDataset", "PipelineParameter", "PipelineRun",
           "PipelineStep", "PortDataReference", "PublishedPipeline", "Schedule",
           "ScheduleRecurrence", "StepRun", "StepRunOutput", "StepSequence", "TimeZone",
           "TrainingOutput", "WebServiceInput", "WebServiceOutput"]
