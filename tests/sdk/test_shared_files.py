"""The store's files layer (``amlocal.store.files``): one contract run on the home's local
folders (``LocalFiles``) and on Azure Blob in Azurite (``FsspecFiles`` on ``az://``, what
``AMLOCAL_ARTIFACTS_URL`` selects), plus snapshots shared through the blob container and the
errors that name the setting.
"""
from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from amlocal.errors import StoreError, UserErrorException


def _container(azurite) -> str:
    from azure.storage.blob import BlobServiceClient
    name = f"shared-{uuid.uuid4().hex[:12]}"
    BlobServiceClient.from_connection_string(azurite.connection_string()).create_container(name)
    return name


def _blobs(azurite, container: str) -> list[str]:
    from azure.storage.blob import BlobServiceClient
    client = BlobServiceClient.from_connection_string(azurite.connection_string())
    return sorted(b.name for b in client.get_container_client(container).list_blobs())


def _use_blob(monkeypatch, azurite, container: str, prefix: str = "team") -> str:
    url = f"az://{container}/{prefix}"
    monkeypatch.setenv("AMLOCAL_ARTIFACTS_URL", url)
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string())
    return url


@pytest.fixture(params=["local", "blob", "fsspec-file", "fsspec-memory"])
def files(request, home, monkeypatch, tmp_path):
    """The files layer open_files gives: the home's folders, or a fresh Azurite container; and
    FsspecFiles's generic paths (temporary name + move, read-modify-write appends) on a local
    folder and on fsspec's memory filesystem."""
    from amlocal import _settings
    from amlocal.store.files_fsspec import FsspecFiles
    from amlocal.store.files_open import open_files
    if request.param == "fsspec-file":
        root = tmp_path / "fsspec-root"
        layer = FsspecFiles(root.as_uri(), locks=tmp_path / "locks")
        layer.test_listing = lambda: sorted(p.relative_to(root).as_posix()
                                            for p in root.rglob("*") if p.is_file())
        yield layer
        return
    if request.param == "fsspec-memory":
        layer = FsspecFiles(f"memory://shared-{uuid.uuid4().hex}/prefix",
                            locks=tmp_path / "locks")
        layer.test_listing = lambda: sorted(layer.fs.find(layer.root))
        yield layer
        if layer.fs.exists(layer.root):
            layer.fs.rm(layer.root, recursive=True)
        return
    if request.param == "blob":
        azurite = request.getfixturevalue("azurite")
        container = _container(azurite)
        _use_blob(monkeypatch, azurite, container)
        layer = open_files(_settings.current())
        layer.test_listing = lambda: _blobs(azurite, container)
        yield layer
        return
    monkeypatch.delenv("AMLOCAL_ARTIFACTS_URL", raising=False)
    layer = open_files(_settings.current())
    root = _settings.current().home
    layer.test_listing = lambda: sorted(p.relative_to(root).as_posix()
                                        for p in root.rglob("*") if p.is_file())
    yield layer


