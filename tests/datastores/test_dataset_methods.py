"""The methods of TabularDataset and FileDataset beyond reading (Azure's transformations, time
series, conversions, mounts), registration metadata (AbstractDataset), the deprecated pre-2019
Dataset methods, and the datastore kinds beyond folders and blob containers."""
from __future__ import annotations

import datetime
import os
import warnings
from pathlib import Path

import pandas as pd
import pytest

from amlocal._cloud_only import CloudOnlyError
from amlocal.core.dataset import Dataset
from amlocal.core.datastore import Datastore
from amlocal.errors import NotFoundError, UserErrorException

ROWS = ("id,name,when,score\n"
        + "".join(f"{i},{n},2024-01-0{i} 10:00:00,{s}\n"
                  for i, n, s in [(1, "alice", 5), (2, "bob", 7), (3, "carol", ""),
                                  (4, "dave", 9), (5, "eve", 1)]))


@pytest.fixture
def lake(workspace, tmp_path):
    root = tmp_path / "lake"
    (root / "tables").mkdir(parents=True)
    (root / "tables" / "people.csv").write_text(ROWS)
    many = "id,v\n" + "".join(f"{i},{i * 10}\n" for i in range(1000))
    (root / "tables" / "many.csv").write_text(many)
    for i in range(1, 7):
        (root / "files" / ("sub" if i > 4 else "")).mkdir(parents=True, exist_ok=True)
        (root / "files" / ("sub" if i > 4 else "") / f"f{i}.{'txt' if i % 2 else 'bin'}"
         ).write_bytes(b"x" * (100 * i))
    return Datastore.register(workspace, "lake", url=str(root))


@pytest.fixture
def people(lake):
    return Dataset.Tabular.from_delimited_files((lake, "tables/people.csv"))


@pytest.fixture
def many(lake):
    return Dataset.Tabular.from_delimited_files((lake, "tables/many.csv"))


def _ids(ds):
    return ds.to_pandas_dataframe()["id"].tolist()


# -- TabularDataset transformations --------------------------------------------------------------
def test_keep_and_drop_columns(people):
    assert list(people.keep_columns(["name", "id"]).to_pandas_dataframe().columns) == ["name", "id"]
    assert list(people.keep_columns("name").to_pandas_dataframe().columns) == ["name"]
    assert list(people.drop_columns(["when", "score"]).to_pandas_dataframe().columns) == \
        ["id", "name"]
    with pytest.raises(UserErrorException, match=r"keep_columns names column\(s\) \['nope'\]"):
        people.keep_columns(["id", "nope"]).to_pandas_dataframe()
    with pytest.raises(UserErrorException, match="nope"):
        people.keep_columns("nope", validate=True)   # validate reads now
    with pytest.raises(UserErrorException, match="drop_columns"):
        people.drop_columns("nope").to_pandas_dataframe()
    with pytest.raises(UserErrorException, match="column name or a non-empty list"):
        people.keep_columns([])


def test_filter_expressions(people):
    ds = people
    assert _ids(ds.filter(ds["score"] > 4)) == [1, 2, 4]
    assert _ids(ds.filter((ds["score"] >= 5) & ~ds["name"].starts_with("d"))) == [1, 2]
    assert _ids(ds.filter((ds["id"] == 1) | ds["name"].ends_with("e"))) == [1, 4, 5]
    assert _ids(ds.filter(ds["name"].contains("o"))) == [2, 3]
    assert _ids(ds.filter(ds["score"].is_null())) == [3]
    assert _ids(ds.filter(ds["score"] == None)) == [3]   # noqa: E711 - Azure's idiom
    assert _ids(ds.filter(ds["name"].is_in(["bob", "eve"]))) == [2, 5]
    assert _ids(ds.filter(ds["id"] < ds["score"])) == [1, 2, 4]   # column vs column
    assert _ids(ds.filter(ds["when"] > datetime.datetime(2024, 1, 3, 12))) == [4, 5]
    # filters compose with other transformations, in order
    assert _ids(ds.take(3).filter(ds["score"] > 1)) == [1, 2]
    with pytest.raises(UserErrorException, match="reads column 'nope'"):
        ds.filter(ds["nope"] == 1).to_pandas_dataframe()
    with pytest.raises(UserErrorException, match="combine expressions with & | ~"):
        ds.filter(ds["id"] > 1 and ds["id"] < 3)
    with pytest.raises(UserErrorException, match="needs a condition"):
        ds.filter(ds["id"])


