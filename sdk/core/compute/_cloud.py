"""The compute target classes of ``azureml.core.compute`` that only Azure can provide. They
import; using one raises CloudOnlyError naming the local alternative: a ``docker`` target
(``AmlCompute(ws, name)`` / ``ComputeTarget.create(ws, name,
AmlCompute.provisioning_configuration())``) or ``'local'``."""
from __future__ import annotations

from ..._cloud_only import cloud_only_class

_MODULE = "azureml.core.compute"
_DOCKER = ("a local Docker target: AmlCompute(ws, 'cpu-cluster') or "
           "ComputeTarget.create(ws, name, AmlCompute.provisioning_configuration())")
_DEPLOY = "Model.deploy(..., deployment_config=LocalWebservice.deploy_configuration())"

AdlaCompute = cloud_only_class(
    _MODULE, "AdlaCompute", "Azure Data Lake Analytics accounts exist only in Azure",
    "a PythonScriptStep on " + _DOCKER)
AksCompute = cloud_only_class(
    _MODULE, "AksCompute", "AKS clusters exist only in Azure", _DEPLOY)
BatchCompute = cloud_only_class(
    _MODULE, "BatchCompute", "Azure Batch accounts exist only in Azure", _DOCKER)
DataFactoryCompute = cloud_only_class(
    _MODULE, "DataFactoryCompute", "Azure Data Factory exists only in Azure",
    "DataTransferStep(..., compute_target='its name' or None): the transfer runs on this "
    "machine, no Data Factory needed")
DatabricksCompute = cloud_only_class(
    _MODULE, "DatabricksCompute", "Azure Databricks workspaces exist only in Azure", _DOCKER)
DsvmCompute = cloud_only_class(
    _MODULE, "DsvmCompute", "Data Science VMs exist only in Azure (and Azure has retired them)",
    _DOCKER)
HDInsightCompute = cloud_only_class(
    _MODULE, "HDInsightCompute", "HDInsight clusters exist only in Azure", _DOCKER)
KubernetesCompute = cloud_only_class(
    _MODULE, "KubernetesCompute", "Azure Arc / AKS Kubernetes compute exists only in Azure",
    _DOCKER)
KustoCompute = cloud_only_class(
    _MODULE, "KustoCompute", "Azure Data Explorer (Kusto) clusters exist only in Azure", None)
RemoteCompute = cloud_only_class(
    _MODULE, "RemoteCompute", "attaching a remote VM over SSH is not supported by amlocal",
    _DOCKER)
SynapseCompute = cloud_only_class(
    _MODULE, "SynapseCompute", "Synapse Spark pools exist only in Azure", _DOCKER)
