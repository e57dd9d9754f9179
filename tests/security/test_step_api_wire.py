"""The step API attacked through the raw wire protocol and a RemoteStore, as a hostile step
would: a real SqlStore in a temporary AMLOCAL_HOME, a real RunService on a Unix socket. Every
test asserts the host-side outcome: the answer's status and message, no file outside the home,
and a canary file's content (a file outside the home) in no answer."""
from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import stat
import tempfile
import uuid
from pathlib import Path

import pytest

from amlocal.errors import NotFoundError, UserErrorException
from amlocal.runservice import RemoteStore, RunService
from amlocal.store import open_store
from amlocal.store.entities import (DatastoreInfo, MetricRecord, ModelInfo, RunInfo,
                                    WorkspaceInfo)

PIPE, STEP, SIBLING = "pipe-1", "step-1", "sibling-1"


@pytest.fixture
def canary(tmp_path) -> Path:
    """A file outside the home whose content must never reach a step."""
    path = tmp_path / "outside" / "canary.txt"
    path.parent.mkdir()
    path.write_text(f"CANARY-{uuid.uuid4().hex}")
    return path


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("AMLOCAL_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AMLOCAL_STORE_URL", raising=False)
    store = open_store()
    for ws in ("ws1", "ws2"):
        store.create_workspace(WorkspaceInfo(id=ws, name=ws, subscription_id="sub",
                                             resource_group="rg"))
    store.create_run(RunInfo(id=PIPE, workspace_id="ws1", experiment="exp", kind="pipeline"))
    store.create_run(RunInfo(id=STEP, workspace_id="ws1", experiment="exp", kind="step",
                             parent_id=PIPE))
    store.create_run(RunInfo(id=SIBLING, workspace_id="ws1", experiment="exp", kind="step",
                             parent_id=PIPE))
    # another pipeline of the same workspace, and a run of another workspace
    store.create_run(RunInfo(id="pipe-2", workspace_id="ws1", experiment="exp", kind="pipeline"))
    store.create_run(RunInfo(id="step-2", workspace_id="ws1", experiment="exp", kind="step",
                             parent_id="pipe-2"))
    store.create_run(RunInfo(id="foreign", workspace_id="ws2", experiment="exp", kind="step"))
    return store


@pytest.fixture
def service(store):
    folder = tempfile.mkdtemp(prefix="amlsec-", dir="/tmp")  # Unix socket paths are short
    with RunService(store, socket_path=os.path.join(folder, "run.sock")) as service:
        yield service
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def remote(service):
    return RemoteStore(service.url, service.grant(STEP))


def _raw(service, method: str, meta, token: str | None = None, body: bytes = b"",
         meta_bytes: bytes | None = None) -> tuple[int, bytes]:
    data = json.dumps(meta).encode() if meta_bytes is None else meta_bytes
    conn = http.client.HTTPConnection("localhost")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(service.socket_path)
    conn.sock = sock
    conn.request("POST", f"/v1/{method}", body=data + body, headers={
        "X-Amlocal-Meta-Length": str(len(data)), "Content-Length": str(len(data) + len(body)),
        "Authorization": f"Bearer {token or service.grant(STEP)}"})
    response = conn.getresponse()
    payload = response.read()
    conn.close()
    return response.status, payload


def _error(payload: bytes) -> str:
    return json.loads(payload)["error"]["message"]


def _files_outside(root: Path, home: Path, before: set) -> set:
    """Files under ``root`` that appeared since ``before`` and are not under ``home``."""
    now = {p for p in root.rglob("*") if p.is_file()}
    return {p for p in now - before if not p.is_relative_to(home)}


# -- identifiers and paths -----------------------------------------------------------------
@pytest.mark.parametrize("bad_id", ["../../../etc", "..", "a/../../b", "/etc/passwd", "a/b",
                                    "x\x00y", "", "..%2f..", ".hidden"])
def test_run_ids_with_paths_are_400(service, bad_id):
    for method, meta in [("get_run", {"run_id": bad_id}),
                         ("set_tags", {"run_id": bad_id, "tags": {"a": "1"}}),
                         ("read_artifact", {"run_id": bad_id, "name": "x.txt"}),
                         ("list_artifacts", {"run_id": bad_id})]:
        status, payload = _raw(service, method, meta)
        assert status == 400, (method, bad_id, payload)
        assert "is not valid: a run id is 1-256 letters" in _error(payload)


