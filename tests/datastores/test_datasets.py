"""File and tabular datasets over real files: sources, validation, to_path, download,
consumption configs, output configs and definition round trips."""
from __future__ import annotations

import json
import re

import pytest

from amlocal.core.datastore import Datastore
from amlocal.core.dataset import Dataset
from amlocal.core.workspace import Workspace
from amlocal.data import (DatasetConsumptionConfig, FileDataset, OutputFileDatasetConfig,
                          TabularDataset)
from amlocal.data.datapath import DataPath
from amlocal.errors import UserErrorException


@pytest.fixture
def ws(home):
    """A workspace in the fresh AMLOCAL_HOME of tests/conftest.py's ``home`` fixture."""
    return Workspace("sub", "rg", "test_ws")


@pytest.fixture
def ds(ws, tmp_path):
    src = tmp_path / "src"
    for rel, text in {"models/x/input.csv": "a,b\n1,2\n3,4\n", "data/jan.csv": "a,b\n5,6\n",
                      "data/feb/feb.csv": "a,b\n7,8\n", "data/notes.txt": "hello\n"}.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    store = Datastore(ws)
    store.upload(str(src), show_progress=False)
    return store


# -- creation -----------------------------------------------------------------------------------
def test_from_files_tuple_with_leading_slash_is_a_single_file(ds):
    f = Dataset.File.from_files((ds, "/models/x/input.csv"))
    assert isinstance(f, FileDataset) and isinstance(f, Dataset)
    assert f.to_path() == ["/input.csv"]
    assert f._to_definition()["sources"] == [{"datastore": "workspaceblobstore",
                                              "path": "models/x/input.csv"}]
    assert f.id == Dataset.File.from_files((ds, "models/x/input.csv")).id


def test_from_files_glob_folder_and_list(ds):
    assert Dataset.File.from_files((ds, "data/**/*.csv")).to_path() == ["/feb/feb.csv", "/jan.csv"]
    assert Dataset.File.from_files((ds, "data")).to_path() == ["/feb/feb.csv", "/jan.csv", "/notes.txt"]
    assert Dataset.File.from_files((ds, "data/*")).to_path() == ["/feb/feb.csv", "/jan.csv", "/notes.txt"]
    both = Dataset.File.from_files([(ds, "data/jan.csv"), (ds, "models/x/input.csv")])
    assert both.to_path() == ["/data/jan.csv", "/models/x/input.csv"]


def test_from_files_datapath_and_local_url(ds, tmp_path):
    dp = Dataset.File.from_files(DataPath(ds, "data/feb"))
    assert dp.to_path() == ["/feb.csv"]
    local = tmp_path / "loose"
    local.mkdir()
    (local / "one.txt").write_text("1")
    (local / "two.txt").write_text("2")
    by_path = Dataset.File.from_files(str(local / "*.txt"))
    assert by_path.to_path() == ["/one.txt", "/two.txt"]
    assert by_path._to_definition()["sources"][0]["url"].startswith("file://")
    assert Dataset.File.from_files(local.as_uri() + "/one.txt").to_path() == ["/one.txt"]


def test_validate_raises_when_nothing_matches_and_can_be_skipped(ds):
    with pytest.raises(UserErrorException, match="Cannot load any data.*validate=False"):
        Dataset.File.from_files((ds, "data/**/*.parquet"))
    lazy = Dataset.File.from_files((ds, "data/**/*.parquet"), validate=False)
    assert lazy.to_path() == []


@pytest.mark.parametrize("path", ["relative/x.csv", 42, [], ("workspaceblobstore", "x.csv")])
def test_unsupported_paths_explain_what_is_accepted(ds, path):
    with pytest.raises(UserErrorException, match="datastore"):
        Dataset.File.from_files(path)


def test_dataset_paths_cannot_leave_the_datastore(ds):
    with pytest.raises(UserErrorException, match="'..' is not allowed"):
        Dataset.File.from_files((ds, "../../etc/passwd"))


# -- download ----------------------------------------------------------------------------------
def test_download_returns_absolute_paths_and_refuses_to_overwrite(ds, tmp_path):
    f = Dataset.File.from_files((ds, "data/**/*.csv"))
    out = tmp_path / "dl"
    paths = f.download(str(out))
    assert paths == [str(out / "feb/feb.csv"), str(out / "jan.csv")]
    assert (out / "jan.csv").read_text() == "a,b\n5,6\n"
    (out / "jan.csv").write_text("mine")
    with pytest.raises(UserErrorException, match="overwrite=True"):
        f.download(str(out))
    assert (out / "jan.csv").read_text() == "mine"
    f.download(str(out), overwrite=True)
    assert (out / "jan.csv").read_text() == "a,b\n5,6\n"


