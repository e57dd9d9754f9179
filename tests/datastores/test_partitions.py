"""Partitioned datasets over real files: partition_format parsing and its errors, the columns it
adds, partition_keys, get_partition_key_values and TabularDataset.partition_by (on a file
datastore and on Azurite)."""
from __future__ import annotations

from datetime import datetime

import pytest

from amlocal.core.dataset import Dataset
from amlocal.core.datastore import Datastore
from amlocal.data import FileDataset, TabularDataset
from amlocal.data._partition_format import PartitionFormatError, parse
from amlocal.data.datapath import DataPath
from amlocal.errors import UserErrorException


@pytest.fixture
def lake(workspace, tmp_path):
    """A file datastore with sales/<country>/<state>/<yyyy>/<MM>/<dd>/data.csv files."""
    rows = {("US", "WA", "2020/01/02"): "id,amount\n1,10\n2,20\n",
            ("US", "CA", "2020/02/03"): "id,amount\n3,30\n",
            ("DE", "BY", "2021/12/31"): "id,amount\n4,40\n5,50\n"}
    root = tmp_path / "lake"
    for (country, state, day), text in rows.items():
        folder = root / "sales" / country / state / day
        folder.mkdir(parents=True)
        (folder / "data.csv").write_text(text)
    return Datastore.register(workspace, "lake", url=str(root))


FORMAT = "/{country}/{state}/{day:yyyy/MM/dd}/data.csv"


# -- the format -------------------------------------------------------------------------------
def test_format_parts_dates_wildcards_and_escapes():
    fmt = parse("/{a}/{when:yyyy-MM-dd_HH}/*.csv")
    assert fmt.columns == ("a", "when")
    assert fmt.values("/root/x/2020-05-06_07/f.csv") == {"a": "x", "when": datetime(2020, 5, 6, 7)}
    assert fmt.values("/root/x.y/2020-05-06_07/f.csv") == {"a": None, "when": None}  # no '.'
    # the date column comes last, whatever its place in the format (as in Azure)
    assert parse("/{d:yyyy}/{b}/{c}/*").columns == ("b", "c", "d")
    assert parse("/{{raw}}/{k}.txt").values("/{raw}/v.txt") == {"k": "v"}
    assert parse("/{k}/{k}/*").values("/a/b/c") == {"k": "a"}   # a repeated name captures once
    assert parse("{k}/file").values("deep/er/one/file") == {"k": "one"}  # ends with the path
    assert parse("{k}/*").values("deep/er/one/file") == {"k": "deep"}   # '*' spans folders


@pytest.mark.parametrize("bad, why", [
    ("/data/*.csv", "at least one"), ("/{}/x", "names no column"), ("/{a/x", "at least one"),
    ("/{a}/}x", "pairs"), ("/{a:yyyy}/{b:MM}", "more than one datetime"),
    ("/{a:}/x", "no date format"), ("/{a:MM/dd}", "needs 'yyyy'"), ("/{_sys_path}", "reserved"),
    ("/{a:xyz}", "no date part"), ("", "non-empty")])
def test_invalid_formats_raise_value_errors_naming_the_problem(bad, why):
    with pytest.raises(PartitionFormatError, match=why) as info:
        parse(bad)
    assert isinstance(info.value, ValueError) and isinstance(info.value, UserErrorException)


def test_factories_check_the_format_before_reading_anything(lake):
    for make in (lambda f: Dataset.File.from_files((lake, "sales/**"), partition_format=f),
                 lambda f: Dataset.Tabular.from_delimited_files((lake, "sales/**"),
                                                                partition_format=f),
                 lambda f: Dataset.Tabular.from_parquet_files((lake, "sales/**"),
                                                              partition_format=f)):
        with pytest.raises(ValueError, match="Invalid partition_format"):
            make("/{a:yyyy}/{b:yyyy}")


# -- reading ----------------------------------------------------------------------------------
def test_tabular_frame_gets_the_captured_columns(lake):
    t = Dataset.Tabular.from_delimited_files((lake, "sales/**/data.csv"), partition_format=FORMAT)
    frame = t.to_pandas_dataframe().sort_values("id").reset_index(drop=True)
    assert list(frame.columns) == ["id", "amount", "country", "state", "day"]
    assert frame["country"].tolist() == ["US", "US", "US", "DE", "DE"]
    assert frame["state"].tolist() == ["WA", "WA", "CA", "BY", "BY"]
    assert str(frame["day"].dtype).startswith("datetime64")
    assert frame["day"][4] == datetime(2021, 12, 31)
    assert t.partition_keys == ["country", "state", "day"]


def test_partition_keys_and_key_values_of_file_and_tabular_datasets(lake):
    files = Dataset.File.from_files((lake, "sales/**"), partition_format=FORMAT)
    assert isinstance(files, FileDataset) and files.partition_keys == ["country", "state", "day"]
    assert files.get_partition_key_values(["country"]) == [{"country": "DE"}, {"country": "US"}]
    assert files.get_partition_key_values() == [
        {"country": "DE", "state": "BY", "day": datetime(2021, 12, 31)},
        {"country": "US", "state": "CA", "day": datetime(2020, 2, 3)},
        {"country": "US", "state": "WA", "day": datetime(2020, 1, 2)}]
    with pytest.raises(UserErrorException, match=r"\['city'\] are invalid partition keys"):
        files.get_partition_key_values(["city"])
    plain = Dataset.File.from_files((lake, "sales/**"))
    assert plain.partition_keys == [] and plain.get_partition_key_values() == []
    # the format survives registration and the definition round trip
    again = Dataset._from_definition(files._to_definition(), workspace=lake.workspace)
    assert again.partition_keys == files.partition_keys