def test_take_sample_and_random_split_are_seeded_and_partition(many):
    first, second = many.random_split(0.3, seed=7)
    a, b = _ids(first), _ids(second)
    assert sorted(a + b) == list(range(1000)) and not set(a) & set(b)
    assert 200 < len(a) < 400
    again, _ = many.random_split(0.3, seed=7)
    assert _ids(again) == a
    assert _ids(many.random_split(0.3, seed=8)[0]) != a
    # no seed: one is drawn and stored, so the two halves still partition the rows
    x, y = many.random_split(0.5)
    assert sorted(_ids(x) + _ids(y)) == list(range(1000))
    sample = _ids(many.take_sample(0.1, seed=3))
    assert 50 < len(sample) < 150 and sample == _ids(many.take_sample(0.1, seed=3))
    with pytest.raises(UserErrorException, match="between 0.0 and 1.0"):
        many.take_sample(1.5)
    with pytest.raises(UserErrorException, match="seed"):
        many.random_split(0.5, seed=-1)


def test_transformations_are_json_and_survive_a_round_trip(many, workspace):
    ds = many.filter(many["v"] > 100).keep_columns("id").random_split(0.5, seed=1)[1].take(5)
    rebuilt = Dataset._from_definition(ds._to_definition(), workspace)
    assert rebuilt.id == ds.id
    assert rebuilt.to_pandas_dataframe().equals(ds.to_pandas_dataframe())
    assert len(ds.to_pandas_dataframe()) == 5 and list(ds.to_pandas_dataframe().columns) == ["id"]


# -- time series -------------------------------------------------------------------------------
def test_timestamp_columns_and_time_filters(people):
    assert people.timestamp_columns == (None, None)
    with pytest.raises(UserErrorException, match="without timestamp columns defined"):
        people.time_after(datetime.datetime(2024, 1, 1))
    ts = people.with_timestamp_columns("when")
    assert ts.timestamp_columns == ("when", None)
    assert _ids(ts.time_after(datetime.datetime(2024, 1, 3, 10))) == [3, 4, 5]
    assert _ids(ts.time_after(datetime.datetime(2024, 1, 3, 10), include_boundary=False)) == [4, 5]
    assert _ids(ts.time_before(datetime.datetime(2024, 1, 2, 10))) == [1, 2]
    # the upper bound is rounded to the nearest second, the lower one floored, as in Azure
    assert _ids(ts.time_before(datetime.datetime(2024, 1, 2, 9, 59, 59, 600000))) == [1, 2]
    assert _ids(ts.time_after(datetime.datetime(2024, 1, 4, 10, 0, 0, 900000))) == [4, 5]
    assert _ids(ts.time_between(datetime.datetime(2024, 1, 2), datetime.datetime(2024, 1, 4))) \
        == [2, 3]
    assert _ids(ts.time_recent(datetime.timedelta(days=1))) == []   # 2024 is long ago
    # dropping (or not keeping) the timestamp column clears it, as in Azure
    assert ts.drop_columns("when").timestamp_columns == (None, None)
    assert ts.keep_columns(["id", "when"]).timestamp_columns == ("when", None)
    with pytest.raises(UserErrorException, match="partition_timestamp can be assigned only"):
        people.with_timestamp_columns(partition_timestamp="when")
    with pytest.raises(UserErrorException, match="holds no datetimes"):
        people.with_timestamp_columns("name", validate=True)
    with pytest.raises(UserErrorException, match="not in the dataset"):
        people.with_timestamp_columns("nope", validate=True)
    with pytest.warns(DeprecationWarning, match="fine_grain_timestamp"):
        assert people.with_timestamp_columns(fine_grain_timestamp="when").timestamp_columns == \
            ("when", None)


def test_time_recent_keeps_recent_rows(workspace, tmp_path):
    now = datetime.datetime.now()
    rows = "id,at\n" + "".join(f"{i},{(now - datetime.timedelta(hours=h)).isoformat()}\n"
                               for i, h in [(1, 1), (2, 30), (3, 2)])
    (tmp_path / "recent.csv").write_text(rows)
    ds = Dataset.Tabular.from_delimited_files(str(tmp_path / "recent.csv")) \
        .with_timestamp_columns("at", validate=True)
    assert _ids(ds.time_recent(datetime.timedelta(hours=5))) == [1, 3]


