"""bind_input and env_for_inputs: what a step's container receives for each dataset input."""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from amlocal.compute.base import Mount
from amlocal.datastores.materialize import InputBinding, bind_input, env_for_inputs
from amlocal.errors import NotFoundError, UserErrorException


@pytest.fixture
def lake(tmp_path):
    root = tmp_path / "lake"
    for rel in ["models/x/input.csv", "data/jan.csv", "data/feb/feb.csv", "data/notes.txt",
                "other/o.csv"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(f"content of {rel}\n")
    return root


@pytest.fixture
def resolve(lake):
    stores = {"lake": (lake.as_uri(), {})}

    def resolve_datastore(name):
        if name not in stores:
            raise NotFoundError(f"no datastore named '{name}'")
        return stores[name]
    resolve_datastore.stores = stores
    return resolve_datastore


def file_def(*paths, store="lake"):
    return {"schema_version": 1, "type": "FileDataset",
            "sources": [{"datastore": store, "path": p} for p in paths],
            "partition_format": None, "is_file": False}


def test_single_file_mount_binds_only_that_file(lake, resolve, tmp_path):
    b = bind_input(file_def("/models/x/input.csv"), "raw", "mount", None, resolve, tmp_path / "st")
    assert isinstance(b, InputBinding)
    assert b.value == "/amlocal/inputs/raw/input.csv"
    assert b.mounts == (Mount(str(lake / "models/x/input.csv"), "/amlocal/inputs/raw/input.csv", True),)
    assert b.env["raw"] == b.env["RAW"] == b.env["AZUREML_DATAREFERENCE_raw"] == b.value
    assert b.files == ["/input.csv"]
    assert not (tmp_path / "st").exists()  # mount copies nothing


def test_folder_mount_binds_the_folder_itself(lake, resolve, tmp_path):
    for pattern in ["data", "data/**", "data/"]:
        b = bind_input(file_def(pattern), "d", "mount", None, resolve, tmp_path / "st")
        assert b.value == "/amlocal/inputs/d"
        assert b.mounts == (Mount(str(lake / "data"), "/amlocal/inputs/d", True),)
        assert b.files == ["/feb/feb.csv", "/jan.csv", "/notes.txt"]


def test_glob_mount_binds_each_match_below_the_fixed_prefix(lake, resolve, tmp_path):
    b = bind_input(file_def("data/**/*.csv"), "g", "mount", "/mnt/in", resolve, tmp_path / "st")
    assert b.value == "/mnt/in"
    assert sorted(b.mounts, key=lambda m: m.target) == [
        Mount(str(lake / "data/feb/feb.csv"), "/mnt/in/feb/feb.csv", True),
        Mount(str(lake / "data/jan.csv"), "/mnt/in/jan.csv", True)]
    assert all(m.read_only for m in b.mounts)


def test_folder_and_file_inside_it_do_not_nest_mounts(lake, resolve, tmp_path):
    b = bind_input(file_def("data", "data/jan.csv", "other/o.csv"), "mix", "mount", None, resolve,
                   tmp_path / "st")
    targets = sorted(m.target for m in b.mounts)
    assert targets == ["/amlocal/inputs/mix/data", "/amlocal/inputs/mix/other/o.csv"]
    assert "/data/jan.csv" in b.files and "/other/o.csv" in b.files


def test_relative_path_on_compute_is_below_the_working_directory(resolve, tmp_path):
    b = bind_input(file_def("data"), "d", "mount", "inputs/d", resolve, tmp_path / "st")
    assert b.value == "/amlocal/wd/inputs/d"
    with pytest.raises(UserErrorException, match="'..' is not allowed"):
        bind_input(file_def("data"), "d", "mount", "../../etc", resolve, tmp_path / "st")


def test_download_mode_copies_into_staging_and_mounts_it(lake, resolve, tmp_path):
    staging = tmp_path / "st"
    (staging / "d" / "stale.txt").parent.mkdir(parents=True)
    (staging / "d" / "stale.txt").write_text("old")
    b = bind_input(file_def("data/**/*.csv"), "d", "download", None, resolve, staging)
    assert b.value == "/amlocal/inputs/d"
    assert b.mounts == (Mount(str((staging / "d").resolve()), "/amlocal/inputs/d", True),)
    copied = sorted(p.relative_to(staging / "d").as_posix() for p in (staging / "d").rglob("*")
                    if p.is_file())
    assert copied == ["feb/feb.csv", "jan.csv"]
    assert (staging / "d/jan.csv").read_text() == "content of data/jan.csv\n"
    one = bind_input(file_def("models/x/input.csv"), "one", "download", None, resolve, staging)
    assert one.value == "/amlocal/inputs/one/input.csv"
    assert (staging / "one/input.csv").exists()


def test_direct_mode_passes_the_dataset_id_and_binds_the_files_with_a_step_definition(
        lake, resolve, tmp_path):
    import json
    from amlocal.datastores import definition_id
    definition = {**file_def("data", "models/x/input.csv"), "registered": {"name": "n", "version": 2}}
    b = bind_input(definition, "d", "direct", None, resolve, tmp_path / "st")
    assert b.value == definition_id(definition) == b.dataset_id and b.env["d"] == b.value
    # the files are bound read-only at their portable paths, as in mount mode
    assert set(b.mounts) == {Mount(str(lake / "data"), "/amlocal/inputs/d/data", True),
                             Mount(str(lake / "models/x/input.csv"),
                                   "/amlocal/inputs/d/models/x/input.csv", True)}
    step = json.loads(b.step_definition)
    assert definition_id(step) == b.dataset_id and step["registered"] == definition["registered"]
    assert step["sources"] == definition["sources"]          # what the dataset names is kept
    assert step["bound"] == {"root": "/amlocal/inputs/d", "sources": [
        {"base": "", "pattern": "data"}, {"base": "", "pattern": "models/x/input.csv"}]}
    assert not (tmp_path / "st").exists()  # nothing copied for local files


def test_direct_mode_of_a_missing_source_binds_nothing_and_does_not_raise(resolve, tmp_path):
    b = bind_input(file_def("nothing/*.csv"), "d", "direct", None, resolve, tmp_path / "st")
    assert b.mounts == () and b.files == []


def test_mount_on_a_non_file_protocol_goes_through_the_cache(resolve, tmp_path):
    import fsspec
    url = f"memory://amlocal-mat-{uuid.uuid4().hex[:8]}"
    fs = fsspec.filesystem("memory")
    root = "/" + url[len("memory://"):]
    fs.pipe(root + "/in/a.txt", b"a")
    cache = tmp_path / "cache"
    try:
        resolve.stores["mem"] = (url, {})
        b = bind_input(file_def("in", store="mem"), "m", "mount", None, resolve, tmp_path / "st",
                       cache_dir=cache)
        tree = Path(b.mounts[0].source)
        assert b.mounts == (Mount(str(tree), "/amlocal/inputs/m", True),)
        assert tree.parent == (cache / "trees").resolve()
        assert (tree / "a.txt").read_bytes() == b"a" and b.fetched == 1
        assert not (tmp_path / "st").exists()  # nothing staged
        again = bind_input(file_def("in", store="mem"), "m", "mount", None, resolve,
                           tmp_path / "st", cache_dir=cache)
        assert again.mounts == b.mounts and again.fetched == 0
        copy = bind_input(file_def("in", store="mem"), "m", "download", None, resolve,
                          tmp_path / "st", cache_dir=cache)
        assert copy.fetched == 0 and (tmp_path / "st/m/a.txt").read_bytes() == b"a"
    finally:
        fs.rm(root, recursive=True)


def test_content_digest_changes_with_the_files_not_with_the_binding(lake, resolve, tmp_path):
    first = bind_input(file_def("data"), "d", "mount", None, resolve, tmp_path / "st")
    same = bind_input(file_def("data"), "other_name", "download", None, resolve, tmp_path / "st")
    assert first.content_digest == same.content_digest
    (lake / "data/new.csv").write_text("new")
    assert bind_input(file_def("data"), "d", "mount", None, resolve,
                      tmp_path / "st").content_digest != first.content_digest
    os.utime(lake / "data/jan.csv", ns=(1, 1))
    later = bind_input(file_def("data"), "d", "mount", None, resolve, tmp_path / "st")
    assert later.content_digest != first.content_digest


def test_errors_name_the_problem(resolve, tmp_path):
    with pytest.raises(UserErrorException, match=r"No file matches \('lake', 'nothing/\*.csv'\)"):
        bind_input(file_def("nothing/*.csv"), "d", "mount", None, resolve, tmp_path / "st")
    with pytest.raises(UserErrorException, match=r"input 'd'.*No file matches \('lake', 'gone.csv'\)"):
        bind_input(file_def("data", "gone.csv"), "d", "download", None, resolve, tmp_path / "st")
    with pytest.raises(UserErrorException, match="not valid"):
        bind_input(file_def("data"), "bad-name", "mount", None, resolve, tmp_path / "st")
    with pytest.raises(UserErrorException, match="mount, download, direct"):
        bind_input(file_def("data"), "d", "hdfs", None, resolve, tmp_path / "st")
    with pytest.raises(UserErrorException, match="'..' is not allowed"):
        bind_input(file_def("../lake/data"), "d", "mount", None, resolve, tmp_path / "st")
    with pytest.raises(NotFoundError):
        bind_input(file_def("data", store="gone"), "d", "mount", None, resolve, tmp_path / "st")
    tabular = {**file_def("data"), "type": "TabularDataset"}
    with pytest.raises(UserErrorException, match="Only FileDataset supports mount"):
        bind_input(tabular, "t", "mount", None, resolve, tmp_path / "st")
    assert bind_input(tabular, "t", "direct", None, resolve, tmp_path / "st").mounts == (
        Mount(str(tmp_path / "lake/data"), "/amlocal/inputs/t", True),)


def test_env_for_inputs_lists_names_and_modes(resolve, tmp_path):
    a = bind_input(file_def("data"), "n1", "mount", None, resolve, tmp_path / "st")
    b = bind_input(file_def("data"), "n2", "direct", None, resolve, tmp_path / "st")
    env = env_for_inputs([a, b])
    assert env["AZUREML_DATASET_ENVIRONMENT_VARS"] == "n1:mount,n2:direct"
    assert env["n1"] == "/amlocal/inputs/n1" and env["N2"] == b.value
    with pytest.raises(UserErrorException, match="named 'n1'"):
        env_for_inputs([a, a])


def test_end_to_end_with_sdk_dataset(home, tmp_path):
    """The definition a FileDataset freezes binds through the workspace's datastore resolver."""
    from amlocal.core.datastore import Datastore
    from amlocal.core.dataset import Dataset
    from amlocal.core.workspace import Workspace
    ws = Workspace("sub", "rg", "test_ws")
    src = tmp_path / "src"
    (src / "models/x").mkdir(parents=True)
    (src / "models/x/input.csv").write_text("a\n")
    ds = Datastore(ws)
    ds.upload(str(src), show_progress=False)
    cfg = Dataset.File.from_files((ds, "/models/x/input.csv")).as_named_input("raw").as_mount()
    b = bind_input(cfg.dataset._to_definition(), cfg.name, cfg.mode, cfg.path_on_compute,
                   Datastore._resolver(ws), tmp_path / "st")
    assert b.value == "/amlocal/inputs/raw/input.csv"
    assert Path(b.mounts[0].source).read_text() == "a\n"
