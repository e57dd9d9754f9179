"""``azureml.pipeline.core.graph``: the pipeline's graph objects.

The objects users touch are real and re-exported here: PipelineParameter, InputPortBinding,
OutputPortBinding, PipelineDataset, PortDataReference, PublishedPipeline. Azure's own graph model
(Graph, Node, Module, ports, params, data sources ...) is what its pipeline service stores; amlocal
freezes a pipeline into its own plain data instead (``_freeze``), so those names import and raise
CloudOnlyError when used.
"""
from __future__ import annotations

from ..._cloud_only import cloud_only_class
from ...data.stored_procedure_parameter import StoredProcedureParameter, StoredProcedureParameterType
from ._inputs import PipelineDataset
from .builder import InputPortBinding, OutputPortBinding, PipelineParameter
from .published import PublishedPipeline
from .run import PortDataReference

_MODULE = "azureml.pipeline.core.graph"
_REASON = ("it is part of Azure's pipeline service graph model; amlocal freezes pipelines into "
           "its own plain data")
_BUILD = ("build the pipeline from steps (PythonScriptStep, PipelineData, PipelineParameter) "
          "and use Pipeline.submit / Pipeline.publish")


def _graph_class(name: str, alternative: str = _BUILD):
    return cloud_only_class(_MODULE, name, _REASON, alternative)


Graph = _graph_class("Graph")
Node = _graph_class("Node")
ModuleNode = _graph_class("ModuleNode")
DataSourceNode = _graph_class("DataSourceNode")
Module = _graph_class("Module")
ModuleDef = _graph_class("ModuleDef")
DataSource = _graph_class("DataSource", "use a DataReference, a DataPath or a dataset as a step input")
DataSourceDef = _graph_class("DataSourceDef", "use a DataReference, a DataPath or a dataset as a step input")
InputPort = _graph_class("InputPort", "give the step inputs= (PipelineData, DataReference, datasets)")
InputPortDef = _graph_class("InputPortDef", "give the step inputs= (PipelineData, DataReference, datasets)")
OutputPort = _graph_class("OutputPort", "give the step outputs= (PipelineData, OutputFileDatasetConfig)")
OutputPortDef = _graph_class("OutputPortDef", "give the step outputs= (PipelineData, OutputFileDatasetConfig)")
Param = _graph_class("Param", "use a PipelineParameter")
ParamDef = _graph_class("ParamDef", "use a PipelineParameter")
Edge = _graph_class("Edge", "connect steps with PipelineData (outputs= of one, inputs= of the other)")
DataType = _graph_class("DataType", "PipelineData needs no data type locally")
TrainingOutput = cloud_only_class(
    _MODULE, "TrainingOutput", "it selects the metrics or model file of an AutoMLStep or "
    "HyperDriveStep, which run only in Azure",
    "write the model or metrics to a PipelineData or OutputFileDatasetConfig in your own step")

__all__ = ["DataSource", "DataSourceDef", "DataSourceNode", "DataType", "Edge", "Graph",
           "InputPort", "InputPortBinding", "InputPortDef", "Module", "ModuleDef", "ModuleNode",
           "Node", "OutputPort", "OutputPortBinding", "OutputPortDef", "Param", "ParamDef",
           "PipelineDataset", "PipelineParameter", "PortDataReference", "PublishedPipeline",
           "StoredProcedureParameter", "StoredProcedureParameterType", "TrainingOutput"]
