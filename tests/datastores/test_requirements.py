"""step_requirements: the packages a step's environment needs to read a dataset definition."""
from __future__ import annotations

import pytest

from amlocal.core.dataset import Dataset
from amlocal.core.datastore import Datastore
from amlocal.datastores.requirements import protocol_packages, step_requirements
from amlocal.errors import UserErrorException


def _table(*sources):
    return {"schema_version": 1, "type": "TabularDataset", "sources": list(sources),
            "reader": {"format": "delimited"}, "partition_format": None, "transforms": []}


def test_tables_need_pandas_and_pyarrow_and_bound_sources_nothing_more(workspace, tmp_path):
    (tmp_path / "t.csv").write_text("a\n1\n")
    store = Datastore.register(workspace, "lake", url=str(tmp_path))
    table = Dataset.Tabular.from_delimited_files((store, "t.csv"))
    assert step_requirements(table._to_definition()) == ("pandas", "pyarrow")
    parquet = Dataset.Tabular.from_parquet_files((store, "*.parquet"), validate=False)
    assert step_requirements(parquet._to_definition()) == ("pandas", "pyarrow")
    files = Dataset.File.from_files((store, "t.csv"))
    assert step_requirements(files._to_definition()) == ()
    assert step_requirements(_table({"url": (tmp_path / "t.csv").as_uri()})) == ("pandas", "pyarrow")


@pytest.mark.parametrize("url, packages", [
    ("https://example.org/data/t.csv", ("aiohttp", "pandas", "pyarrow", "requests")),
    ("http://example.org/t.csv", ("aiohttp", "pandas", "pyarrow", "requests")),
    ("abfs://container/t.csv", ("adlfs", "pandas", "pyarrow")),
    ("az://container/t.csv", ("adlfs", "pandas", "pyarrow")),
    ("s3://bucket/t.csv", ("pandas", "pyarrow", "s3fs")),
    ("gcs://bucket/t.csv", ("gcsfs", "pandas", "pyarrow")),
    ("simplecache::s3://bucket/t.csv", ("pandas", "pyarrow", "s3fs")),
])
def test_remote_urls_need_their_fsspec_package(url, packages):
    assert step_requirements(_table({"url": url})) == packages


def test_packages_come_from_fsspecs_registry():
    from fsspec.registry import known_implementations
    assert protocol_packages("s3") == (known_implementations["s3"]["class"].split(".")[0],)
    assert protocol_packages("memory") == () and protocol_packages("file") == ()
    assert protocol_packages("sftp") == ("paramiko",)        # from fsspec's install hint
    file_urls = {"type": "FileDataset", "sources": [{"url": "https://x.org/a.bin"},
                                                    {"datastore": "d", "path": "p"}]}
    assert step_requirements(file_urls) == ("aiohttp", "requests")
    with pytest.raises(UserErrorException, match="does not know the protocol 'nosuch'"):
        step_requirements(_table({"url": "nosuch://x/y.csv"}))
