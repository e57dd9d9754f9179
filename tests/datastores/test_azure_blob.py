"""Azure Blob datastores against a real Azurite: registration and its errors, transfers,
file and tabular datasets, mounts through the local cache, outputs, and credentials that never
show."""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from amlocal.core.dataset import Dataset
from amlocal.core.datastore import Datastore
from amlocal.data.azure_storage_datastore import AzureBlobDatastore
from amlocal.datastores import upload_output
from amlocal.datastores.cache import local_cache_of
from amlocal.datastores.materialize import bind_input
from amlocal.errors import UserErrorException


@pytest.fixture
def folder(tmp_path):
    """A local folder: folder/a.csv, folder/b.csv, folder/sub/c.csv, folder/notes.txt, x.csv."""
    root = tmp_path / "upload"
    files = {"folder/a.csv": "id,v\n1,10\n2,20\n", "folder/b.csv": "id,v\n3,30\n",
             "folder/sub/c.csv": "id,v\n4,40\n", "folder/notes.txt": "not a table\n",
             "x.csv": "name,score\nann,1.5\nbob,2.5\n"}
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def _service(azurite):
    from azure.storage.blob import BlobServiceClient
    return BlobServiceClient.from_connection_string(azurite.connection_string())


def _resolver(ds):
    return Datastore._resolver(ds.workspace)


# -- registration ---------------------------------------------------------------------------------
def test_register_creates_the_container_and_mirrors_azure_attributes(workspace, azurite, container):
    assert not _service(azurite).get_container_client(container).exists()
    ds = Datastore.register_azure_blob_container(
        workspace, "blob", container, azurite.account, account_key=azurite.key,
        endpoint=azurite.endpoint, create_if_not_exists=True)
    assert _service(azurite).get_container_client(container).exists()
    assert isinstance(ds, AzureBlobDatastore)
    assert (ds.datastore_type, ds.container_name, ds.account_name) == \
        ("AzureBlob", container, "devstoreaccount1")
    assert ds.endpoint == azurite.endpoint and ds.protocol == "http"
    assert ds.credential_type == "AccountKey"
    again = Datastore(workspace, "blob")   # Azure returns the concrete class
    assert isinstance(again, AzureBlobDatastore) and again == ds
    assert isinstance(workspace.datastores["blob"], AzureBlobDatastore)
    # the same registration again is a no-op; another container needs overwrite=True
    assert Datastore.register_azure_blob_container(
        workspace, "blob", container, azurite.account, account_key=azurite.key,
        endpoint=azurite.endpoint).container_name == container
    with pytest.raises(UserErrorException, match="overwrite=True"):
        Datastore.register_azure_blob_container(
            workspace, "blob", "other-container", azurite.account, account_key=azurite.key,
            endpoint=azurite.endpoint, skip_validation=True)


def test_registration_errors_name_the_problem_and_register_nothing(workspace, azurite, container):
    def register(**changes):
        args = dict(container_name=container, account_name=azurite.account,
                    account_key=azurite.key, endpoint=azurite.endpoint)
        args.update(changes)
        return Datastore.register_azure_blob_container(workspace, "bad", **args)

    with pytest.raises(UserErrorException, match=f"container '{container}' does not exist.*"
                                                 "create_if_not_exists=True"):
        register()
    _service(azurite).create_container(container)
    wrong_key = "A" * 86 + "=="
    with pytest.raises(UserErrorException, match="refused the credentials") as err:
        register(account_key=wrong_key)
    assert wrong_key not in str(err.value)
    with pytest.raises(UserErrorException, match="refused the credentials \\(Invalid base64"):
        register(account_key="not base64!")
    with pytest.raises(UserErrorException, match="cannot reach the blob service.*skip_validation"):
        register(endpoint=f"http://127.0.0.1:{_closed_port()}/devstoreaccount1")
    with pytest.raises(UserErrorException, match="container name 'Bad_Name' is not valid"):
        register(container_name="Bad_Name")
    with pytest.raises(UserErrorException, match="protocol 'ftp' is not valid"):
        register(endpoint=None, protocol="ftp")
    assert "bad" not in workspace.datastores
    # skip_validation registers without asking the service
    ds = register(account_key=wrong_key, skip_validation=True)
    assert ds.container_name == container


