"""``azureml.data.abstract_dataset``: the base class of FileDataset and TabularDataset.

Azure's ``AbstractDataset`` is amlocal's :class:`amlocal.core.dataset.Dataset` (the class that
carries registration, tags, partitions and ``as_named_input``); this module gives it Azure's
name, so ``isinstance(ds, AbstractDataset)`` holds for every dataset.
"""
from __future__ import annotations

from ..core.dataset import Dataset as AbstractDataset

__all__ = ["AbstractDataset"]