def test_artifact_names_that_leave_the_run_are_400_and_write_nothing(service, store, tmp_path,
                                                                     canary):
    home = Path(os.environ["AMLOCAL_HOME"])
    before = {p for p in tmp_path.rglob("*") if p.is_file()}
    escape = os.path.relpath(canary.parent / "planted.txt", home / "artifacts" / STEP)
    for name in (escape, "../" * 12 + "tmp/planted.txt", "/tmp/planted.txt",
                 "outputs/../../x.txt", "outputs/\x00x", "..\\..\\x.txt"):
        status, payload = _raw(service, "put_artifact", {"run_id": STEP, "name": name},
                               body=b"planted")
        assert status == 400, (name, payload)
        assert "must be a relative path inside the run" in _error(payload) \
            or "control characters" in _error(payload)
        status, payload = _raw(service, "append_artifact", {"run_id": STEP, "name": name},
                               body=b"planted")
        assert status == 400, (name, payload)
    rel = os.path.relpath(canary, home / "artifacts" / STEP)
    for method in ("read_artifact", "fetch_artifact"):
        status, payload = _raw(service, method, {"run_id": STEP, "name": rel})
        assert status == 400 and canary.read_bytes() not in payload
    assert _files_outside(tmp_path, home, before) == set()
    assert not (canary.parent / "planted.txt").exists()
    assert store.list_artifacts(STEP) == []


def test_a_link_planted_in_the_store_is_not_followed(store, canary):
    """The store's file layer refuses any path resolving outside its root, whoever calls it."""
    run_dir = store.files.run_dir(STEP)
    (run_dir / "outputs").mkdir(parents=True)
    (run_dir / "outputs" / "link.txt").symlink_to(canary)
    (run_dir / "folder").symlink_to(canary.parent, target_is_directory=True)
    with pytest.raises(UserErrorException, match="resolves outside its folder of the store"):
        store.read_artifact(STEP, "outputs/link.txt")
    with pytest.raises(UserErrorException, match="resolves outside its folder of the store"):
        store.fetch_artifact(STEP, "outputs/link.txt", run_dir.parent / "copy.txt")
    with pytest.raises(UserErrorException, match="resolves outside its folder of the store"):
        store.put_artifact(STEP, "folder/planted.txt", canary)
    assert not (canary.parent / "planted.txt").exists()
    for bad in ("../x", "..", "a/b", ""):
        with pytest.raises(UserErrorException):
            store.files.run_dir(bad)
        with pytest.raises(UserErrorException):
            store.files.model_dir("ws1", bad, 1)
    with pytest.raises(UserErrorException):
        store.files.copy_model_out("ws1", "m", 1, "../../../../" + str(canary), canary.parent)


# -- scope: other workspaces, other trees, parents ------------------------------------------
def test_reads_are_scoped_to_the_workspace_and_files_to_the_tree(service, remote, store):
    store.log_metrics("foreign", [MetricRecord(name="secret", kind="scalar", value=42)])
    store.append_artifact("foreign", "logs/x.txt", b"foreign log")
    store.append_artifact("step-2", "logs/x.txt", b"other pipeline log")
    store.append_artifact(SIBLING, "outputs/x.txt", b"sibling file")
    # other workspaces: every read is 403
    for method, meta in [("get_run", {"run_id": "foreign"}),
                         ("get_metric_records", {"run_id": "foreign"}),
                         ("read_artifact", {"run_id": "foreign", "name": "logs/x.txt"}),
                         ("list_artifacts", {"run_id": "foreign"}),
                         ("list_runs", {"workspace_id": "ws2"}),
                         ("list_runs", {"parent_id": "foreign"}),
                         ("list_datastores", {"workspace_id": "ws2"}),
                         ("list_models", {"workspace_id": "ws2"}),
                         ("list_datasets", {"workspace_id": "ws2"}),
                         ("list_experiments", {"workspace_id": "ws2"}),
                         ("get_environment", {"workspace_id": "ws2", "name": "e"})]:
        status, payload = _raw(service, method, meta)
        assert status == 403, (method, payload)
        assert b"foreign log" not in payload and b"42" not in payload
    # its own workspace only, whatever it asks
    assert [w.id for w in remote.find_workspaces()] == ["ws1"]
    assert remote.find_workspaces("ws2") == []
    assert {r.workspace_id for r in remote.list_runs()} == {"ws1"}
    assert remote.get_run("step-2").id == "step-2"   # run records of its workspace: readable
    # files: its own pipeline run's tree only
    assert remote.read_artifact(SIBLING, "outputs/x.txt") == b"sibling file"
    with pytest.raises(UserErrorException, match="files of the runs of its own pipeline run"):
        remote.read_artifact("step-2", "logs/x.txt")
    with pytest.raises(UserErrorException, match="files of the runs of its own pipeline run"):
        remote.list_artifacts("step-2")


