"""Compute targets (``azureml.core.compute``): where steps run.

``AmlCompute``, ``ComputeInstance`` and ``ComputeTarget`` name local targets (Docker containers
or local processes); ``RayCompute`` (amlocal's own) a Ray cluster attached with
``ComputeTarget.attach``; the other target classes exist only in Azure and raise CloudOnlyError when
used (``_cloud``)."""
from .._version import VERSION  # noqa: F401 - azureml.core.compute re-exports the SDK version
from ._cloud import (AdlaCompute, AksCompute, BatchCompute, DatabricksCompute,
                     DataFactoryCompute, DsvmCompute, HDInsightCompute, KubernetesCompute,
                     KustoCompute, RemoteCompute, SynapseCompute)
from .amlcompute import AmlCompute
from .compute import ComputeTarget
from .computeinstance import ComputeInstance
from .raycompute import RayCompute

__all__ = ["AdlaCompute", "AksCompute", "AmlCompute", "BatchCompute", "ComputeInstance",
           "ComputeTarget", "DataFactoryCompute", "DatabricksCompute", "DsvmCompute",
           "HDInsightCompute", "KubernetesCompute", "KustoCompute", "RayCompute",
           "RemoteCompute", "SynapseCompute"]