def _file(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def test_default_and_file_urls_keep_the_local_folders(home, tmp_path, monkeypatch):
    from amlocal import _settings
    from amlocal.store import open_store
    from amlocal.store.files import LocalFiles
    monkeypatch.delenv("AMLOCAL_ARTIFACTS_URL", raising=False)
    store = open_store()
    assert type(store.files) is LocalFiles and store.files.artifacts_root == home / "artifacts"
    shared = tmp_path / "nfs"
    monkeypatch.setenv("AMLOCAL_ARTIFACTS_URL", shared.as_uri())
    settings = _settings.current()
    assert (settings.artifacts, settings.models, settings.snapshots) == (
        shared / "artifacts", shared / "models", shared / "snapshots")
    store = open_store()
    assert type(store.files) is LocalFiles and store.home == home
    store.put_artifact("r1", "outputs/a.txt", _file(tmp_path / "a.txt", "A"))
    assert (shared / "artifacts" / "r1" / "outputs" / "a.txt").read_text() == "A"


def test_artifacts_put_list_fetch_and_overwrite(files, tmp_path):
    files.put_artifact("run-1", "outputs/model.pkl", _file(tmp_path / "m", b"\x00\x01model"))
    files.put_artifact("run-1", "outputs\\sub\\notes.txt", _file(tmp_path / "n", "notes"))
    files.put_artifact("run-1", "./top.txt", _file(tmp_path / "t", "v1"))
    files.put_artifact("run-1", "top.txt", _file(tmp_path / "t", "v2"))      # replaced
    files.put_artifact("run-2", "other.txt", _file(tmp_path / "o", "other"))
    assert files.list_artifacts("run-1") == ["outputs/model.pkl", "outputs/sub/notes.txt",
                                             "top.txt"]
    assert files.list_artifacts("no-such-run") == []
    got = files.fetch_artifact("run-1", "outputs/model.pkl", tmp_path / "out" / "m.pkl")
    assert got == tmp_path / "out" / "m.pkl" and got.read_bytes() == b"\x00\x01model"
    assert files.fetch_artifact("run-1", "top.txt", tmp_path / "top").read_text() == "v2"
    fs, root, _local = files.run_folder("run-1")          # what the studio browses
    assert fs.cat_file(f"{root}/outputs/sub/notes.txt") == b"notes"
    with pytest.raises(UserErrorException, match="has no file 'missing.txt'.*outputs/model.pkl"):
        files.fetch_artifact("run-1", "missing.txt", tmp_path / "x")
    assert not (tmp_path / "x").exists() and not list((tmp_path).glob(".tmp-*"))


def test_append_streams_a_log_and_reads_from_an_offset(files):
    log = "logs/user_logs/std_log.txt"
    assert files.read_artifact("run-1", log) == b""
    files.append_artifact("run-1", log, b"first line\n")
    files.append_artifact("run-1", log, b"second line\n")
    assert files.read_artifact("run-1", log) == b"first line\nsecond line\n"
    assert files.read_artifact("run-1", log, 11) == b"second line\n"
    assert files.read_artifact("run-1", log, 23) == b""
    assert files.read_artifact("run-1", log, 500) == b""
    big = bytes(range(256)) * 20000                      # 5 MB: more than one append block
    files.append_artifact("run-1", log, big)
    assert files.read_artifact("run-1", log, 23) == big
    assert files.list_artifacts("run-1") == [log]


def test_append_to_an_uploaded_file_keeps_both(files, tmp_path):
    files.put_artifact("run-1", "notes.txt", _file(tmp_path / "n", "uploaded\n"))
    files.append_artifact("run-1", "notes.txt", b"appended\n")
    files.append_artifact("run-1", "notes.txt", b"again\n")
    assert files.read_artifact("run-1", "notes.txt") == b"uploaded\nappended\nagain\n"


@pytest.mark.parametrize("name", ["../escape.txt", "/etc/passwd", "a/../../b", "x\x00y", "",
                                  "..", "a/.."])
def test_names_that_would_escape_are_refused(files, tmp_path, name):
    before = files.test_listing()
    source = _file(tmp_path / "f", "x")
    for call in (lambda: files.put_artifact("run-1", name, source),
                 lambda: files.append_artifact("run-1", name, b"x"),
                 lambda: files.read_artifact("run-1", name),
                 lambda: files.fetch_artifact("run-1", name, tmp_path / "out")):
        with pytest.raises(UserErrorException, match="relative path inside the run"):
            call()
    assert files.test_listing() == before


@pytest.mark.parametrize("bad", ["..", ".", "a/b", "a\\b", "", " x", "x\x00"])
def test_identifiers_that_are_not_one_folder_are_refused(files, tmp_path, bad):
    source = _file(tmp_path / "f", "x")
    with pytest.raises(UserErrorException, match="cannot name a folder of the store"):
        files.put_artifact(bad, "a.txt", source)
    with pytest.raises(UserErrorException, match="cannot name a folder of the store"):
        files.store_model_files("ws", bad, 1, source)
    with pytest.raises(UserErrorException, match="cannot name a folder of the store"):
        files.copy_model_out(bad, "m", 1, "f", tmp_path / "out")
    assert files.test_listing() == []


def test_model_files_and_folders_come_back_whole(files, tmp_path):
    single = _file(tmp_path / "src" / "model.pkl", b"weights")
    folder = tmp_path / "src" / "bundle"
    _file(folder / "a.txt", "A")
    _file(folder / "deep" / "b.bin", b"\x00B")
    assert files.store_model_files("ws1", "clf", 1, single) == "model.pkl"
    assert files.store_model_files("ws1", "clf", 2, folder) == "bundle"
    one = files.copy_model_out("ws1", "clf", 1, "model.pkl", tmp_path / "get1")
    assert one == tmp_path / "get1" / "model.pkl" and one.read_bytes() == b"weights"
    two = files.copy_model_out("ws1", "clf", 2, "bundle", tmp_path / "get2")
    assert two == tmp_path / "get2" / "bundle"
    assert sorted(p.relative_to(two).as_posix() for p in two.rglob("*") if p.is_file()) == \
        ["a.txt", "deep/b.bin"]
    assert (two / "deep" / "b.bin").read_bytes() == b"\x00B"
    part = files.copy_model_out("ws1", "clf", 2, "bundle/deep", tmp_path / "get3")
    assert (part / "b.bin").read_bytes() == b"\x00B"
    url = files.model_url("ws1", "clf", 2, "bundle")
    assert url.endswith("/models/ws1/clf/2/bundle")
    with pytest.raises(UserErrorException, match="relative path"):
        files.copy_model_out("ws1", "clf", 2, "../1/model.pkl", tmp_path / "get4")
    files.delete_model_files("ws1")
    assert not [f for f in files.test_listing() if "/models/" in f or f.startswith("models/")]


def test_deleting_a_runs_files_leaves_the_others(files, tmp_path):
    files.put_artifact("run-1", "a/b.txt", _file(tmp_path / "f", "1"))
    files.append_artifact("run-1", "log.txt", b"x")
    files.put_artifact("run-10", "c.txt", _file(tmp_path / "f", "2"))
    files.delete_run_files("run-1")
    files.delete_run_files("never-existed")
    assert files.list_artifacts("run-1") == [] and files.list_artifacts("run-10") == ["c.txt"]


def test_the_blob_location_holds_every_file_under_its_prefix(azurite, home, tmp_path,
                                                            monkeypatch):
    from amlocal.store import open_store
    from amlocal.store.entities import ModelInfo, RunInfo, WorkspaceInfo
    from amlocal.store.files_fsspec import FsspecFiles
    container = _container(azurite)
    _use_blob(monkeypatch, azurite, container, prefix="teams/a")
    store = open_store()
    assert isinstance(store.files, FsspecFiles)
    store.create_workspace(WorkspaceInfo(id="ws1", name="w", subscription_id="s",
                                         resource_group="g"))
    store.create_run(RunInfo(id="r1", workspace_id="ws1", experiment="e", kind="script",
                             status="Completed"))
    store.put_artifact("r1", "outputs/x.txt", _file(tmp_path / "x", "X"))
    store.append_artifact("r1", "logs/user_logs/std_log.txt", b"hello\n")
    model = store.register_model(ModelInfo(workspace_id="ws1", name="m", version=0,
                                           path="", run_id="r1"), _file(tmp_path / "w.bin", b"W"))
    assert model.version == 1
    assert _blobs(azurite, container) == [
        "teams/a/artifacts/r1/logs/user_logs/std_log.txt", "teams/a/artifacts/r1/outputs/x.txt",
        "teams/a/models/ws1/m/1.manifest.json", "teams/a/models/ws1/m/1/w.bin"]
    assert not (home / "artifacts").exists() and not (home / "models").exists()
    fetched = store.fetch_model(model, tmp_path / "dl")
    assert fetched.read_bytes() == b"W"
    store.delete_workspace("ws1")
    assert _blobs(azurite, container) == []


def test_snapshots_are_shared_through_the_blob_location(azurite, home, tmp_path, monkeypatch):
    from amlocal import _settings
    from amlocal._engine.snapshot import materialise, shared_files, take_snapshot, verify
    container = _container(azurite)
    _use_blob(monkeypatch, azurite, container)
    shared = shared_files(_settings.current())
    assert shared is not None
    src = tmp_path / "src"
    _file(src / "train.py", "print('train')\n")
    _file(src / "lib" / "util.py", "X = 1\n")
    here = tmp_path / "machine-a" / "snapshots"
    digest = take_snapshot(src, here, shared=shared)
    assert sorted(b for b in _blobs(azurite, container) if "snapshots" in b) == [
        f"team/snapshots/{digest}.manifest.json", f"team/snapshots/{digest}/lib/util.py",
        f"team/snapshots/{digest}/train.py"]
    there = tmp_path / "machine-b" / "snapshots"          # another machine: an empty cache
    workdir = tmp_path / "work"
    materialise(digest, there, workdir, shared=shared)
    assert (workdir / "lib" / "util.py").read_text() == "X = 1\n"
    assert (there / digest / "train.py").is_file()
    cached = there / digest / "train.py"                  # a modified cache is fetched again
    cached.chmod(0o600)
    cached.write_text("print('tampered')\n")
    assert (verify(digest, there, shared=shared) / "train.py").read_text() == "print('train')\n"
    with pytest.raises(UserErrorException, match="is missing from"):
        verify(digest, tmp_path / "machine-d")            # without the shared location: local
    from azure.storage.blob import BlobServiceClient      # the shared copy modified: refused
    BlobServiceClient.from_connection_string(azurite.connection_string()).get_blob_client(
        container, f"team/snapshots/{digest}/train.py").upload_blob(b"evil", overwrite=True)
    other = tmp_path / "machine-c" / "snapshots"
    with pytest.raises(UserErrorException, match="AMLOCAL_ARTIFACTS_URL.*was modified"):
        verify(digest, other, shared=shared)
    with pytest.raises(UserErrorException, match="missing from AMLOCAL_ARTIFACTS_URL"):
        verify("0" * 64, other, shared=shared)
    _file(src / "later.py", "# taken before the shared location was set\n")
    local_only = take_snapshot(src, here)
    assert not shared.has_snapshot(local_only)
    verify(local_only, here, shared=shared)               # a submission uploads it then
    assert shared.has_snapshot(local_only)
    materialise(local_only, tmp_path / "machine-e", tmp_path / "work-e", shared=shared)
    assert (tmp_path / "work-e" / "later.py").is_file()


def test_errors_name_the_setting(azurite, home, tmp_path, monkeypatch):
    from amlocal import _settings
    from amlocal.store.files_open import open_files
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string())
    monkeypatch.setenv("AMLOCAL_ARTIFACTS_URL", "az://no-such-container/x")
    with pytest.raises(UserErrorException,
                       match="container 'no-such-container' of AMLOCAL_ARTIFACTS_URL=az://no-"
                             "such-container/x does not exist"):
        open_files(_settings.current()).list_artifacts("r1")
    closed = azurite.connection_string().replace(f":{azurite.port}/", ":9/")
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", closed)
    monkeypatch.setenv("AMLOCAL_ARTIFACTS_URL", "az://some-container")
    with pytest.raises(StoreError, match="cannot reach the blob service of "
                                         "AMLOCAL_ARTIFACTS_URL=az://some-container"):
        open_files(_settings.current()).read_artifact("r1", "log.txt")
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING",
                       azurite.connection_string().replace("AccountKey=Eby8", "AccountKey=Xby8"))
    monkeypatch.setenv("AMLOCAL_ARTIFACTS_URL", f"az://{_container(azurite)}")
    with pytest.raises(UserErrorException, match="refused the credentials"):
        open_files(_settings.current()).list_artifacts("r1")
    monkeypatch.setenv("AMLOCAL_ARTIFACTS_OPTIONS", "{not json")
    with pytest.raises(UserErrorException, match="AMLOCAL_ARTIFACTS_OPTIONS is not valid JSON"):
        open_files(_settings.current())
    monkeypatch.setenv("AMLOCAL_ARTIFACTS_OPTIONS", json.dumps(
        {"connection_string": azurite.connection_string()}))   # options win over the env
    assert open_files(_settings.current()).list_artifacts("r1") == []
    monkeypatch.setenv("AMLOCAL_ARTIFACTS_OPTIONS", json.dumps(
        {"connection_string": "not a connection string"}))
    with pytest.raises(UserErrorException, match="cannot open AMLOCAL_ARTIFACTS_URL"):
        open_files(_settings.current())
    monkeypatch.delenv("AMLOCAL_ARTIFACTS_OPTIONS")
    monkeypatch.setenv("AMLOCAL_ARTIFACTS_URL", "nosuchproto://x/y")
    with pytest.raises(UserErrorException, match="does not know the protocol 'nosuchproto'"):
        open_files(_settings.current())
    monkeypatch.setenv("AMLOCAL_ARTIFACTS_URL", "az://")
    with pytest.raises(UserErrorException, match="names no container"):
        open_files(_settings.current())


