"""``azureml.core.dataset``: :class:`Dataset`, the base of FileDataset and TabularDataset, with
the ``Dataset.File`` and ``Dataset.Tabular`` factories and the deprecated pre-2019 methods.

The class is implemented in the data layer, :mod:`amlocal.data.abstract_dataset` (Azure's
``AbstractDataset``, the same class object), which does not import ``amlocal.core``; this module
is its azureml import path.
"""
from __future__ import annotations

from ..data._dataset_legacy import LegacyDatasetMethods
from ..data._dataset_sources import SCHEMA_VERSION
from ..data.abstract_dataset import Dataset
from ..data.dataset_factory import FileDatasetFactory, TabularDatasetFactory
from ..errors import UserErrorException  # noqa: F401 - importable here as before

__all__ = ["Dataset", "FileDatasetFactory", "LegacyDatasetMethods", "SCHEMA_VERSION",
           "TabularDatasetFactory"]