def test_parent_and_other_runs_writes_are_403(service, remote, store, tmp_path):
    for method, meta in [("update_run", {"run_id": PIPE, "status": "Finished"}),
                         ("update_run", {"run_id": STEP, "status": "Finished"}),
                         ("remove_tags", {"run_id": PIPE, "keys": ["x"]}),
                         ("append_artifact", {"run_id": PIPE, "name": "logs/x.txt"}),
                         ("set_tags", {"run_id": SIBLING, "tags": {"x": "1"}}),
                         ("add_properties", {"run_id": STEP,
                                             "properties": {"amlocal.recorded_by_runner": "true"}}),
                         ("set_tags", {"run_id": "foreign", "tags": {"x": "1"}})]:
        status, payload = _raw(service, method, meta)
        assert status == 403, (method, meta, payload)
    assert store.get_run(PIPE).status == "NotStarted" and store.get_run(SIBLING).tags == {}
    assert store.get_run(STEP).properties == {}


# -- runs a step creates ---------------------------------------------------------------------
def test_a_step_cannot_plant_a_finished_run_with_a_reuse_key(service, remote, store):
    def planted(**fields):
        base = dict(id=str(uuid.uuid4()), workspace_id="ws1", experiment="exp", kind="script",
                    parent_id=STEP)
        return RunInfo(**{**base, **fields})

    for info, message in [
            (planted(status="Finished"), "starts NotStarted"),
            (planted(reuse_key="k" * 64), "may not carry reuse_key"),
            (planted(reused_from=SIBLING), "may not carry reused_from"),
            (planted(definition={"outputs": {"o": {"local": "/etc"}}}), "may not carry definition"),
            (planted(kind="step"), "script run"),
            (planted(parent_id=PIPE), "only its own child runs"),
            (planted(workspace_id="ws2"), "only in its own workspace"),
            (planted(experiment="other"), "parent's experiment"),
            (planted(id="../../x"), "is not valid: a run id"),
            (planted(properties={"amlocal.recorded_by_runner": "true"}), "amlocal's own"),
            (planted(id=SIBLING), "exists already")]:
        with pytest.raises(UserErrorException, match=message):
            remote.create_run(info)
    child = remote.create_run(planted(status="Running", name="kid"))
    assert child.status == "Running" and child.started_at and child.reuse_key is None
    # and a child's update never sets what the runner records
    for fields in ({"reuse_key": "k"}, {"reused_from": SIBLING}, {"definition": {}},
                   {"status": "Finished"}):
        with pytest.raises(UserErrorException):
            remote.update_run(child.id, **fields)
    recorded = store.get_run(child.id)
    assert (recorded.reuse_key, recorded.reused_from, recorded.definition) == (None, None, {})
    assert {r.id for r in store.list_runs(parent_id=STEP)} == {child.id}


def test_reuse_ignores_runs_the_runner_did_not_record(store):
    from amlocal._engine.reuse import RECORDED_PROPERTY, find_reusable
    store.create_run(RunInfo(id="ran-1", workspace_id="ws1", experiment="exp", kind="step",
                             parent_id=PIPE, status="Finished", reuse_key="K",
                             properties={RECORDED_PROPERTY: "true"},
                             created_at="2020-01-01T00:00:00.000000Z"))
    store.create_run(RunInfo(id="planted-1", workspace_id="ws1", experiment="exp",
                             kind="step", parent_id=PIPE, status="Finished", reuse_key="K"))
    store.create_run(RunInfo(id="planted-2", workspace_id="ws1", experiment="exp",
                             kind="script", parent_id=STEP, status="Finished", reuse_key="J",
                             properties={RECORDED_PROPERTY: "true"}))
    assert store.find_reusable_run("ws1", "K").id == "planted-1"  # newest, unmarked
    assert find_reusable(store, "ws1", "K").id == "ran-1"
    assert find_reusable(store, "ws1", "J") is None


