"""Dataset registration on a real store: versions, Azure's 409 message, lookups, ws.datasets,
lineage in definitions, (workspace, name[, version]) inputs, and `amlocal dataset list|show`."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from amlocal.cli import cli
from amlocal.core.dataset import Dataset
from amlocal.core.datastore import Datastore
from amlocal.core.workspace import Workspace
from amlocal.data import DatasetConsumptionConfig, FileDataset, TabularDataset
from amlocal.datastores.materialize import bind_input
from amlocal.errors import NotFoundError, UserErrorException


@pytest.fixture
def ds(workspace, tmp_path):
    src = tmp_path / "src"
    (src / "data").mkdir(parents=True)
    (src / "data/jan.csv").write_text("a,b\n1,2\n")
    (src / "data/feb.csv").write_text("a,b\n3,4\n")
    store = Datastore(workspace)
    store.upload(str(src), show_progress=False)
    return store


def test_register_versions_and_azure_409(workspace, ds):
    jan = Dataset.File.from_files((ds, "data/jan.csv"))
    assert jan.name is None and jan.version is None
    v1 = jan.register(workspace, "sales", description="January", tags={"month": "1"})
    assert (v1.name, v1.version, v1.description, v1.tags) == ("sales", 1, "January", {"month": "1"})
    assert isinstance(v1, FileDataset) and v1.id == jan.id and jan.name is None
    assert jan.register(workspace, "sales").version == 1     # identical definition: same version
    both = Dataset.File.from_files((ds, "data/*.csv"))
    with pytest.raises(UserErrorException, match="Specify `create_new_version=True`"):
        both.register(workspace, "sales")
    v2 = both.register(workspace, "sales", create_new_version=True)
    assert v2.version == 2 and v2.to_path() == ["/feb.csv", "/jan.csv"]


def test_lookups_get_by_name_id_all_and_workspace_datasets(workspace, ds):
    Dataset.File.from_files((ds, "data/jan.csv")).register(workspace, "sales")
    tab = Dataset.Tabular.from_delimited_files((ds, "data/*.csv"))
    tab.register(workspace, "sales", create_new_version=True)
    Dataset.File.from_files((ds, "data")).register(workspace, "raw")

    latest = Dataset.get_by_name(workspace, "sales")
    assert isinstance(latest, TabularDataset) and latest.version == 2
    assert latest.to_pandas_dataframe()["a"].tolist() == [3, 1]
    first = Dataset.get_by_name(workspace, "sales", version=1)
    assert isinstance(first, FileDataset) and first.to_path() == ["/jan.csv"]
    assert Dataset.get_by_name(workspace, "sales", "2").id == tab.id
    assert Dataset.get_by_id(workspace, tab.id).version == 2
    every = Dataset.get_all(workspace)
    assert {n: d.version for n, d in every.items()} == {"raw": 1, "sales": 2}
    assert {n: d.version for n, d in workspace.datasets.items()} == {"raw": 1, "sales": 2}
    # a fresh Workspace object on the same home sees the same registrations
    again = Workspace("00000000-0000-0000-0000-000000000000", "test-rg", "testws")
    assert Dataset.get_by_name(again, "raw").to_path() == ["/feb.csv", "/jan.csv"]

    with pytest.raises(NotFoundError, match=r'name "nope" \(version: latest\).*raw, sales'):
        Dataset.get_by_name(workspace, "nope")
    with pytest.raises(NotFoundError, match=r"version: 7.*Versions of 'sales': 1, 2"):
        Dataset.get_by_name(workspace, "sales", 7)
    with pytest.raises(UserErrorException, match="'latest' or a version number"):
        Dataset.get_by_name(workspace, "sales", "newest")
    with pytest.raises(NotFoundError, match="amlocal dataset list"):
        Dataset.get_by_id(workspace, "0" * 64)


def test_invalid_names_tags_and_foreign_datastores_are_refused(workspace, ds, tmp_path):
    jan = Dataset.File.from_files((ds, "data/jan.csv"))
    for bad in ["", " padded ", "a/b", 7]:
        with pytest.raises(UserErrorException, match="dataset name"):
            jan.register(workspace, bad)
    with pytest.raises(UserErrorException, match="tags must be"):
        jan.register(workspace, "x", tags=["not", "a", "dict"])
    lake = Datastore.register(workspace, "lake", str(tmp_path / "src"))
    on_lake = Dataset.File.from_files((lake, "data/jan.csv"))
    other = Workspace("00000000-0000-0000-0000-000000000000", "test-rg", "otherws")
    with pytest.raises(UserErrorException, match="datastore\\(s\\) lake.*does not have"):
        on_lake.register(other, "jan")
    assert other.datasets == {}


def test_registered_definition_carries_lineage_and_keeps_its_id(workspace, ds, tmp_path):
    jan = Dataset.File.from_files((ds, "data/jan.csv"))
    v1 = jan.register(workspace, "sales")
    definition = v1._to_definition()
    assert definition["registered"] == {"name": "sales", "version": 1}
    assert "registered" not in jan._to_definition()
    rebuilt = Dataset._from_definition(definition, workspace)
    assert (rebuilt.name, rebuilt.version, rebuilt.id) == ("sales", 1, jan.id)
    binding = bind_input(definition, "sales_in", "mount", None, Datastore._resolver(workspace),
                         tmp_path / "st")
    assert binding.registered == {"name": "sales", "version": 1}
    assert binding.dataset_id == jan.id
    plain = bind_input(jan._to_definition(), "x", "direct", None,
                       Datastore._resolver(workspace), tmp_path / "st")
    assert plain.registered is None and plain.value == jan.id


def test_consumption_config_accepts_workspace_name_version_tuples(workspace, ds):
    Dataset.File.from_files((ds, "data/jan.csv")).register(workspace, "sales")
    Dataset.File.from_files((ds, "data")).register(workspace, "sales", create_new_version=True)
    latest = DatasetConsumptionConfig("inp", (workspace, "sales"), "mount")
    assert latest.dataset.version == 2
    assert latest._to_definition()["dataset"]["registered"] == {"name": "sales", "version": 2}
    pinned = DatasetConsumptionConfig("inp", (workspace, "sales", 1))
    assert pinned.dataset.version == 1 and pinned.dataset.to_path() == ["/jan.csv"]
    with pytest.raises(NotFoundError):
        DatasetConsumptionConfig("inp", (workspace, "unknown"))
    with pytest.raises(UserErrorException, match="\\(workspace, 'dataset name'\\)"):
        DatasetConsumptionConfig("inp", ("not a workspace", "sales"))


def test_cli_dataset_list_and_show(workspace, ds):
    runner = CliRunner()

    def amlocal(*args):
        return runner.invoke(cli, [*args, "-w", workspace.name], catch_exceptions=False)

    empty = amlocal("dataset", "list")
    assert empty.exit_code == 0 and "no registered datasets" in empty.output
    Dataset.File.from_files((ds, "data/jan.csv")).register(workspace, "sales", "Jan only",
                                                           tags={"k": "v"})
    Dataset.File.from_files((ds, "data")).register(workspace, "sales", "All months",
                                                   create_new_version=True)
    table = amlocal("dataset", "list")
    assert table.exit_code == 0
    row = next(line.split() for line in table.output.splitlines() if line.startswith("sales"))
    assert row[:4] == ["sales", "2", "2", "FileDataset"]
    listed = json.loads(amlocal("dataset", "list", "-o", "json").output)
    assert [(d["name"], d["version"], d["versions"]) for d in listed] == [("sales", 2, [1, 2])]
    shown = json.loads(amlocal("dataset", "show", "sales", "--version", "1", "-o", "json").output)
    assert (shown["version"], shown["description"], shown["tags"]) == (1, "Jan only", {"k": "v"})
    assert shown["sources"] == ["('workspaceblobstore', 'data/jan.csv')"]
    text = amlocal("dataset", "show", "sales")
    assert "All months" in text.output and "('workspaceblobstore', 'data')" in text.output
    missing = runner.invoke(cli, ["dataset", "show", "nope", "-w", workspace.name])
    assert missing.exit_code == 1 and 'Cannot find dataset registered with name "nope"' in missing.output


def test_register_output_makes_a_new_version_per_run(workspace, ds):
    from amlocal.data import OutputFileDatasetConfig
    from amlocal.data.output_dataset_config import register_output
    out = OutputFileDatasetConfig("prepared").register_on_complete("prepared_data", "by step",
                                                                   {"stage": "prep"})
    assert register_output(workspace, OutputFileDatasetConfig("plain")._to_definition(), "x") is None
    first = register_output(workspace, out._to_definition(), "data")
    assert (first.name, first.version, first.tags) == ("prepared_data", 1, {"stage": "prep"})
    assert first.to_path() == ["/feb.csv", "/jan.csv"]
    second = register_output(workspace, out._to_definition(), "data/jan.csv")
    assert second.version == 2 and Dataset.get_by_name(workspace, "prepared_data").to_path() == ["/jan.csv"]
