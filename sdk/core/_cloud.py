"""Names of the ``azureml.core`` package that only Azure can serve: container images of the
old deployment API, the workspace's Key Vault, private endpoints and Synapse linked services.
They import; using one raises CloudOnlyError naming the local alternative."""
from __future__ import annotations

from .._cloud_only import cloud_only_class

Image = cloud_only_class(
    "azureml.core", "Image",
    "images of the retired Image API are built in the workspace's Azure container registry",
    "Model.deploy(..., deployment_config=LocalWebservice.deploy_configuration())")
Keyvault = cloud_only_class(
    "azureml.core", "Keyvault",
    "workspace secrets live in the workspace's Azure Key Vault; amlocal keeps no secret store",
    "pass secrets to steps as environment variables (runconfig.environment_variables)")
PrivateEndPoint = cloud_only_class(
    "azureml.core", "PrivateEndPoint", "private endpoints are Azure networking", None)
PrivateEndPointConfig = cloud_only_class(
    "azureml.core", "PrivateEndPointConfig", "private endpoints are Azure networking", None)
LinkedService = cloud_only_class(
    "azureml.core", "LinkedService", "linked services connect Azure Synapse workspaces", None)
SynapseWorkspaceLinkedServiceConfiguration = cloud_only_class(
    "azureml.core", "SynapseWorkspaceLinkedServiceConfiguration",
    "linked services connect Azure Synapse workspaces", None)
