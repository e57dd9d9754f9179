"""The run service end to end: a real SqlStore in a temporary AMLOCAL_HOME, a real RunService on
a Unix socket, and a RemoteStore client calling it as a step would."""
from __future__ import annotations

import http.client
import io
import json
import os
import shutil
import socket
import tarfile
import tempfile
import time
from pathlib import Path

import pytest

from amlocal.errors import StoreError, UserErrorException
from amlocal.runservice import RemoteStore, RunService
from amlocal.runservice.client import safe_extract
from amlocal.store import open_store
from amlocal.store.base import Store
from amlocal.store.entities import (DatastoreInfo, MetricRecord, ModelInfo, RunInfo,
                                    WorkspaceInfo)


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("AMLOCAL_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AMLOCAL_STORE_URL", raising=False)
    store = open_store()
    store.create_workspace(WorkspaceInfo(id="ws1", name="ws1", subscription_id="sub",
                                         resource_group="rg"))
    store.create_workspace(WorkspaceInfo(id="ws2", name="ws2", subscription_id="sub",
                                         resource_group="rg"))
    store.create_run(RunInfo(id="pipe", workspace_id="ws1", experiment="exp", kind="pipeline"))
    store.create_run(RunInfo(id="step", workspace_id="ws1", experiment="exp", kind="step",
                             parent_id="pipe"))
    store.create_run(RunInfo(id="other", workspace_id="ws1", experiment="exp", kind="step",
                             parent_id="pipe"))
    return store


@pytest.fixture
def service(store):
    # pytest's tmp_path can exceed the ~100-byte limit of Unix socket paths: use a short folder
    folder = tempfile.mkdtemp(prefix="amlrs-", dir="/tmp")
    with RunService(store, socket_path=os.path.join(folder, "run.sock")) as service:
        yield service
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def remote(service):
    return RemoteStore(service.url, service.grant("step"))


def _raw_post(service, method: str, token: str | None, meta: dict) -> tuple[int, dict]:
    """One request without the client, to see the HTTP status."""
    body = json.dumps(meta).encode()
    conn = http.client.HTTPConnection("localhost")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(service.socket_path)
    conn.sock = sock
    headers = {"X-Amlocal-Meta-Length": str(len(body)), "Content-Length": str(len(body))}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    conn.request("POST", f"/v1/{method}", body=body, headers=headers)
    response = conn.getresponse()
    payload = json.loads(response.read())
    conn.close()
    return response.status, payload


def test_remote_store_implements_every_store_method():
    abstract = Store.__abstractmethods__
    assert abstract, "the Store interface lost its abstract methods"
    assert not RemoteStore.__abstractmethods__
    for name in abstract:
        assert getattr(RemoteStore, name) is not getattr(Store, name), name


def test_service_url_socket_mode_and_cleanup(store):
    folder = tempfile.mkdtemp(prefix="amlrs-", dir="/tmp")
    path = os.path.join(folder, "run.sock")
    service = RunService(store, socket_path=path).start()
    try:
        assert service.url == f"unix://{path}"
        assert os.stat(path).st_mode & 0o777 == 0o666
    finally:
        service.stop()
    assert not os.path.exists(path)
    shutil.rmtree(folder)


def test_tcp_service_round_trip(store):
    with RunService(store, host="127.0.0.1") as service:
        assert service.url.startswith("http://127.0.0.1:") and service.port > 0
        remote = RemoteStore(service.url, service.grant("step"))
        assert remote.get_run("step").parent_id == "pipe"
        remote.set_tags("step", {"over": "tcp"})
    assert store.get_run("step").tags == {"over": "tcp"}