def test_download_defaults_to_a_temp_folder_and_reports_missing(ds):
    paths = Dataset.File.from_files((ds, "models/x/input.csv")).download()
    assert len(paths) == 1 and paths[0].endswith("/input.csv")
    empty = Dataset.File.from_files((ds, "nothing/*"), validate=False)
    with pytest.raises(UserErrorException, match="ignore_not_found"):
        empty.download()
    assert empty.download(ignore_not_found=True) == []


# -- consumption configs ------------------------------------------------------------------------
def test_consumption_config_names_and_modes(ds):
    f = Dataset.File.from_files((ds, "data"))
    direct = f.as_named_input("train_data")
    assert (direct.name, direct.mode, direct.dataset) == ("train_data", "direct", f)
    assert direct.arg_val == "DatasetConsumptionConfig:train_data"
    mounted = direct.as_mount("/data/in")
    assert (mounted.mode, mounted.path_on_compute, mounted.name) == ("mount", "/data/in", "train_data")
    assert direct.mode == "direct"  # as_mount returns a copy
    assert direct.as_download().mode == "download"
    default = f.as_mount()
    assert default.name == f"input__{f.id[:8]}" and default.mode == "mount"
    assert f.as_download("rel/dir").path_on_compute == "rel/dir"


@pytest.mark.parametrize("bad", ["1abc", "has-dash", "a b", ""])
def test_consumption_config_rejects_names_that_cannot_be_env_vars(ds, bad):
    f = Dataset.File.from_files((ds, "data"))
    with pytest.raises(UserErrorException, match=re.escape("^[a-zA-Z_]+[a-zA-Z0-9_]*$")):
        DatasetConsumptionConfig(bad or 5, f)


def test_consumption_config_warns_for_common_variable_names_and_bad_modes(ds):
    f = Dataset.File.from_files((ds, "data"))
    with pytest.warns(UserWarning, match="PATH"):
        DatasetConsumptionConfig("path", f)
    with pytest.raises(UserErrorException, match="Invalid mode 'fuse'"):
        DatasetConsumptionConfig("x", f, "fuse")


def test_tabular_cannot_be_mounted_or_downloaded(ds):
    t = Dataset.Tabular.from_delimited_files((ds, "data/**/*.csv"))
    with pytest.raises(UserErrorException, match="does not support mount. Only FileDataset supports mount"):
        t.as_mount()
    with pytest.raises(UserErrorException, match="Only FileDataset supports download"):
        t.as_named_input("t").as_download()
    assert t.as_named_input("t").mode == "direct"


# -- definitions -----------------------------------------------------------------------------
def test_definition_round_trip_is_plain_json_with_a_stable_id(ds, ws):
    f = Dataset.File.from_files([(ds, "data/**/*.csv"), (ds, "/models/x/input.csv")])
    definition = f._to_definition()
    text = json.dumps(definition)
    assert "file://" not in text  # datastores are named, never located
    back = Dataset._from_definition(json.loads(text), workspace=ws)
    assert isinstance(back, FileDataset) and back == f and back.id == f.id
    assert back.to_path() == f.to_path()
    assert re.fullmatch(r"[0-9a-f]{64}", f.id)
    assert Dataset.File.from_files((ds, "data")).id != f.id


def test_definition_without_workspace_explains_how_to_bind(ds):
    back = Dataset._from_definition(Dataset.File.from_files((ds, "data"))._to_definition())
    with pytest.raises(UserErrorException, match="workspace=ws"):
        back.to_path()
    with pytest.raises(UserErrorException, match="unknown dataset type"):
        Dataset._from_definition({"type": "Nope", "sources": []})


def test_consumption_config_definition_holds_the_dataset_definition(ds):
    f = Dataset.File.from_files((ds, "data"))
    d = f.as_named_input("x").as_mount("/in")._to_definition()
    assert d == {"name": "x", "mode": "mount", "path_on_compute": "/in",
                 "dataset": f._to_definition()}


