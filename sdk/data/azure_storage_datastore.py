"""AzureBlobDatastore (``azureml.data.azure_storage_datastore``): a blob container registered
with ``Datastore.register_azure_blob_container``; ``Datastore(ws, name)`` returns one.

Deliberate difference from Azure: ``account_key`` and ``sas_token`` are not attributes (Azure
shows them); credentials stay in the store and are never shown.
"""
from __future__ import annotations

from .._cloud_only import cloud_only_class
from .abstract_datastore import Datastore

# Azure's codes for what a storage path is (its upload/download helpers use them).
FOLDER = 0
EMPTY_FILE = 1
FILE = 2


class AbstractAzureStorageDatastore(Datastore):
    """The base class of Azure Storage datastores (blob containers; Azure also has file shares).
    ``Datastore(ws, name)`` returns the concrete class; ``isinstance(ds,
    AbstractAzureStorageDatastore)`` holds for blob containers, as on Azure."""


AzureFileDatastore = cloud_only_class(
    "azureml.data.azure_storage_datastore", "AzureFileDatastore",
    "Azure Files shares are reached through Azure's file share service, for which amlocal has "
    "no storage driver",
    "register a folder with Datastore.register(ws, name, url) or a blob container with "
    "Datastore.register_azure_blob_container(...)")


class AzureBlobDatastore(AbstractAzureStorageDatastore):
    """A blob container; ``datastore_type`` is ``"AzureBlob"``."""

    def _describe(self) -> dict:
        from amlocal.datastores.azure import describe
        return describe(self._info.url, self._info.options)

    @property
    def container_name(self) -> str:
        return self._describe()["container_name"]

    @property
    def account_name(self) -> str | None:
        return self._describe()["account_name"]

    @property
    def endpoint(self) -> str | None:
        """The blob service's URL (Azure gives the suffix, e.g. ``core.windows.net``)."""
        return self._describe()["endpoint"]

    @property
    def protocol(self) -> str | None:
        endpoint = self.endpoint
        return endpoint.split("://", 1)[0] if endpoint else None

    @property
    def credential_type(self) -> str:
        """``"AccountKey"``, ``"Sas"`` or ``"None"``, as Azure names them."""
        return self._describe()["credential_type"]

    def _display_dict(self) -> dict:
        shown = super()._display_dict()
        shown.update(self._describe())
        return shown

    def __repr__(self) -> str:
        d = self._describe()
        return (f"AzureBlobDatastore(name='{self.name}', container_name='{d['container_name']}', "
                f"account_name='{d['account_name']}', endpoint='{d['endpoint']}')")