def test_runs_tags_properties_round_trip(remote, store):
    run = remote.get_run("step")
    assert isinstance(run, RunInfo) and run.workspace_id == "ws1" and run.parent_id == "pipe"
    assert remote.get_run("nope") is None

    # a step never sets its own status (its runner does, from the exit code)
    with pytest.raises(UserErrorException, match="may not call update_run on itself"):
        remote.update_run("step", status="Completed")
    assert store.get_run("step").status == "NotStarted"

    remote.set_tags("step", {"a": "1", "b": "2"})
    remote.remove_tags("step", ["a"])
    assert store.get_run("step").tags == {"b": "2"}

    remote.add_properties("step", {"p": "x"})
    remote.add_properties("step", {"p": "x"})  # the same value again is fine
    with pytest.raises(UserErrorException) as caught:
        remote.add_properties("step", {"p": "y"})
    assert type(caught.value) is UserErrorException  # the host's class, not a transport error
    assert "property 'p' of run step is already 'x'" in str(caught.value)
    assert store.get_run("step").properties == {"p": "x"}

    # a step updates its child runs' status, times, error and name only
    remote.create_run(RunInfo(id="kid", workspace_id="ws1", experiment="exp", kind="script",
                              parent_id="step"))
    with pytest.raises(UserErrorException, match="may set only ended_at, error, name, "
                                                 "started_at, status of its child runs"):
        remote.update_run("kid", bogus=1)
    with pytest.raises(UserErrorException, match="status 'Finished' is not one a step may give"):
        remote.update_run("kid", status="Finished")
    assert remote.update_run("kid", status="Completed", name="done").status == "Completed"

    assert [r.id for r in remote.list_runs(parent_id="pipe")] == \
        [r.id for r in store.list_runs(parent_id="pipe")]
    assert remote.find_workspaces("ws1")[0].id == "ws1"


def test_child_runs_of_the_step(remote, store):
    child = remote.create_run(RunInfo(id="child", workspace_id="ws1", experiment="exp",
                                      kind="script", parent_id="step"))
    assert child.id == "child" and store.get_run("child").parent_id == "step"
    remote.log_metrics("child", [MetricRecord(name="acc", kind="scalar", value=0.5)])
    remote.set_tags("child", {"k": "v"})
    assert store.get_run("child").tags == {"k": "v"}
    assert [r.value for r in store.get_metric_records("child")] == [0.5]


def test_metrics_round_trip(remote, store):
    records = [MetricRecord(name="loss", kind="scalar", value=1.5, step=0),
               MetricRecord(name="v", kind="list", value=[1, 2, 3]),
               MetricRecord(name="t", kind="table", value={"a": [1, 2], "b": ["x", "y"]})]
    remote.log_metrics("step", records)
    assert store.get_metric_records("step") == records
    assert remote.get_metric_records("step") == records


def test_one_batch_of_10000_metric_records(remote, store):
    records = [MetricRecord(name="loss", kind="scalar", value=i / 7, step=i) for i in range(10_000)]
    start = time.perf_counter()
    remote.log_metrics("step", records)
    elapsed = time.perf_counter() - start
    print(f"\n10,000 metric records in one log_metrics request: {elapsed * 1000:.0f} ms")
    stored = store.get_metric_records("step")
    assert len(stored) == 10_000
    assert stored[0].value == 0 and stored[-1].step == 9_999 and stored[-1].value == 9_999 / 7
    assert elapsed < 10, f"one batch of 10,000 records took {elapsed:.1f} s"