def test_sas_token_registration_works_and_stays_hidden(workspace, azurite, container, capsys):
    from datetime import datetime, timedelta, timezone
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas
    _service(azurite).create_container(container)
    sas = generate_container_sas(azurite.account, container, account_key=azurite.key,
                                 permission=ContainerSasPermissions(read=True, list=True,
                                                                    write=True, create=True),
                                 expiry=datetime.now(timezone.utc) + timedelta(hours=1))
    ds = Datastore.register_azure_blob_container(workspace, "sas", container, azurite.account,
                                                 sas_token=sas, endpoint=azurite.endpoint)
    assert ds.credential_type == "Sas"
    src = Path(os.environ["AMLOCAL_HOME"]).parent / "sas-src"
    src.mkdir()
    (src / "f.txt").write_text("via sas")
    ds.upload(str(src), "in")
    assert Dataset.File.from_files((ds, "in/f.txt")).to_path() == ["/f.txt"]
    signature = sas.split("sig=")[1].split("&")[0]
    for text in (repr(ds), json.dumps(ds._display_dict()), capsys.readouterr().err):
        assert signature not in text and azurite.key not in text


# -- transfers and datasets -----------------------------------------------------------------------
def test_upload_then_file_dataset_to_path_download_and_datastore_download(blob, folder, tmp_path):
    blob.upload(str(folder), target_path="raw", show_progress=False)
    csvs = Dataset.File.from_files((blob, "raw/folder/*.csv"))
    assert csvs.to_path() == ["/a.csv", "/b.csv"]
    assert Dataset.File.from_files((blob, "raw/folder")).to_path() == \
        ["/a.csv", "/b.csv", "/notes.txt", "/sub/c.csv"]
    paths = csvs.download(str(tmp_path / "dl"))
    assert [Path(p).read_text() for p in paths] == ["id,v\n1,10\n2,20\n", "id,v\n3,30\n"]
    assert blob.download(str(tmp_path / "all"), prefix="raw/folder/sub", show_progress=False) == 1
    assert (tmp_path / "all/raw/folder/sub/c.csv").read_text() == "id,v\n4,40\n"
    with pytest.warns(UserWarning, match="skipped the upload of 5 file"):
        blob.upload(str(folder), target_path="raw", show_progress=False)
    with pytest.raises(UserErrorException, match=r"No file matches \('blob', 'raw/nothing/\*.csv'\)"):
        Dataset.File.from_files((blob, "raw/nothing/*.csv"))


def test_tabular_datasets_read_blobs(blob, folder):
    blob.upload(str(folder), show_progress=False)
    table = Dataset.Tabular.from_delimited_files((blob, "x.csv")).to_pandas_dataframe()
    assert table.to_dict("list") == {"name": ["ann", "bob"], "score": [1.5, 2.5]}
    many = Dataset.Tabular.from_delimited_files((blob, "folder/**/*.csv"), include_path=True)
    frame = many.to_pandas_dataframe()
    assert frame["v"].tolist() == [10, 20, 30, 40]
    assert frame["Path"].tolist() == ["/a.csv", "/a.csv", "/b.csv", "/sub/c.csv"]
    assert many.take(1).to_pandas_dataframe()["id"].tolist() == [1]


# -- mounts: the local cache ----------------------------------------------------------------------
def _definition(*paths):
    return {"schema_version": 1, "type": "FileDataset", "partition_format": None,
            "is_file": False, "sources": [{"datastore": "blob", "path": p} for p in paths]}


