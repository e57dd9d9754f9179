"""Sources that match no file: validation, to_pandas_dataframe and download raise naming each
such source (never an empty frame); azureml.data.dataset_factory's names and DataType."""
from __future__ import annotations

import pytest

from amlocal.core.dataset import Dataset
from amlocal.core.datastore import Datastore
from amlocal.errors import UserErrorException


@pytest.fixture
def lake(workspace, tmp_path):
    root = tmp_path / "lake"
    (root / "t").mkdir(parents=True)
    (root / "t/a.csv").write_text("x,y\n1,2\n")
    (root / "t/b.csv").write_text("x,y\n3,4\n")
    return Datastore.register(workspace, "lake", url=str(root))


def test_validation_names_each_source_that_matches_nothing(lake):
    with pytest.raises(UserErrorException, match=r"No file matches \('lake', 'gone.csv'\)\. Check"):
        Dataset.Tabular.from_delimited_files([(lake, "t/*.csv"), (lake, "gone.csv")])
    with pytest.raises(UserErrorException, match=r"Cannot load any data.*\('lake', 'none/\*\*'\)"):
        Dataset.File.from_files((lake, "none/**"))


def test_unvalidated_missing_sources_raise_when_read_not_an_empty_frame(lake, tmp_path):
    missing = Dataset.Tabular.from_delimited_files((lake, "gone/*.csv"), validate=False)
    with pytest.raises(UserErrorException, match=r"No file matches \('lake', 'gone/\*.csv'\)"):
        missing.to_pandas_dataframe()
    # one good and one missing source: still an error naming only the missing one
    mixed = Dataset.Tabular.from_delimited_files([(lake, "t/a.csv"), (lake, "t/zzz.csv")],
                                                 validate=False)
    with pytest.raises(UserErrorException, match=r"No file matches \('lake', 't/zzz.csv'\)\."):
        mixed.to_pandas_dataframe()
    files = Dataset.File.from_files([(lake, "t"), (lake, "old/*.txt")], validate=False)
    with pytest.raises(UserErrorException,
                       match=r"\('lake', 'old/\*.txt'\).*ignore_not_found=True"):
        files.download(str(tmp_path / "dl"))
    assert not (tmp_path / "dl").exists()       # nothing copied before the error
    got = files.download(str(tmp_path / "dl"), ignore_not_found=True)
    assert sorted(p.rsplit("/", 1)[1] for p in got) == ["a.csv", "b.csv"]
    # a file that disappears after the dataset was made is found missing at read time
    ok = Dataset.Tabular.from_delimited_files((lake, "t/b.csv"))
    (tmp_path / "lake/t/b.csv").unlink()
    with pytest.raises(UserErrorException, match=r"\('lake', 't/b.csv'\)"):
        ok.to_pandas_dataframe()


def test_url_sources_are_named_with_their_url(tmp_path):
    missing = Dataset.Tabular.from_delimited_files(str(tmp_path / "nope.csv"), validate=False)
    with pytest.raises(UserErrorException, match=r"No file matches 'file://.*/nope.csv'"):
        missing.to_pandas_dataframe()


def test_dataset_factory_module_is_the_home_of_the_factories(lake, tmp_path):
    from amlocal.data import dataset_factory, file_dataset, tabular_dataset
    assert Dataset.File is dataset_factory.FileDatasetFactory
    assert Dataset.Tabular is dataset_factory.TabularDatasetFactory
    assert file_dataset.FILENAME_LENGTH_ERROR_MESSAGE == "exceeds the maximum allowed length"
    assert tabular_dataset.TabularDataset is type(
        dataset_factory.TabularDatasetFactory.from_delimited_files((lake, "t/*.csv")))


def test_data_types_convert_columns(lake, tmp_path):
    from amlocal.data.dataset_factory import DataType
    (tmp_path / "lake/typed.csv").write_text(
        "n;f;s;b;d\n1;1.234,5;x;true;03/04/2021\n2;7,25;y;False;2021-12-31\n")
    t = Dataset.Tabular.from_delimited_files(
        (lake, "typed.csv"), separator=";", set_column_types={
            "n": DataType.to_long(), "f": DataType.to_float(decimal_mark=","),
            "s": DataType.to_string(), "b": DataType.to_bool(),
            "d": DataType.to_datetime(["%d/%m/%Y", "%Y-%m-%d"])})
    frame = t.to_pandas_dataframe()
    assert str(frame["n"].dtype) == "Int64" and frame["n"].tolist() == [1, 2]
    assert frame["f"].tolist() == [1234.5, 7.25]
    assert str(frame["s"].dtype) == "string" and frame["b"].tolist() == [True, False]
    assert [d.date().isoformat() for d in frame["d"]] == ["2021-04-03", "2021-12-31"]
    assert DataType.to_long() == DataType.to_long() != DataType.to_string()
    with pytest.raises(UserErrorException, match="decimal_mark"):
        DataType.to_float(decimal_mark=";")
    with pytest.raises(UserErrorException, match="not supported locally"):
        DataType.to_stream(lake.workspace)


def test_upload_directory_returns_a_file_dataset_of_the_target(lake, tmp_path):
    src = tmp_path / "up"
    (src / "sub").mkdir(parents=True)
    (src / "one.png").write_bytes(b"1")
    (src / "sub/two.png").write_bytes(b"2")
    (src / "skip.txt").write_text("no")
    ds = Dataset.File.upload_directory(str(src), (lake, "images"), pattern="*.png",
                                       show_progress=False)
    assert ds.to_path() == ["/one.png", "/sub/two.png"]
    assert (tmp_path / "lake/images/sub/two.png").read_bytes() == b"2"
    assert not (tmp_path / "lake/images/skip.txt").exists()
    with pytest.raises(UserErrorException, match="no file below"):
        Dataset.File.upload_directory(str(src), (lake, "x"), pattern="*.gif")