def test_metric_batches_cross_as_columns_and_are_checked(service, store):
    """A batch travels as columns (``_metric_wire``); a malformed one is refused with 400 and
    nothing is written; the former form (one tagged record each) is still accepted."""
    from amlocal.runservice._metric_wire import METRIC_COLUMNS, metric_columns
    token = service.grant("step")
    good = [MetricRecord(name="m", kind="scalar", value=i, step=i) for i in range(3)]
    wire = metric_columns(good)
    assert set(wire[METRIC_COLUMNS]) == {"name", "kind", "value", "step", "created_at"}
    status, _ = _raw_post(service, "log_metrics", token, {"run_id": "step", "records": wire})
    assert status == 200

    def columns(**change):
        cols = {**metric_columns(good)[METRIC_COLUMNS], **change}
        return {"run_id": "step", "records": {METRIC_COLUMNS: cols}}

    for meta, message in [
            (columns(value=[1, 2]), "same length"),
            (columns(kind=["scalar", "evil", "scalar"]), "metric kind 'evil'"),
            (columns(name=["m", "bad\nname", "m"]), "is not valid"),
            (columns(step=[0, 1.5, 2]), "must be a whole number"),
            (columns(created_at=["x" * 40] * 3), "created_at"),
            ({"run_id": "step", "records": {METRIC_COLUMNS: {"name": []}}}, "metric columns"),
            ({"run_id": "step", "records": {"rows": []}}, "metric columns")]:
        status, payload = _raw_post(service, "log_metrics", token, meta)
        assert status == 400 and message in payload["error"]["message"], (meta, payload)
    status, payload = _raw_post(service, "log_metrics", token, {"run_id": "step", "records": [
        {"__entity__": "MetricRecord", "name": "old", "kind": "scalar", "value": 9}]})
    assert status == 200, payload
    assert [(r.name, r.value) for r in store.get_metric_records("step")] == [
        ("m", 0), ("m", 1), ("m", 2), ("old", 9)]
    status, payload = _raw_post(service, "get_metric_records", token,
                                {"run_id": "step", "name": ["m"]})
    assert status == 400 and "metric name must be a string" in payload["error"]["message"]


def test_a_step_reads_one_metric_as_columns(remote, store):
    store.log_metrics("step", [MetricRecord(name="big", kind="scalar", value=i)
                               for i in range(1000)]
                      + [MetricRecord(name="small", kind="row", value={"a": 1})])
    columns = remote.get_metric_columns("step", name="small")
    assert (list(columns.names), list(columns.kinds), list(columns.values)) == (
        ["small"], ["row"], [{"a": 1}])
    assert list(remote.get_metric_columns("step").values)[:3] == [0, 1, 2]
    assert [r.value for r in remote.get_metric_records("step", name="big")] == list(range(1000))


def test_concurrent_clients(remote, store):
    """Many steps at once: the threading server and SQLite (WAL) take parallel writes."""
    from concurrent.futures import ThreadPoolExecutor

    def work(worker: int) -> None:
        for i in range(10):
            remote.log_metrics("step", [MetricRecord(name=f"w{worker}", kind="scalar", value=i)])
            assert remote.get_run("step") is not None

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(work, range(16)))
    records = store.get_metric_records("step")
    assert len(records) == 160
    assert [r.value for r in records if r.name == "w3"] == list(range(10))


def test_artifacts_stream_both_ways(remote, store, tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(6 * 1024 * 1024 + 13))  # > 5 MB, not a multiple of the block
    remote.put_artifact("step", "outputs/big.bin", big)
    remote.put_artifact("step", "outputs/small.txt", _write(tmp_path / "s.txt", "hello"))
    assert remote.list_artifacts("step") == ["outputs/big.bin", "outputs/small.txt"]

    back = remote.fetch_artifact("step", "outputs/big.bin", tmp_path / "down" / "big.bin")
    assert back == tmp_path / "down" / "big.bin"
    assert back.read_bytes() == big.read_bytes()
    assert not [p for p in back.parent.iterdir() if p.name.startswith(".tmp-")]

    with pytest.raises(UserErrorException, match="run step has no file 'outputs/missing'"):
        remote.fetch_artifact("step", "outputs/missing", tmp_path / "x")
    assert not (tmp_path / "x").exists()

    with pytest.raises(FileNotFoundError):
        remote.put_artifact("step", "outputs/none", tmp_path / "does-not-exist")


def test_live_log_append_and_read(remote, store):
    remote.append_artifact("step", "logs/std_log.txt", b"line 1\n")
    remote.append_artifact("step", "logs/std_log.txt", b"line 2\n")
    assert remote.read_artifact("step", "logs/std_log.txt") == b"line 1\nline 2\n"
    assert remote.read_artifact("step", "logs/std_log.txt", offset=7) == b"line 2\n"
    assert remote.read_artifact("step", "logs/none.txt") == b""
    assert store.read_artifact("step", "logs/std_log.txt") == b"line 1\nline 2\n"