# -- models ------------------------------------------------------------------------------------
def test_models_are_fetched_by_key_never_by_a_path(service, remote, store, tmp_path, canary):
    model_file = tmp_path / "m.txt"
    model_file.write_text("real weights")
    store.register_model(ModelInfo(workspace_id="ws1", name="clf", version=0, path=""), model_file)
    store.register_model(ModelInfo(workspace_id="ws2", name="theirs", version=0, path=""),
                         model_file)
    # a forged ModelInfo: its path is not sent; the store's record decides
    forged = ModelInfo(workspace_id="ws1", name="clf", version=1, path=str(canary))
    got = remote.fetch_model(forged, tmp_path / "down")
    assert got.read_text() == "real weights"
    forged = ModelInfo(workspace_id="ws1", name="clf", version=1,
                       path="../../../../../../../../" + str(canary))
    assert remote.fetch_model(forged, tmp_path / "down2").read_text() == "real weights"
    with pytest.raises(NotFoundError, match="no model nope:1"):
        remote.fetch_model(ModelInfo(workspace_id="ws1", name="nope", version=1, path="/etc"),
                           tmp_path / "down3")
    with pytest.raises(UserErrorException, match="only in its own workspace"):
        remote.fetch_model(ModelInfo(workspace_id="ws2", name="theirs", version=1, path=""),
                           tmp_path / "down4")
    # the raw protocol: an info argument (the old form) is refused, so are bad names
    status, payload = _raw(service, "fetch_model", {"info": {
        "__entity__": "ModelInfo", "workspace_id": "ws1", "name": "clf", "version": 1,
        "path": str(canary)}})
    assert status == 400 and canary.read_bytes() not in payload
    for name in ("../../clf", "/etc/passwd", "a/b"):
        status, payload = _raw(service, "fetch_model", {"workspace_id": "ws1", "name": name,
                                                        "version": 1})
        assert status == 400 and "model name" in _error(payload)
    status, payload = _raw(service, "fetch_model", {"workspace_id": "ws1", "name": "clf",
                                                    "version": "../1"})
    assert status == 400 and "version" in _error(payload)


def test_model_names_that_leave_the_models_folder_are_400(remote, store, tmp_path, canary):
    home = Path(os.environ["AMLOCAL_HOME"])
    before = {p for p in tmp_path.rglob("*") if p.is_file()}
    source = tmp_path / "m.txt"
    source.write_text("weights")
    for name in ("../../../outside", "../" * 10 + "tmp/evil", "/abs", "a/b", ".."):
        with pytest.raises(UserErrorException, match="model name .* is not valid"):
            remote.register_model(ModelInfo(workspace_id="ws1", name=name, version=0, path=""),
                                  source)
    assert _files_outside(tmp_path, home, before | {source}) == set()
    assert store.list_models("ws1") == []
    # the version and path a step sends are not kept
    info = remote.register_model(ModelInfo(workspace_id="ws1", name="ok", version=99,
                                           path="../../etc", run_id=STEP), source)
    assert (info.version, info.path) == (1, "m.txt")
    assert remote.update_model("ws1", "ok", 1, add_tags={"stage": "dev"}).tags == {"stage": "dev"}
    with pytest.raises(UserErrorException, match="amlocal's own"):
        remote.update_model("ws1", "ok", 1, add_properties={"amlocal.x": "1"})
    with pytest.raises(UserErrorException, match="only in its own workspace"):
        remote.update_model("ws2", "ok", 1, add_tags={"a": "b"})
    with pytest.raises(UserErrorException, match="reads runs of its own workspace only"):
        remote.register_model(ModelInfo(workspace_id="ws1", name="ok", version=0, path="",
                                        run_id="foreign"), source)