def test_mount_fills_the_cache_once_and_a_changed_blob_changes_digest_and_copy(
        blob, folder, azurite, home, tmp_path):
    blob.upload(str(folder), show_progress=False)
    definition = _definition("folder/**/*.csv")
    first = bind_input(definition, "data", "mount", None, _resolver(blob), tmp_path / "st")
    tree = Path(first.mounts[0].source)
    assert first.mounts[0].target == "/amlocal/inputs/data" and first.mounts[0].read_only
    assert tree.is_relative_to(home.resolve() / "cache" / "datasets" / "trees")
    assert first.fetched == 3 and first.files == ["/a.csv", "/b.csv", "/sub/c.csv"]
    assert (tree / "sub/c.csv").read_text() == "id,v\n4,40\n"
    assert not (tmp_path / "st").exists()     # nothing staged
    objects = sorted((home / "cache/datasets/objects").rglob("*"))
    before = {p: p.stat().st_mtime_ns for p in objects if p.is_file()}

    second = bind_input(definition, "data", "mount", None, _resolver(blob), tmp_path / "st")
    assert second.fetched == 0                # nothing downloaded again
    assert second.mounts == first.mounts and second.content_digest == first.content_digest
    assert {p: p.stat().st_mtime_ns for p in before} == before

    # another client rewrites one blob: new digest, new tree, only that object fetched
    _service(azurite).get_blob_client(blob.container_name, "folder/b.csv").upload_blob(
        b"id,v\n3,33\n", overwrite=True)
    changed = bind_input(definition, "data", "mount", None, _resolver(blob), tmp_path / "st")
    assert changed.content_digest != first.content_digest
    assert changed.fetched == 1
    new_tree = Path(changed.mounts[0].source)
    assert new_tree != tree and (new_tree / "b.csv").read_text() == "id,v\n3,33\n"
    assert (tree / "b.csv").read_text() == "id,v\n3,30\n"   # a running step's view never changes
    assert os.stat(new_tree / "a.csv").st_ino == os.stat(tree / "a.csv").st_ino   # shared object


def test_parallel_steps_binding_the_same_dataset_share_one_complete_tree(blob, folder, tmp_path):
    from concurrent.futures import ThreadPoolExecutor
    blob.upload(str(folder), show_progress=False)

    def bind(i):
        return bind_input(_definition("folder"), f"d{i}", "mount", None, _resolver(blob),
                          tmp_path / f"st{i}")
    with ThreadPoolExecutor(4) as pool:
        bindings = list(pool.map(bind, range(4)))
    trees = {b.mounts[0].source for b in bindings}
    assert len(trees) == 1
    tree = Path(trees.pop())
    assert sorted(str(p.relative_to(tree)) for p in tree.rglob("*") if p.is_file()) == \
        ["a.csv", "b.csv", "notes.txt", "sub/c.csv"]
    assert not [p for p in tree.parent.iterdir() if p.name.endswith(".tmp")]   # no leftovers


def test_single_file_mount_and_download_mode(blob, folder, tmp_path):
    blob.upload(str(folder), show_progress=False)
    one = bind_input(_definition("x.csv"), "table", "mount", None, _resolver(blob), tmp_path / "st")
    assert one.value == "/amlocal/inputs/table/x.csv"
    assert (Path(one.mounts[0].source) / "x.csv").read_text().startswith("name,score")
    copy = bind_input(_definition("folder/*.csv"), "d", "download", None, _resolver(blob),
                      tmp_path / "st")
    assert copy.mounts[0].source == str((tmp_path / "st" / "d").resolve())
    assert (tmp_path / "st/d/a.csv").read_text() == "id,v\n1,10\n2,20\n"
    with pytest.raises(UserErrorException, match="leaves the datastore"):
        bind_input(_definition("../other/x.csv"), "d", "mount", None, _resolver(blob),
                   tmp_path / "st")