def test_models_file_and_folder(remote, store, tmp_path):
    model_file = _write(tmp_path / "model.pkl", "weights")
    folder = tmp_path / "bundle"
    _write(folder / "a.txt", "a")
    _write(folder / "nested" / "b.bin", "b" * 100_000)
    info = ModelInfo(workspace_id="ws1", name="clf", version=0, path="", run_id="step",
                     tags={"t": "1"})

    first = remote.register_model(info, model_file)
    second = remote.register_model(info, folder)
    assert (first.version, first.path, second.version, second.path) == (1, "model.pkl", 2, "bundle")
    assert store.get_model("ws1", "clf").version == 2
    assert remote.get_model("ws1", "clf", 1) == first
    assert remote.get_model("ws1", "clf") == second
    assert [m.version for m in remote.list_models("ws1", "clf")] == [2, 1]
    with pytest.raises(UserErrorException, match="list_models only in its own workspace"):
        remote.list_models("ws2")

    got = remote.fetch_model(first, tmp_path / "out1")
    assert got == tmp_path / "out1" / "model.pkl" and got.read_text() == "weights"
    got = remote.fetch_model(second, tmp_path / "out2")
    assert got == tmp_path / "out2" / "bundle"
    assert (got / "a.txt").read_text() == "a"
    assert (got / "nested" / "b.bin").read_text() == "b" * 100_000


def test_no_token_is_401(service):
    status, payload = _raw_post(service, "get_run", None, {"run_id": "step"})
    assert status == 401 and "token is missing, unknown or revoked" in payload["error"]["message"]
    status, _ = _raw_post(service, "get_run", "made-up", {"run_id": "step"})
    assert status == 401


def test_revoked_token_is_refused(service):
    token = service.grant("step")
    remote = RemoteStore(service.url, token)
    assert remote.get_run("step") is not None
    service.revoke(token)
    with pytest.raises(UserErrorException, match="token is missing, unknown or revoked"):
        remote.get_run("step")


def test_other_runs_writes_are_403(service, remote, store, tmp_path):
    status, payload = _raw_post(service, "set_tags", service.grant("step"),
                                {"run_id": "other", "tags": {"x": "1"}})
    assert status == 403 and "may not call set_tags on run other" in payload["error"]["message"]
    with pytest.raises(UserErrorException, match="may not call log_metrics on run other"):
        remote.log_metrics("other", [MetricRecord(name="m", kind="scalar", value=1)])
    with pytest.raises(UserErrorException, match="may not call put_artifact on run other"):
        remote.put_artifact("other", "outputs/x.txt", _write(tmp_path / "x.txt", "x" * 300_000))
    with pytest.raises(UserErrorException, match="may create only its own child runs"):
        remote.create_run(RunInfo(id="sneaky", workspace_id="ws1", experiment="exp",
                                  kind="script", parent_id="other"))
    with pytest.raises(UserErrorException, match="only in its own workspace"):
        remote.register_model(ModelInfo(workspace_id="ws2", name="m", version=0, path=""),
                              _write(tmp_path / "m.txt", "m"))
    assert store.get_run("other").tags == {} and store.get_run("sneaky") is None
    assert store.list_artifacts("other") == [] and store.list_models("ws2") == []
    # reads of any run are fine
    assert remote.get_run("other").id == "other"


def test_a_step_writes_metrics_tags_and_properties_to_its_parent(remote, store):
    """``run.parent.log/tag/add_properties``: exactly these writes reach the parent run."""
    remote.log_metrics("pipe", [MetricRecord(name="best", kind="scalar", value=0.9)])
    remote.set_tags("pipe", {"winner": "step"})
    remote.add_properties("pipe", {"trainer": "step"})
    assert [r.value for r in store.get_metric_records("pipe")] == [0.9]
    assert store.get_run("pipe").tags == {"winner": "step"}
    assert store.get_run("pipe").properties == {"trainer": "step"}