# -- conversions -------------------------------------------------------------------------------
def test_to_csv_and_parquet_files_write_to_the_default_datastore(people, workspace):
    default = workspace.get_default_datastore()
    csv = people.keep_columns(["id", "name"]).to_csv_files(separator=";")
    assert type(csv).__name__ == "FileDataset" and csv.to_path() == ["/part-00000.csv"]
    folder = Path(default.url[len("file://"):]) / "amlocal-converted"
    written = sorted(p for p in folder.rglob("*") if p.is_file())
    assert len(written) == 1 and written[0].read_text().splitlines()[:2] == ["id;name", "1;alice"]
    parquet = people.to_parquet_files()
    back = Dataset.Tabular.from_parquet_files((default, parquet._definition["sources"][0]["path"]))
    assert back.to_pandas_dataframe()["name"].tolist() == ["alice", "bob", "carol", "dave", "eve"]
    with pytest.raises(UserErrorException, match="one character"):
        people.to_csv_files(separator="::")


def test_to_dask_and_spark_need_their_packages(people):
    try:
        import dask.dataframe  # noqa: F401
    except ImportError:
        with pytest.raises(UserErrorException, match="pip install dask"):
            people.to_dask_dataframe()
    else:
        assert people.to_dask_dataframe().compute()["id"].tolist() == [1, 2, 3, 4, 5]
    try:
        import pyspark  # noqa: F401
    except ImportError:
        with pytest.raises(UserErrorException, match="pip install pyspark"):
            people.to_spark_dataframe()


def test_tabular_download_and_mount_raise_and_profiles_are_cloud_only(people):
    for method in (people.download, people.mount):
        with pytest.raises(UserErrorException, match="needs a stream column"):
            method("Path")
    for name in ("get_profile", "get_profile_runs", "submit_profile_run"):
        with pytest.raises(CloudOnlyError, match="describe"):
            getattr(people, name)()


def test_from_json_lines_files(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"a": 1, "b": "x"}\n\n{"a": 2, "b": "y", "c": [1]}\n')
    (tmp_path / "bad.jsonl").write_text('{"a": 3}\nnot json\n')
    ds = Dataset.Tabular.from_json_lines_files(str(tmp_path / "a.jsonl"), include_path=True)
    frame = ds.to_pandas_dataframe()
    assert frame["a"].tolist() == [1, 2] and frame["Path"].tolist() == ["/a.jsonl"] * 2
    with pytest.raises(UserErrorException, match="line 2 of .*bad.jsonl is not a JSON object"):
        Dataset.Tabular.from_json_lines_files(str(tmp_path / "bad.jsonl")).to_pandas_dataframe()
    dropped = Dataset.Tabular.from_json_lines_files(str(tmp_path / "bad.jsonl"),
                                                    invalid_lines="drop")
    assert dropped.to_pandas_dataframe()["a"].tolist() == [3]
    with pytest.raises(UserErrorException, match="invalid_lines"):
        Dataset.Tabular.from_json_lines_files(str(tmp_path / "a.jsonl"), invalid_lines="skip")


def test_register_pandas_dataframe(lake, workspace, capsys):
    from amlocal.data.datapath import DataPath
    frame = pd.DataFrame({"x": [1, 2, 3], 7: ["a", "b", "c"]})
    ds = Dataset.Tabular.register_pandas_dataframe(frame, DataPath(lake, "frames"), "frame",
                                                   description="three rows", tags={"k": "v"})
    assert (ds.name, ds.version, ds.description, ds.tags) == ("frame", 1, "three rows", {"k": "v"})
    assert "Successfully created and registered a new dataset." in capsys.readouterr().out
    back = Dataset.get_by_name(workspace, "frame").to_pandas_dataframe()
    assert back.columns.tolist() == ["x", "7"] and back["x"].tolist() == [1, 2, 3]
    files = sorted(Path(lake.url[len("file://"):], "frames").rglob("*.parquet"))
    assert len(files) == 1 and files[0].name == "dataframe.parquet"   # below a new guid folder
    again = Dataset.Tabular.register_pandas_dataframe(
        frame.head(1), (lake, "fixed"), "frame", show_progress=False, make_target_path_unique=False)
    assert again.version == 2 and again.to_pandas_dataframe()["x"].tolist() == [1]
    assert Path(lake.url[len("file://"):], "fixed", "dataframe.parquet").is_file()
    with pytest.raises(UserErrorException, match="pandas DataFrame"):
        Dataset.Tabular.register_pandas_dataframe([1, 2], (lake, "x"), "bad")
    with pytest.raises(UserErrorException, match="target"):
        Dataset.Tabular.register_pandas_dataframe(frame, "not a target", "bad")


