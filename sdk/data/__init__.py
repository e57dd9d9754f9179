"""Datasets and their consumption (``azureml.data``): FileDataset, TabularDataset,
OutputFileDatasetConfig and DatasetConsumptionConfig. Standard library only at import."""
from __future__ import annotations

from .dataset_consumption_config import DatasetConsumptionConfig
from .file_dataset import FileDataset
from .output_dataset_config import OutputFileDatasetConfig
from .tabular_dataset import TabularDataset

__all__ = ["DatasetConsumptionConfig", "FileDataset", "OutputFileDatasetConfig", "TabularDataset"]