def test_a_step_may_not_change_its_parent_otherwise(service, remote, store, tmp_path):
    for method, meta in [("update_run", {"run_id": "pipe", "fields": {"status": "Finished"}}),
                         ("remove_tags", {"run_id": "pipe", "keys": ["x"]}),
                         ("append_artifact", {"run_id": "pipe", "name": "logs/x.txt"})]:
        status, payload = _raw_post(service, method, service.grant("step"), meta)
        assert status == 403, (method, payload)
        assert f"may not call {method} on run pipe" in payload["error"]["message"]
        assert "log_metrics, set_tags" in payload["error"]["message"]  # says what is allowed
    with pytest.raises(UserErrorException, match="may not call put_artifact on run pipe"):
        remote.put_artifact("pipe", "outputs/x.txt", _write(tmp_path / "x.txt", "x"))
    # nor its grandparent: only the direct parent
    store.create_run(RunInfo(id="grand", workspace_id="ws1", experiment="exp", kind="script",
                             parent_id="step"))
    child_remote = RemoteStore(service.url, service.grant("grand"))
    child_remote.set_tags("step", {"ok": "1"})
    with pytest.raises(UserErrorException, match="may not call set_tags on run pipe"):
        child_remote.set_tags("pipe", {"no": "1"})
    assert store.get_run("pipe").status == "NotStarted" and store.get_run("pipe").tags == {}
    assert store.list_artifacts("pipe") == []


def test_amlocal_properties_are_reserved(remote, store):
    for run_id in ("step", "pipe"):
        with pytest.raises(UserErrorException, match="names starting with 'amlocal.'"):
            remote.add_properties(run_id, {"amlocal.requested_status": "Canceled", "a": "1"})
        assert store.get_run(run_id).properties == {}


def test_workspace_and_admin_writes_are_403(service, remote, store):
    status, payload = _raw_post(service, "create_workspace", service.grant("step"), {
        "info": {"__entity__": "WorkspaceInfo", "id": "ws3", "name": "ws3",
                 "subscription_id": "s", "resource_group": "rg"}})
    assert status == 403 and "may not call create_workspace" in payload["error"]["message"]
    with pytest.raises(UserErrorException, match="may not call put_datastore"):
        remote.put_datastore(DatastoreInfo(workspace_id="ws1", name="d", url="file:///tmp"))
    with pytest.raises(UserErrorException, match="may not call delete_datastore"):
        remote.delete_datastore("ws1", "workspaceblobstore")
    assert [w.name for w in store.find_workspaces()] == ["ws1", "ws2"]
    # an own-workspace registration is allowed
    assert remote.ensure_experiment("ws1", "exp2").name == "exp2"
    assert remote.register_environment("ws1", "env", {"python": "3.11"}).version == 1


def test_unknown_method_is_404(service):
    status, payload = _raw_post(service, "__init__", service.grant("step"), {})
    assert status == 404 and "has no method '__init__'" in payload["error"]["message"]
    assert "log_metrics" in payload["error"]["message"]


def test_unreachable_service_says_so(tmp_path):
    remote = RemoteStore(f"unix://{tmp_path}/gone.sock", "token")
    start = time.monotonic()
    with pytest.raises(StoreError, match=r"the run service at unix://.*gone.sock does not answer: "
                                         r"is the step's runner still alive\?"):
        remote.get_run("step")
    assert time.monotonic() - start < 10
    with pytest.raises(StoreError, match="does not answer"):
        RemoteStore("http://127.0.0.1:1", "token").get_run("step")


def test_stopped_service_is_unreachable(store):
    folder = tempfile.mkdtemp(prefix="amlrs-", dir="/tmp")
    service = RunService(store, socket_path=os.path.join(folder, "run.sock")).start()
    remote = RemoteStore(service.url, service.grant("step"))
    assert remote.get_run("step") is not None
    service.stop()
    with pytest.raises(StoreError, match="is the step's runner still alive"):
        remote.get_run("step")
    shutil.rmtree(folder)


def test_bad_service_address():
    with pytest.raises(UserErrorException, match="use unix:///path/to/run.sock or http://host:port"):
        RemoteStore("ftp://x", "t")