def test_spark_factory_is_cloud_only_and_sql_needs_a_sql_datastore():
    with pytest.raises(CloudOnlyError, match="register_pandas_dataframe"):
        Dataset.Tabular.register_spark_dataframe(None, None, "x")
    with pytest.raises(UserErrorException, match="Invalid argument value or type"):
        Dataset.Tabular.from_sql_query("select 1")   # tests/datastores/test_sql_*.py: the rest


# -- FileDataset -------------------------------------------------------------------------------
def test_file_selections(lake):
    ds = Dataset.File.from_files((lake, "files"))
    everything = ["/f1.txt", "/f2.bin", "/f3.txt", "/f4.bin", "/sub/f5.txt", "/sub/f6.bin"]
    assert ds.to_path() == everything
    assert ds.take(2).to_path() == everything[:2] and ds.skip(4).to_path() == everything[4:]
    first, second = ds.random_split(0.5, seed=1)
    assert sorted(first.to_path() + second.to_path()) == everything
    assert not set(first.to_path()) & set(second.to_path())
    assert ds.take_sample(0.5, seed=2).to_path() == ds.take_sample(0.5, seed=2).to_path()
    assert ds.filter(ds.file_metadata("Size") > 350).to_path() == everything[3:]
    assert ds.filter(ds.file_metadata("Extension") == "txt").to_path() == \
        ["/f1.txt", "/f3.txt", "/sub/f5.txt"]
    assert ds.filter(ds.file_metadata("LastModifiedTime") > datetime.datetime(2000, 1, 1)) \
        .take(1).to_path() == ["/f1.txt"]
    with pytest.raises(UserErrorException, match="not a file metadata column"):
        ds.file_metadata("Owner")
    with pytest.raises(UserErrorException, match="reads file metadata only"):
        ds.filter(Dataset.Tabular.from_delimited_files((lake, "tables/people.csv"))["id"] > 1)
    # downloads follow the selection
    got = ds.skip(1).take(2).download()
    assert [Path(p).name for p in got] == ["f2.bin", "f3.txt"]


def test_selected_files_are_all_a_mount_binds(lake, workspace, tmp_path):
    import json
    from amlocal.data._transforms import select_files
    from amlocal.datastores.materialize import bind_input
    ds = Dataset.File.from_files((lake, "files"))
    picked = ds.filter(ds.file_metadata("Extension") == "bin")._to_definition()
    with pytest.raises(UserErrorException, match="select_files"):  # the layer above passes it
        bind_input(picked, "picked", "mount", None, Datastore._resolver(workspace), tmp_path)
    binding = bind_input(picked, "picked", "mount", None, Datastore._resolver(workspace), tmp_path,
                         select_files=select_files)
    assert binding.files == ["/f2.bin", "/f4.bin", "/sub/f6.bin"]
    assert sorted(m.target for m in binding.mounts) == \
        ["/amlocal/inputs/picked/f2.bin", "/amlocal/inputs/picked/f4.bin",
         "/amlocal/inputs/picked/sub/f6.bin"]
    assert json.loads(binding.step_definition)["bound"]["selected"] is True
    whole = bind_input(ds._to_definition(), "all", "mount", None, Datastore._resolver(workspace),
                       tmp_path)
    assert len(whole.mounts) == 1 and whole.content_digest != binding.content_digest


def test_mount_shows_the_files_and_cleans_up(lake, tmp_path):
    ds = Dataset.File.from_files((lake, "files"))
    with ds.take(3).mount() as context:
        root = Path(context.mount_point)
        assert sorted(os.listdir(root)) == ["f1.txt", "f2.bin", "f3.txt"]
        assert (root / "f2.bin").read_bytes() == b"x" * 200
    assert not root.exists()
    target = tmp_path / "mnt"
    target.mkdir()
    context = ds.mount(str(target))
    context.start()
    assert (target / "sub" / "f6.bin").read_bytes() == b"x" * 600
    context.stop()
    assert target.is_dir() and list(target.iterdir()) == []   # the user's folder stays, empty
    (target / "mine.txt").write_text("keep")
    with pytest.raises(UserErrorException, match="mount point must be empty"):
        ds.mount(str(target)).start()
    assert (target / "mine.txt").read_text() == "keep"
    gone = Dataset.File.from_files((lake, "nothing/*"), validate=False)
    with pytest.raises(UserErrorException, match="No file matches"):
        gone.mount().start()


