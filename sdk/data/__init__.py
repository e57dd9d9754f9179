"""Datasets and their consumption (``azureml.data``): FileDataset, TabularDataset,
OutputFileDatasetConfig, DatasetConsumptionConfig and DataType. HDFS and link outputs and
DatacacheStore exist only in Azure (CloudOnlyError when used). Standard library only at import."""
from __future__ import annotations

from .._cloud_only import cloud_only_class
from .dataset_consumption_config import DatasetConsumptionConfig
from .file_dataset import FileDataset
# the factories set Dataset.File and Dataset.Tabular on the base class as they load
from .dataset_factory import DataType
from .output_dataset_config import (HDFSOutputDatasetConfig, LinkFileOutputDatasetConfig,
                                    LinkTabularOutputDatasetConfig, OutputFileDatasetConfig)
from .tabular_dataset import TabularDataset
# the SQL datastore classes: Datastore(ws, name) finds them by their datastore_type
from . import azure_my_sql_datastore, azure_postgre_sql_datastore  # noqa: F401,E402
from . import azure_sql_database_datastore, _sql_datastore  # noqa: F401,E402

DatacacheStore = cloud_only_class(
    "azureml.data", "DatacacheStore",
    "datacache stores replicate datasets onto Azure compute clusters",
    "consume the FileDataset directly (as_mount() / as_download())")

__all__ = ["DataType", "DatacacheStore", "DatasetConsumptionConfig", "FileDataset",
           "HDFSOutputDatasetConfig", "LinkFileOutputDatasetConfig",
           "LinkTabularOutputDatasetConfig", "OutputFileDatasetConfig", "TabularDataset"]