def test_safe_extract_refuses_escaping_members(tmp_path):
    for name, kind in (("../evil.txt", tarfile.REGTYPE), ("/abs/evil.txt", tarfile.REGTYPE),
                       ("ok/../../evil.txt", tarfile.REGTYPE), ("link", tarfile.SYMTYPE)):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            member = tarfile.TarInfo(name)
            member.type = kind
            member.linkname = "/etc/passwd" if kind == tarfile.SYMTYPE else ""
            member.size = 4 if kind == tarfile.REGTYPE else 0
            tar.addfile(member, io.BytesIO(b"evil") if kind == tarfile.REGTYPE else None)
        buffer.seek(0)
        with tarfile.open(fileobj=buffer, mode="r|") as tar:
            with pytest.raises(StoreError, match="refusing archive member"):
                safe_extract(tar, tmp_path / "target")
    assert not (tmp_path / "evil.txt").exists()
    assert not any((tmp_path / "target").rglob("*"))


def test_aborted_model_upload_registers_nothing(remote, store, tmp_path, monkeypatch):
    """A client that fails while streaming a model (here: a file it cannot read) abandons the
    request; the service must not register a partial model."""
    folder = tmp_path / "bundle"
    _write(folder / "a.txt", "a" * 2_000_000)
    secret = _write(folder / "z.txt", "z")
    secret.chmod(0)
    if os.access(secret, os.R_OK):  # running as root: make the read fail another way
        secret.chmod(0o644)
        import amlocal.runservice.client as client

        original = client.tarfile.TarFile.add

        def failing_add(self, name, *args, **kwargs):
            if name.endswith("z.txt"):
                raise PermissionError(13, "Permission denied", name)
            return original(self, name, *args, **kwargs)

        monkeypatch.setattr(client.tarfile.TarFile, "add", failing_add)
    with pytest.raises(PermissionError):
        remote.register_model(ModelInfo(workspace_id="ws1", name="half", version=0, path=""), folder)
    assert store.list_models("ws1", "half") == []


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_fetch_dataset_copies_files_of_the_own_workspace_only(store, remote, tmp_path):
    """A step reads a dataset that is not one of its inputs: the host copies the files from the
    step's workspace datastores; URL sources and other workspaces' datastores are refused."""
    data = tmp_path / "lake"
    (data / "labels").mkdir(parents=True)
    (data / "labels" / "labels.txt").write_text("short\nlong\n")
    (data / "labels" / "extra.csv").write_text("a\n")
    for ws in ("ws1", "ws2"):
        store.put_datastore(DatastoreInfo(workspace_id=ws, name="lake", kind="fsspec",
                                          url=data.as_uri()))
    definition = {"schema_version": 1, "type": "FileDataset", "transforms": [],
                  "sources": [{"datastore": "lake", "path": "labels/*.txt"}]}
    bound = remote.fetch_dataset("ws1", definition, tmp_path / "copy")
    root = Path(bound["root"])
    assert [p.name for p in root.rglob("*") if p.is_file()] == ["labels.txt"]
    assert (root / "labels.txt").read_text() == "short\nlong\n"   # at its portable path
    assert bound["sources"] == [{"base": "labels", "pattern": "*.txt"}]

    with pytest.raises(UserErrorException, match="only in its own workspace"):
        remote.fetch_dataset("ws2", definition, tmp_path / "copy2")
    with pytest.raises(UserErrorException, match="datastores only"):
        remote.fetch_dataset("ws1", {**definition, "sources": [{"url": "file:///etc"}]},
                             tmp_path / "copy3")
    with pytest.raises(UserErrorException, match="leav|outside|not valid"):
        remote.fetch_dataset("ws1", {**definition, "sources": [{"datastore": "lake",
                                                                 "path": "../../etc/*"}]},
                             tmp_path / "copy4")
    # a link planted in the datastore (a step's output folder) is not read through
    canary = tmp_path / "canary.txt"
    canary.write_text("CANARY-1b7e")
    (data / "labels" / "planted.txt").symlink_to(canary)
    with pytest.raises(UserErrorException, match="symbolic link"):
        remote.fetch_dataset("ws1", definition, tmp_path / "copy5")
    assert not any("CANARY" in p.read_text() for p in (tmp_path / "copy5").rglob("*")
                   if p.is_file())