def test_mount_of_a_blob_datastore_goes_through_the_cache(blob, tmp_path):
    (tmp_path / "up" / "d").mkdir(parents=True)
    (tmp_path / "up" / "d" / "one.txt").write_text("one")
    (tmp_path / "up" / "d" / "two.txt").write_text("two")
    blob.upload(str(tmp_path / "up"), show_progress=False)
    ds = Dataset.File.from_files((blob, "d"))
    with ds.mount() as context:
        root = Path(context.mount_point)
        assert sorted(os.listdir(root)) == ["one.txt", "two.txt"]
        assert (root / "two.txt").read_text() == "two"
        assert os.path.islink(root / "one.txt")
        assert "cache" in os.readlink(root / "one.txt")
    assert not root.exists()


def test_file_dataset_cloud_only_methods(lake):
    ds = Dataset.File.from_files((lake, "files"))
    for name, match in (("as_cache", "as_mount"), ("hydrate", "as_mount"),
                        ("as_hdfs", "as_download")):
        with pytest.raises(CloudOnlyError, match=match):
            getattr(ds, name)(None)


# -- registration metadata (AbstractDataset) ------------------------------------------------------
def test_update_tags_and_unregister(people, workspace):
    from amlocal.data.abstract_dataset import AbstractDataset
    assert isinstance(people, AbstractDataset)
    with pytest.raises(UserErrorException, match="must be registered"):
        people.add_tags({"a": "1"})
    ds = people.register(workspace, "people", description="first", tags={"a": "1"})
    added = ds.add_tags({"b": "2", "a": "1"})
    assert added.tags == {"a": "1", "b": "2"} and ds.tags == {"a": "1", "b": "2"}
    with pytest.raises(UserErrorException, match=r"different values for tags .*\['a'\]"):
        ds.add_tags({"a": "other"})
    assert ds.remove_tags(["a", "unknown"]).tags == {"b": "2"}
    updated = ds.update(description="second")
    assert (updated.description, updated.tags) == ("second", {"b": "2"})
    assert ds.update(tags={}).tags == {}
    stored = Dataset.get_by_name(workspace, "people")
    assert (stored.description, stored.tags) == ("second", {})
    people.keep_columns("id").register(workspace, "people", create_new_version=True)
    assert Dataset.get_by_name(workspace, "people").version == 2
    assert Dataset.get_by_name(workspace, "people", 1).description == "second"  # per version
    ds.unregister_all_versions()
    assert ds.name is None and "people" not in Dataset.get_all(workspace)
    with pytest.raises(NotFoundError):
        Dataset.get_by_name(workspace, "people")
    ds.unregister_all_versions()   # not registered any more: nothing happens, as in Azure


def test_data_changed_time(lake, people):
    changed = people.data_changed_time
    path = Path(lake.url[len("file://"):], "tables", "people.csv")
    expected = datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.timezone.utc)
    assert isinstance(changed, datetime.datetime)
    assert abs(changed - expected.replace(tzinfo=None)) < datetime.timedelta(seconds=1)


# -- the deprecated pre-2019 Dataset methods ------------------------------------------------------
def test_legacy_dataset_methods_forward_with_a_warning(lake, people, workspace):
    people.register(workspace, "people")
    with pytest.warns(DeprecationWarning, match="Dataset.get_by_name"):
        assert Dataset.get(workspace, name="people").name == "people"
    with pytest.warns(DeprecationWarning, match="Dataset.get_by_id"):
        assert Dataset.get(workspace, id=people.id).name == "people"
    with pytest.warns(DeprecationWarning, match="Dataset.get_all"):
        assert [d.name for d in Dataset.list(workspace)] == ["people"]
    with pytest.warns(DeprecationWarning, match="Dataset.Tabular.from_delimited_files"):
        old = Dataset.from_delimited_files((lake, "tables/people.csv"))
    with pytest.warns(DeprecationWarning, match=r"take\(count\).to_pandas_dataframe"):
        assert old.head(2)["name"].tolist() == ["alice", "bob"]
    with pytest.warns(DeprecationWarning, match="take_sample"):
        sampled = old.sample("simple_random", {"probability": 0.5, "seed": 1})
    assert _ids(sampled) == _ids(people.take_sample(0.5, seed=1))
    with pytest.warns(DeprecationWarning, match="Dataset.File.from_files"):
        assert Dataset.from_binary_files((lake, "files/sub")).to_path() == ["/f5.txt", "/f6.bin"]
    files = Dataset.File.from_files((lake, "files"))
    with pytest.raises(UserErrorException, match="FileDataset has no rows"):
        files.to_pandas_dataframe()
    for name in ("archive", "create_snapshot", "get_definitions", "diff", "from_excel_files"):
        with pytest.raises(CloudOnlyError, match="pre-2019 Dataset API"):
            getattr(people, name)()
    with pytest.warns(DeprecationWarning, match="Dataset.Tabular.from_sql_query"), \
            pytest.raises(UserErrorException, match="Invalid tuple"):
        Dataset.from_sql_query(None, "select 1")


