"""AzureBlobDatastore (``azureml.data.azure_storage_datastore``): a blob container registered
with ``Datastore.register_azure_blob_container``; ``Datastore(ws, name)`` returns one.

Deliberate difference from Azure: ``account_key`` and ``sas_token`` are not attributes (Azure
shows them); credentials stay in the store and are never shown.
"""
from __future__ import annotations

from .._cloud_only import cloud_only_class
# defined next to Datastore, which returns them for their kind (Datastore(ws, name)); this
# module is their azureml import path
from .abstract_datastore import AbstractAzureStorageDatastore, AzureBlobDatastore  # noqa: F401

# Azure's codes for what a storage path is (its upload/download helpers use them).
FOLDER = 0
EMPTY_FILE = 1
FILE = 2


AzureFileDatastore = cloud_only_class(
    "azureml.data.azure_storage_datastore", "AzureFileDatastore",
    "Azure Files shares are reached through Azure's file share service, for which amlocal has "
    "no storage driver",
    "register a folder with Datastore.register(ws, name, url) or a blob container with "
    "Datastore.register_azure_blob_container(...)")