# -- outputs ---------------------------------------------------------------------------------------
def test_upload_output_globs_refuses_overwrites_and_seeds_the_cache(blob, tmp_path, home):
    out = tmp_path / "out"
    (out / "model").mkdir(parents=True)
    (out / "model/weights.bin").write_bytes(b"\0" * 1000)
    (out / "metrics.json").write_text("{}")
    (out / "scratch.tmp").write_text("x")
    url, options = _resolver(blob)("blob")
    uploaded = upload_output(out, url, options, "runs/r1/trained",
                             source_globs=["model", "*.json"], show_progress=False)
    assert uploaded == ["runs/r1/trained/metrics.json", "runs/r1/trained/model/weights.bin"]
    with pytest.raises(UserErrorException, match="already exist.*overwrite=True"):
        upload_output(out, url, options, "runs/r1/trained", show_progress=False)
    assert upload_output(out, url, options, "runs/r1/trained", overwrite=True,
                         show_progress=False)[-1] == "runs/r1/trained/scratch.tmp"
    # a consumer of the output reads it from the cache the upload filled
    consumer = bind_input(_definition("runs/r1/trained"), "model_in", "mount", None,
                          _resolver(blob), tmp_path / "st")
    assert consumer.fetched == 0
    assert (Path(consumer.mounts[0].source) / "model/weights.bin").read_bytes() == b"\0" * 1000
    cached = local_cache_of(url, options, "runs/r1/trained")
    assert sorted(p.name for p in cached.rglob("*") if p.is_file()) == \
        ["metrics.json", "scratch.tmp", "weights.bin"]


# -- credentials ----------------------------------------------------------------------------------
def test_credentials_never_in_repr_listing_or_logs(workspace, azurite, container, folder, caplog,
                                                   capsys, tmp_path):
    caplog.set_level(logging.DEBUG)
    ds = Datastore.register_azure_blob_container(
        workspace, "blob", container, azurite.account, account_key=azurite.key,
        endpoint=azurite.endpoint, create_if_not_exists=True)
    ds.upload(str(folder), show_progress=True)
    bind_input(_definition("folder"), "d", "mount", None, _resolver(ds), tmp_path / "st",
               show_progress=True)
    from click.testing import CliRunner
    from amlocal.cli import cli
    listing = [CliRunner().invoke(cli, ["datastore", "list", "-w", workspace.name, *extra])
               for extra in ([], ["-o", "json"])]
    assert all(r.exit_code == 0 for r in listing), listing[0].output
    assert "AzureBlob" in listing[0].output and "az://" + container in listing[0].output
    shown = {d["name"]: d for d in json.loads(listing[1].output)}["blob"]
    assert shown["storage_options"] == {"account_name": "devstoreaccount1",
                                        "connection_string": "***"}
    assert shown["endpoint"] == azurite.endpoint and shown["container_name"] == container
    captured = capsys.readouterr()
    texts = [repr(ds), str(ds._display_dict()), repr(workspace.datastores), captured.out,
             captured.err, caplog.text, *(r.output for r in listing)]
    for text in texts:
        assert azurite.key not in text
    assert any("Uploaded 5 files" in t for t in texts)
    assert "Request URL" in caplog.text    # the Azure SDK's own request log was looked at


def _closed_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_cli_attach_blob_registers_and_never_prints_the_key(workspace, azurite, container):
    from click.testing import CliRunner
    from amlocal.cli import cli
    runner = CliRunner()
    args = ["datastore", "attach-blob", "-n", "lake", "-a", azurite.account, "-c", container,
            "-k", azurite.key, "--endpoint", azurite.endpoint, "-w", workspace.name]
    missing = runner.invoke(cli, args)
    assert missing.exit_code == 1 and "--create-if-not-exists" in missing.output
    done = runner.invoke(cli, [*args, "--create-if-not-exists", "-o", "json"])
    assert done.exit_code == 0, done.output
    shown = json.loads(done.stdout)
    assert (shown["datastore_type"], shown["container_name"]) == ("AzureBlob", container)
    assert azurite.key not in done.output and azurite.key not in missing.output
    assert Datastore(workspace, "lake").account_name == azurite.account
