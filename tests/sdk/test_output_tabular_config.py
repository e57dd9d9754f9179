"""OutputTabularDatasetConfig: what read_delimited_files / read_parquet_files return, and the
output option classes of azureml.data.output_dataset_config."""
from __future__ import annotations

import pytest

from amlocal._cloud_only import CloudOnlyError
from amlocal.data.output_dataset_config import (MountOptions, OutputFileDatasetConfig,
                                                OutputTabularDatasetConfig,
                                                RegistrationConfiguration, TransformationMixin,
                                                UploadOptions)
from amlocal.errors import UserErrorException


def test_read_methods_return_a_tabular_config_read_in_direct_mode():
    out = OutputFileDatasetConfig("table", destination=("workspaceblobstore", "t/{run-id}"))
    assert isinstance(out, TransformationMixin)
    delimited = out.read_delimited_files(separator=";", path_glob="*.csv",
                                         set_column_types={"x": int})
    assert type(delimited) is OutputTabularDatasetConfig
    assert delimited._reader["format"] == "delimited" and delimited._reader["separator"] == ";"
    assert delimited._reader["set_column_types"] == {"x": "Int64"}
    assert delimited._path_glob == "*.csv"
    assert (delimited.name, delimited._destination_names) == ("table", ("workspaceblobstore",
                                                                        "t/{run-id}"))
    assert delimited.as_input("rows").mode == "direct"
    parquet = out.read_parquet_files(include_path=True, partition_format="{part}/x.parquet")
    assert parquet._reader == {"format": "parquet", "include_path": True, "set_column_types": {}}
    assert parquet._partition_format == "{part}/x.parquet" and parquet._path_glob == "**/*"
    assert not hasattr(out, "_reader")                    # the original output is unchanged
    uploaded = parquet.as_upload(overwrite=True)
    assert type(uploaded) is OutputTabularDatasetConfig and uploaded.mode == "upload"
    assert uploaded._reader == parquet._reader
    assert repr(parquet).startswith("OutputTabularDatasetConfig(name='table'")


def test_tabular_config_is_made_from_an_output_only():
    with pytest.raises(ValueError, match="not supposed to be called directly"):
        OutputTabularDatasetConfig()
    with pytest.raises(ValueError, match="not supposed to be called directly"):
        OutputTabularDatasetConfig(output_file_dataset_config=OutputFileDatasetConfig("x"))


def test_column_transformations_are_copies_recorded_for_the_consuming_step():
    table = OutputFileDatasetConfig("table").read_delimited_files()
    kept = table.keep_columns(["a"])
    dropped = table.drop_columns("a")
    first, second = table.random_split(0.8, seed=7)
    assert kept is not table and table._reader.get("transforms", []) == []
    assert kept._reader["transforms"] == [{"keep_columns": ["a"]}]
    assert dropped._reader["transforms"] == [{"drop_columns": ["a"]}]
    assert [t["random_split"]["part"] for t in (first._reader["transforms"][0],
                                                second._reader["transforms"][0])] == [0, 1]
    with pytest.raises(UserErrorException):
        table.random_split(1.5)
    with pytest.raises(UserErrorException, match="header must be True"):
        OutputFileDatasetConfig("t").read_delimited_files(header="all_files_have_same_headers")


def test_option_classes_keep_azures_fields():
    assert UploadOptions(True, "*.csv").source_globs == ["*.csv"]
    assert UploadOptions().overwrite is False and UploadOptions().source_globs is None
    assert MountOptions(True).disable_metadata_cache is True
    reg = RegistrationConfiguration("name", "desc", {"k": "v"})
    assert (reg.name, reg.description, reg.tags) == ("name", "desc", {"k": "v"})


def test_hdfs_and_link_outputs_are_cloud_only():
    from amlocal.data import (DatacacheStore, HDFSOutputDatasetConfig,
                              LinkFileOutputDatasetConfig)
    with pytest.raises(CloudOnlyError, match="HDFS.*OutputFileDatasetConfig"):
        HDFSOutputDatasetConfig("h")
    with pytest.raises(CloudOnlyError, match="not built in amlocal yet"):
        LinkFileOutputDatasetConfig("link")
    with pytest.raises(CloudOnlyError, match="as_mount"):
        DatacacheStore.register(None, "cache")
