"""``azureml.core.datastore``: :class:`Datastore`, a named place for data in a workspace
(``Datastore(ws, name)``, ``Datastore.register``, ``register_azure_blob_container`` ...).

The class is implemented in the data layer, :mod:`amlocal.data.abstract_datastore` (the same
class object), which does not import ``amlocal.core``; this module is its azureml import path.
"""
from __future__ import annotations

from ..data.abstract_datastore import Datastore
from ..errors import NotFoundError, UserErrorException  # noqa: F401 - importable here as before

__all__ = ["Datastore"]