# -- tabular ---------------------------------------------------------------------------------
def test_tabular_delimited_reads_all_files_with_path_and_types(ds):
    t = Dataset.Tabular.from_delimited_files((ds, "data/**/*.csv"), include_path=True,
                                             set_column_types={"b": float})
    assert isinstance(t, TabularDataset)
    df = t.to_pandas_dataframe()
    assert list(df.columns) == ["Path", "a", "b"]
    assert df["Path"].tolist() == ["/feb/feb.csv", "/jan.csv"]
    assert df["a"].tolist() == [7, 5] and str(df["b"].dtype) == "float64"
    first = t.take(1)
    assert first.to_pandas_dataframe()["a"].tolist() == [7]
    assert first.id != t.id and t.to_pandas_dataframe().shape[0] == 2
    assert t.skip(1).to_pandas_dataframe()["a"].tolist() == [5]
    back = Dataset._from_definition(first._to_definition(), workspace=ds.workspace)
    assert back.to_pandas_dataframe()["a"].tolist() == [7]


def test_tabular_without_header_and_with_partitions(ds, tmp_path):
    src = tmp_path / "parts"
    for dept, day in [("sales", "2019/01/02"), ("hr", "2020/03/04")]:
        (src / dept / day).mkdir(parents=True)
        (src / dept / day / "data.csv").write_text("1,x\n")
    ds.upload(str(src), target_path="parts", show_progress=False)
    t = Dataset.Tabular.from_delimited_files(
        (ds, "parts/**/data.csv"), header=False,
        partition_format="/{Department}/{Day:yyyy/MM/dd}/data.csv")
    df = t.to_pandas_dataframe().sort_values("Department").reset_index(drop=True)
    assert list(df.columns) == ["Column1", "Column2", "Department", "Day"]
    assert df["Department"].tolist() == ["hr", "sales"]
    assert str(df["Day"][1].date()) == "2019-01-02"


def test_parquet_files_read_into_one_frame(ds, tmp_path):
    import pandas as pd
    (tmp_path / "pq").mkdir(exist_ok=True)
    pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}).to_parquet(tmp_path / "pq" / "one.parquet")
    pd.DataFrame({"a": [3], "b": ["z"]}).to_parquet(tmp_path / "pq" / "two.parquet")
    ds.upload(str(tmp_path / "pq"), target_path="pq", show_progress=False)
    t = Dataset.Tabular.from_parquet_files((ds, "pq/*.parquet"))
    frame = t.to_pandas_dataframe()
    assert frame["a"].tolist() == [1, 2, 3] and frame["b"].tolist() == ["x", "y", "z"]
    assert t.take(2).to_pandas_dataframe()["a"].tolist() == [1, 2]


def test_output_file_dataset_config_defaults_and_copies(ds):
    out = OutputFileDatasetConfig()
    assert re.fullmatch(r"output_[0-9a-f]{8}", out.name)
    assert out.mode == "mount" and out.arg_val == f"DatasetOutputConfig:{out.name}"
    assert out._to_definition()["destination"] == {"datastore": "workspaceblobstore",
                                                   "path": "dataset/{run-id}/{output-name}"}
    named = OutputFileDatasetConfig("prepped", destination=(ds, "/prepped/{run-id}"))
    up = named.as_upload(overwrite=True, source_globs="*.csv")
    assert (up.mode, named.mode) == ("upload", "mount")
    assert up._to_definition()["upload_options"] == {"overwrite": True, "source_globs": ["*.csv"]}
    reg = up.register_on_complete("prepped_ds", tags={"a": "1"})
    assert reg._registration["name"] == "prepped_ds" and up._registration is None
    assert up.as_mount().mode == "mount"
    inp = named.as_input()
    assert isinstance(inp, DatasetConsumptionConfig) and inp.mode == "mount"
    assert inp.dataset is named and re.fullmatch(r"input_[0-9a-f]{8}", inp.name)
    assert named.as_input("clean").name == "clean"
    definition = reg._to_definition()
    assert json.loads(json.dumps(definition)) == definition
    assert definition["destination"] == {"datastore": "workspaceblobstore", "path": "prepped/{run-id}"}
    back = OutputFileDatasetConfig._from_definition(definition)
    assert back._to_definition() == definition
    assert inp._to_definition()["output"]["name"] == "prepped"


def test_output_file_dataset_config_validation():
    with pytest.raises(UserErrorException, match="output name"):
        OutputFileDatasetConfig("bad-name")
    with pytest.raises(UserErrorException, match="'..' is not allowed"):
        OutputFileDatasetConfig("ok", destination=("workspaceblobstore", "../x"))
    with pytest.raises(UserErrorException, match="destination"):
        OutputFileDatasetConfig("ok", destination="workspaceblobstore/x")
