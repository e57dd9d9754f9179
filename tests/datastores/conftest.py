"""Blob datastore fixtures: one fresh container of the session's Azurite (tests/conftest.py)
per test."""
from __future__ import annotations

import uuid

import pytest

@pytest.fixture
def container():
    """A container name no other test uses."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def blob(workspace, azurite, container):
    """An AzureBlobDatastore 'blob' on a new container of Azurite, in a fresh workspace."""
    from amlocal.core.datastore import Datastore
    return Datastore.register_azure_blob_container(
        workspace, "blob", container, azurite.account, account_key=azurite.key,
        endpoint=azurite.endpoint, create_if_not_exists=True)