def test_a_missing_adlfs_is_named_with_the_setting(home, monkeypatch):
    """A Python where adlfs cannot be imported (a fresh interpreter: fsspec caches classes)."""
    monkeypatch.setenv("AMLOCAL_ARTIFACTS_URL", "az://container/prefix")
    code = ("import sys; sys.modules['adlfs'] = None\n"
            "from amlocal.store import open_store\n"
            "from amlocal.errors import UserErrorException\n"
            "try:\n    open_store()\nexcept UserErrorException as exc:\n    print(exc)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "AMLOCAL_ARTIFACTS_URL=az://container/prefix needs the filesystem package" in \
        done.stdout and "pip install adlfs" in done.stdout


def test_the_studio_browses_a_runs_files_on_the_blob_location(azurite, home, tmp_path,
                                                              monkeypatch):
    from fastapi.testclient import TestClient

    from amlocal.server.app import create_app
    from amlocal.store import open_store
    from amlocal.store.entities import RunInfo, WorkspaceInfo
    _use_blob(monkeypatch, azurite, _container(azurite))
    store = open_store()
    store.create_workspace(WorkspaceInfo(id="ws1", name="w", subscription_id="s",
                                         resource_group="g"))
    store.create_run(RunInfo(id="r1", workspace_id="ws1", experiment="e", kind="script",
                             status="Completed"))
    store.put_artifact("r1", "outputs/scores.csv", _file(tmp_path / "s.csv", "a,b\n1,2\n"))
    store.append_artifact("r1", "logs/user_logs/std_log.txt", b"hello\n")
    with TestClient(create_app(store, run_scheduler=False)) as client:
        top = client.get("/api/v1/page/runs/r1/artifacts/files")
        assert top.status_code == 200, top.text
        assert sorted(e["name"] for e in top.json()["entries"]) == ["logs", "outputs"]
        deeper = client.get("/api/v1/page/runs/r1/artifacts/files", params={"path": "outputs"})
        assert [e["path"] for e in deeper.json()["entries"]] == ["outputs/scores.csv"]
        preview = client.get("/api/v1/page/runs/r1/artifacts/preview",
                             params={"path": "outputs/scores.csv"})
        assert preview.status_code == 200 and preview.json()["rows"] == [[1, 2]]
        assert client.get("/api/v1/page/runs/r1/artifacts/files",
                          params={"path": "../x"}).status_code == 400


def test_a_long_log_is_compacted_before_the_append_block_limit(azurite, home, monkeypatch):
    """An append blob takes 50,000 blocks; files_azure.append rewrites it as few blocks once
    it holds ``compact_at`` (lowered here so that the test appends a handful of lines)."""
    from azure.storage.blob import BlobServiceClient

    from amlocal import _settings
    from amlocal.store.files_azure import append
    from amlocal.store.files_open import open_files
    container = _container(azurite)
    _use_blob(monkeypatch, azurite, container)
    files = open_files(_settings.current())
    files.append_artifact("r1", "log.txt", b"line 0\n")
    for i in range(1, 8):
        assert append(files.fs, files._artifact("r1", "log.txt"), f"line {i}\n".encode(),
                      compact_at=3)
    expected = "".join(f"line {i}\n" for i in range(8)).encode()
    assert files.read_artifact("r1", "log.txt") == expected
    blob = BlobServiceClient.from_connection_string(azurite.connection_string()) \
        .get_blob_client(container, "team/artifacts/r1/log.txt").get_blob_properties()
    assert blob.blob_type == "AppendBlob" and blob.append_blob_committed_block_count < 3
    files.append_artifact("r1", "log.txt", b"after\n")
    assert files.read_artifact("r1", "log.txt", len(expected)) == b"after\n"