# -- partition_by ---------------------------------------------------------------------------
def _sales(lake, tmp_path):
    import pandas as pd
    pd.DataFrame({"country": ["US", "US", "DE", "FR"], "year": [2020, 2021, 2020, 2020],
                  "when": pd.to_datetime(["2020-01-02 03:04:05", "2021-02-03 00:00:00", "2020-01-02 03:04:05",
                                          "2020-06-07 00:00:00"]),
                  "amount": [1.5, 2.5, 3.5, 4.5]}).to_parquet(tmp_path / "sales.parquet")
    lake.upload_files([str(tmp_path / "sales.parquet")], target_path="flat", show_progress=False)
    return Dataset.Tabular.from_parquet_files((lake, "flat/sales.parquet"))


def test_partition_by_writes_parquet_folders_and_returns_the_partitioned_dataset(
        lake, tmp_path, capsys):
    source = _sales(lake, tmp_path)
    parted = source.partition_by(["country", "year"], target=DataPath(lake, "parted"),
                                 name="sales_by_country")
    assert isinstance(parted, TabularDataset)
    assert (parted.name, parted.version) == ("sales_by_country", 1)
    assert parted.partition_keys == ["country", "year"]
    fmt = parted._definition["partition_format"]
    guid = fmt.split("/")[2]
    assert fmt == f"/parted/{guid}/{{country}}/{{year}}/*.parquet"
    written = sorted(p.relative_to(tmp_path / "lake") .as_posix()
                     for p in (tmp_path / "lake").rglob("*.parquet") if "parted" in p.parts)
    assert written == [f"parted/{guid}/DE/2020/part-00000.parquet",
                       f"parted/{guid}/FR/2020/part-00000.parquet",
                       f"parted/{guid}/US/2020/part-00000.parquet",
                       f"parted/{guid}/US/2021/part-00000.parquet"]
    frame = parted.to_pandas_dataframe().sort_values("amount").reset_index(drop=True)
    assert list(frame.columns) == ["when", "amount", "country", "year"]
    assert frame["country"].tolist() == ["US", "US", "DE", "FR"]
    assert frame["year"].tolist() == [2020, 2021, 2020, 2020]
    assert str(frame["year"].dtype) == "int64"       # the key's type comes back
    assert parted.get_partition_key_values(["country"]) == [
        {"country": "DE"}, {"country": "FR"}, {"country": "US"}]
    assert "Uploading file to /parted/" in capsys.readouterr().out
    assert Dataset.get_by_name(lake.workspace, "sales_by_country").id == parted.id


def test_partition_by_a_datetime_key_and_as_a_file_dataset(lake, tmp_path):
    source = _sales(lake, tmp_path)
    files = source.partition_by(["when"], target=(lake, "by_time"), show_progress=False,
                                partition_as_file_dataset=True)
    assert isinstance(files, FileDataset) and files.name is None
    assert files._definition["partition_format"].endswith("/{when:yyyyMMddHHmmss}*/*.parquet")
    assert sorted(p.split("/")[1] for p in files.to_path()) == [
        "20200102030405", "20200607000000", "20210203000000"]
    assert files.get_partition_key_values() == [{"when": datetime(2020, 1, 2, 3, 4, 5)},
                                                {"when": datetime(2020, 6, 7)},
                                                {"when": datetime(2021, 2, 3)}]
    table = source.partition_by(["when"], target=lake, show_progress=False)
    frame = table.to_pandas_dataframe().sort_values("amount")
    assert frame["when"].tolist()[0] == datetime(2020, 1, 2, 3, 4, 5)


def test_partition_by_refuses_bad_keys_and_values(lake, tmp_path):
    source = _sales(lake, tmp_path)
    with pytest.raises(UserErrorException, match="cannot be empty"):
        source.partition_by([], target=(lake, "x"))
    with pytest.raises(UserErrorException, match=r"\['nope'\] are invalid partition keys"):
        source.partition_by(["nope"], target=(lake, "x"))
    with pytest.raises(UserErrorException, match="duplicates"):
        source.partition_by(["country", "country"], target=(lake, "x"))
    with pytest.raises(UserErrorException, match=r"value '1.5', which cannot name"):
        source.partition_by(["amount"], target=(lake, "x"), show_progress=False)
    with pytest.raises(UserErrorException, match="target .* is not supported"):
        source.partition_by(["country"], target="somewhere")


def test_partition_by_on_an_azure_blob_datastore(workspace, azurite, container, tmp_path):
    import pandas as pd
    blob = Datastore.register_azure_blob_container(
        workspace, "blob", container, azurite.account, account_key=azurite.key,
        endpoint=azurite.endpoint, create_if_not_exists=True)
    (tmp_path / "t").mkdir()
    pd.DataFrame({"k": ["a", "b", "a"], "v": [1, 2, 3]}).to_csv(tmp_path / "t/t.csv", index=False)
    blob.upload(str(tmp_path / "t"), target_path="in", show_progress=False)
    table = Dataset.Tabular.from_delimited_files((blob, "in/t.csv"))
    parted = table.partition_by(["k"], target=(blob, "out"), show_progress=False)
    frame = parted.to_pandas_dataframe().sort_values("v")
    assert frame["k"].tolist() == ["a", "b", "a"] and frame["v"].tolist() == [1, 2, 3]
    assert parted.get_partition_key_values() == [{"k": "a"}, {"k": "b"}]