# -- datastores: never their secrets ------------------------------------------------------------
def test_datastore_credentials_are_never_answered(service, remote, store):
    key = "S3cr3tAccountKey+" + uuid.uuid4().hex
    sas = "sv=2020&sig=" + uuid.uuid4().hex
    store.put_datastore(DatastoreInfo(
        workspace_id="ws1", name="blob", kind="AzureBlob", url="az://data",
        options={"account_name": "acct", "account_key": key}))
    store.put_datastore(DatastoreInfo(
        workspace_id="ws1", name="conn", kind="AzureBlob", url="az://data",
        options={"connection_string": f"DefaultEndpointsProtocol=http;AccountName=acct;"
                                      f"AccountKey={key};BlobEndpoint=http://127.0.0.1:1/acct"}))
    store.put_datastore(DatastoreInfo(
        workspace_id="ws1", name="sas", kind="fsspec",
        url=f"https://user:{key}@host/data?{sas}", options={"sas_token": sas}))
    answers = [remote.get_datastore("ws1", n) for n in ("blob", "conn", "sas")]
    answers += remote.list_datastores("ws1")
    for status, payload in (_raw(service, "list_datastores", {"workspace_id": "ws1"}),
                            _raw(service, "get_datastore", {"workspace_id": "ws1",
                                                            "name": "conn"})):
        assert status == 200 and key.encode() not in payload and sas.encode() not in payload
    text = json.dumps([a.__dict__ for a in answers])
    assert key not in text and sas.split("sig=")[1] not in text
    blob = remote.get_datastore("ws1", "blob")
    assert blob.options == {"account_name": "acct", "account_key": "***"}
    conn = remote.get_datastore("ws1", "conn").options["connection_string"]
    assert "AccountName=acct" in conn and "AccountKey=***" in conn
    assert "BlobEndpoint=http://127.0.0.1:1/acct" in conn
    from amlocal.datastores.azure import describe   # the non-secret facts still read right
    assert describe("az://data", remote.get_datastore("ws1", "conn").options)[
        "credential_type"] == "AccountKey"
    # the host still holds the real secrets
    assert store.get_datastore("ws1", "blob").options["account_key"] == key


# -- refused methods, bad input -----------------------------------------------------------------
def test_host_only_methods_are_403(service):
    for method, meta in [("find_reusable_run", {"workspace_id": "ws1", "reuse_key": "k"}),
                         ("list_pipelines", {"workspace_id": "ws1"}),
                         ("get_compute_target", {"workspace_id": "ws1", "name": "c"}),
                         ("put_datastore", {}), ("create_workspace", {}),
                         ("delete_experiment", {"workspace_id": "ws1", "name": "exp"})]:
        status, payload = _raw(service, method, meta)
        assert status == 403, (method, payload)
        assert f"a step may not call {method}" in _error(payload)


def test_malformed_json_is_400_not_500(service):
    deep = b"[" * 100_000 + b"]" * 100_000
    for meta_bytes in (deep, b"[1, 2]", b"not json", b'{"run_id": 1e999999}',
                       b'{"run_id": "' + b"\\ud800" + b'"}'):
        status, payload = _raw(service, "get_run", None, meta_bytes=meta_bytes)
        assert status == 400, (meta_bytes[:40], payload)
    status, payload = _raw(service, "log_metrics", {"run_id": STEP, "records": [
        {"__entity__": "NotAnEntity"}]})
    assert status == 400
    status, payload = _raw(service, "log_metrics", {"run_id": STEP, "records": [
        {"__entity__": "MetricRecord", "name": "m", "kind": "evil", "value": 1}]})
    assert status == 400 and "metric kind 'evil'" in _error(payload)


# -- secrets at rest ------------------------------------------------------------------------------
def test_home_is_0700_and_database_0600(tmp_path, monkeypatch):
    home = tmp_path / "fresh-home"
    monkeypatch.setenv("AMLOCAL_HOME", str(home))
    monkeypatch.delenv("AMLOCAL_STORE_URL", raising=False)
    open_store()
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "amlocal.db").stat().st_mode) == 0o600
    # an older, world-readable home and database are made private when opened
    os.chmod(home, 0o755)
    os.chmod(home / "amlocal.db", 0o644)
    open_store()
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "amlocal.db").stat().st_mode) == 0o600


def test_every_store_method_is_in_the_step_api_or_refused(service):
    """A store method added later is refused to steps until the step API says otherwise."""
    from amlocal.runservice._policy import STEP_API
    from amlocal.store.base import Store
    outside = sorted(set(Store.__abstractmethods__) - STEP_API)
    assert {"create_workspace", "put_datastore", "find_reusable_run"} <= set(outside)
    for method in outside:
        status, payload = _raw(service, method, {})
        assert status == 403 and f"a step may not call {method}" in _error(payload), method
    assert set(STEP_API) - set(Store.__abstractmethods__) == {"fetch_dataset"}