# -- datastores ----------------------------------------------------------------------------------
def test_data_lake_gen2_registration(workspace):
    ds = Datastore.register_azure_data_lake_gen2(
        workspace, "lake2", "raw", "myaccount", tenant_id="t", client_id="c",
        client_secret="s3cret")
    assert ds.datastore_type == "AzureDataLakeGen2" and ds.url == "abfs://raw"
    assert ds._storage_options == {"account_name": "myaccount", "tenant_id": "t",
                                   "client_id": "c", "client_secret": "s3cret"}
    assert "s3cret" not in repr(ds)
    with pytest.raises(UserErrorException, match="tenant_id, client_id and client_secret"):
        Datastore.register_azure_data_lake_gen2(workspace, "x", "raw", "myaccount", client_id="c")
    with pytest.raises(UserErrorException, match="container name"):
        Datastore.register_azure_data_lake_gen2(workspace, "x", "Bad_Name", "myaccount")


def test_data_lake_gen2_reads_through_adlfs(workspace, azurite, container, tmp_path):
    """Azurite serves no Gen2 (dfs) endpoint and no service principals: this reads a public
    container anonymously through the Gen2 registration's blob endpoint."""
    from azure.storage.blob import BlobServiceClient
    service = BlobServiceClient.from_connection_string(azurite.connection_string())
    service.create_container(container, public_access="container")
    service.get_blob_client(container, "data/rows.csv").upload_blob(b"a,b\n1,2\n3,4\n")
    store = Datastore.register_azure_data_lake_gen2(workspace, "gen2", container,
                                                    azurite.account, endpoint=azurite.endpoint)
    table = Dataset.Tabular.from_delimited_files((store, "data/*.csv"))
    assert table.to_pandas_dataframe()["b"].tolist() == [2, 4]


@pytest.mark.parametrize("name", ["register_azure_file_share", "register_azure_data_lake",
                                  "register_dbfs", "register_hdfs"])
def test_other_datastore_kinds_are_cloud_only_with_azure_signatures(workspace, name):
    method = getattr(Datastore, name)
    assert "Azure's signature: Datastore." + name + "(workspace, datastore_name" in method.__doc__
    with pytest.raises(CloudOnlyError, match="Datastore.register"):
        method(workspace, "x")


def test_no_deprecation_noise_from_modern_methods(people):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        people.keep_columns("id").take(2).to_pandas_dataframe()


def test_register_dask_dataframe(lake, workspace):
    frame = pd.DataFrame({"x": range(10), "y": [f"r{i}" for i in range(10)]})
    try:
        import dask.dataframe as dd
    except ImportError:
        with pytest.raises(UserErrorException, match="pip install dask"):
            Dataset.Tabular.register_dask_dataframe(frame, (lake, "dask"), "dasked")
        return
    ds = Dataset.Tabular.register_dask_dataframe(dd.from_pandas(frame, npartitions=3),
                                                 (lake, "dask"), "dasked", show_progress=False)
    assert (ds.name, ds.version) == ("dasked", 1)
    back = Dataset.get_by_name(workspace, "dasked").to_pandas_dataframe().sort_values("x")
    assert back["x"].tolist() == list(range(10)) and back["y"].tolist()[:2] == ["r0", "r1"]
    assert len(Dataset.get_by_name(workspace, "dasked").to_dask_dataframe(sample_size=4)
               .compute()) == 10
    with pytest.raises(UserErrorException, match="dask DataFrame"):
        Dataset.Tabular.register_dask_dataframe(frame, (lake, "dask"), "bad")
