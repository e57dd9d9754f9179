"""The store interface contract (:class:`amlocal.store.base.Store`), one set of tests run against
the SQL store (the host's) and against the step API's client (``RemoteStore`` talking to a real
``RunService`` over its Unix socket, with a token granted for the step run).

Both act as the same step run ``step`` (child of the pipeline run ``pipe``, workspace ``ws1``).
What both allow must behave the same; what only the SQL store allows (issue 8 section 2: a step
touches its own run, its parent's metrics/tags/properties and the child runs it creates, reads
its workspace, registers models/datasets/environments) must be refused by the client with the
step API's error (UserErrorException naming what a step may do), and leave the host unchanged.
"""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from amlocal.errors import UserErrorException
from amlocal.runservice import RemoteStore, RunService
from amlocal.store import open_store
from amlocal.store.base import Store
from amlocal.store.entities import (ComputeTargetInfo, DatasetInfo, DatastoreInfo, MetricRecord,
                                    ModelInfo, PublishedPipelineInfo, RunInfo, WorkspaceInfo,
                                    utcnow)

pytestmark = pytest.mark.both_stores  # on SQLite and on PostgreSQL (tests/conftest.py)

SECRET = "S3CRET-account-key-never-for-steps"
WS, OTHER_WS, EXPERIMENT = "ws1", "ws2", "exp"


@dataclass(frozen=True)
class Scene:
    """``store`` is what the test calls (as the step run ``step``); ``host`` is the SQL store
    behind it, where the test checks what was recorded."""

    kind: str                  # "sql" or "client"
    store: Store
    host: Store


@pytest.fixture(params=["sql", "client"])
def scene(request, tmp_path, monkeypatch, store_url):
    monkeypatch.setenv("AMLOCAL_HOME", str(tmp_path / "home"))
    if store_url:   # PostgreSQL (store_kind): a fresh database
        monkeypatch.setenv("AMLOCAL_STORE_URL", store_url)
    else:
        monkeypatch.delenv("AMLOCAL_STORE_URL", raising=False)
    host = open_store()
    for ws in (WS, OTHER_WS):
        host.create_workspace(WorkspaceInfo(id=ws, name=ws, subscription_id="sub",
                                            resource_group="rg"))
    host.put_datastore(DatastoreInfo(
        workspace_id=WS, name="blobby", kind="azure_blob",
        url="https://acct.blob.core.windows.net/data",
        options={"account_name": "acct", "account_key": SECRET, "container_name": "data"}))
    host.create_run(RunInfo(id="pipe", workspace_id=WS, experiment=EXPERIMENT, kind="pipeline"))
    for run_id in ("step", "sibling"):
        host.create_run(RunInfo(id=run_id, workspace_id=WS, experiment=EXPERIMENT, kind="step",
                                parent_id="pipe"))
    host.create_run(RunInfo(id="elsewhere", workspace_id=WS, experiment=EXPERIMENT,
                            kind="script"))                   # another tree of the workspace
    host.create_run(RunInfo(id="foreign", workspace_id=OTHER_WS, experiment=EXPERIMENT,
                            kind="script", status="Completed"))
    if request.param == "sql":
        yield Scene("sql", host, host)
        return
    folder = tempfile.mkdtemp(prefix="amlct-")   # a short path: Unix socket paths are limited
    try:
        with RunService(host, socket_path=str(Path(folder, "run.sock"))) as service:
            yield Scene("client", RemoteStore(service.url, service.grant("step")), host)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _file(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _dataset(name: str, path: str) -> DatasetInfo:
    from amlocal.datastores.paths import definition_id
    definition = {"schema_version": 1, "type": "FileDataset", "transforms": [],
                  "sources": [{"datastore": "blobby", "path": path}]}
    return DatasetInfo(workspace_id=WS, name=name, version=0, id=definition_id(definition),
                       definition=definition)


# -- what both allow, with the same behaviour -------------------------------------------------

def test_child_runs_are_created_read_and_updated(scene):
    created = scene.store.create_run(RunInfo(id="child-1", workspace_id=WS,
                                             experiment=EXPERIMENT, kind="script",
                                             parent_id="step"))
    for info in (created, scene.store.get_run("child-1"), scene.host.get_run("child-1")):
        assert (info.id, info.parent_id, info.kind, info.status, info.experiment) == \
            ("child-1", "step", "script", "NotStarted", EXPERIMENT)
    assert [r.id for r in scene.store.list_runs(WS, parent_id="step")] == ["child-1"]
    started = utcnow()
    scene.store.update_run("child-1", status="Running", started_at=started)
    scene.store.update_run("child-1", status="Completed", ended_at=utcnow())
    seen = scene.store.get_run("child-1")
    assert (seen.status, seen.started_at) == ("Completed", started) and seen.ended_at
    assert scene.store.get_run("no-such-run") is None


def test_metrics_come_back_in_logging_order(scene):
    first = [MetricRecord(name="loss", kind="scalar", value=1.5, step=0),
             MetricRecord(name="acc", kind="scalar", value=0.5, step=0),
             MetricRecord(name="curve", kind="list", value=[1, 2, 3])]
    second = [MetricRecord(name="loss", kind="scalar", value=0.75, step=1),
              MetricRecord(name="table", kind="table", value={"a": [1, 2], "b": ["x", "y"]})]
    scene.store.log_metrics("step", first)
    scene.store.log_metrics("step", second)
    scene.store.log_metrics("pipe", [MetricRecord(name="best", kind="scalar", value=0.9)])
    for store in (scene.store, scene.host):
        assert store.get_metric_records("step") == first + second
        assert [(r.name, r.value) for r in store.get_metric_records("pipe")] == [("best", 0.9)]


def test_one_metric_is_read_alone_and_columns_match_the_records(scene):
    from amlocal.store.base import MetricColumns
    logged = [MetricRecord(name="loss", kind="scalar", value=1.5, step=0),
              MetricRecord(name="note", kind="scalar", value="1"),          # a string, not 1
              MetricRecord(name="loss", kind="scalar", value=None, step=1),
              MetricRecord(name="row", kind="row", value={"a": 1, "b": [True, None]}),
              MetricRecord(name="loss", kind="scalar", value=2 ** 40, step=2)]
    scene.store.log_metrics("step", logged)
    for store in (scene.store, scene.host):
        assert store.get_metric_records("step", name="loss") == [
            r for r in logged if r.name == "loss"]
        assert store.get_metric_records("step", name="nothing") == []
        columns = store.get_metric_columns("step")
        assert isinstance(columns, MetricColumns)
        assert list(map(MetricRecord, columns.names, columns.kinds, columns.values,
                        columns.steps, columns.created_at)) == logged
        one = store.get_metric_columns("step", name="row")
        assert (list(one.names), list(one.values)) == (["row"], [{"a": 1, "b": [True, None]}])
        assert list(store.get_metric_columns("step", name="nothing").values) == []


def test_tags_merge_and_properties_are_add_only(scene):
    for run_id in ("step", "pipe"):                        # its own run and its parent
        scene.store.set_tags(run_id, {"a": "1", "b": "2"})
        scene.store.set_tags(run_id, {"b": "3"})
        scene.store.add_properties(run_id, {"p": "x"})
        scene.store.add_properties(run_id, {"p": "x", "q": "y"})   # the same value again: fine
        with pytest.raises(UserErrorException, match="cannot be changed once added"):
            scene.store.add_properties(run_id, {"p": "changed"})
        for store in (scene.store, scene.host):
            info = store.get_run(run_id)
            assert info.tags == {"a": "1", "b": "3"}
            assert info.properties == {"p": "x", "q": "y"}
    scene.store.remove_tags("step", ["a"])
    assert scene.host.get_run("step").tags == {"b": "3"}


def test_artifacts_are_put_read_listed_and_appended(scene, tmp_path):
    scene.store.put_artifact("step", "outputs/model.txt",
                             _file(tmp_path / "src" / "model.txt", "weights\n"))
    scene.store.put_artifact("step", "outputs/sub/b.bin",
                             _file(tmp_path / "src" / "b.bin", "b" * 200_000))
    scene.store.append_artifact("step", "logs/live.txt", b"one\n")
    scene.store.append_artifact("step", "logs/live.txt", b"two\n")
    for store in (scene.store, scene.host):
        assert sorted(store.list_artifacts("step")) == ["logs/live.txt", "outputs/model.txt",
                                                        "outputs/sub/b.bin"]
        assert store.read_artifact("step", "logs/live.txt") == b"one\ntwo\n"
        assert store.read_artifact("step", "logs/live.txt", offset=4) == b"two\n"
        assert store.read_artifact("step", "logs/not-yet.txt") == b""
    target = scene.store.fetch_artifact("step", "outputs/sub/b.bin", tmp_path / "got" / "b.bin")
    assert Path(target).read_text() == "b" * 200_000


def test_models_are_registered_with_versions_and_fetched(scene, tmp_path):
    one = scene.store.register_model(
        ModelInfo(workspace_id=WS, name="clf", version=0, path="", run_id="step",
                  tags={"stage": "dev"}, description="first"),
        _file(tmp_path / "m1" / "model.pkl", "v1"))
    folder = tmp_path / "m2"
    _file(folder / "weights.bin", "v2")
    _file(folder / "config" / "cfg.json", "{}")
    two = scene.store.register_model(ModelInfo(workspace_id=WS, name="clf", version=7,
                                               path="ignored"), folder)
    assert (one.version, two.version) == (1, 2)           # the store numbers them
    for store in (scene.store, scene.host):
        assert store.get_model(WS, "clf").version == 2
        first = store.get_model(WS, "clf", 1)
        assert (first.run_id, first.tags, first.description) == ("step", {"stage": "dev"},
                                                                 "first")
        assert [m.version for m in store.list_models(WS, name="clf")] == [2, 1]   # newest first
        assert store.get_model(WS, "no-such-model") is None
    got = Path(scene.store.fetch_model(scene.store.get_model(WS, "clf", 2), tmp_path / "out"))
    assert (got / "weights.bin").read_text() == "v2"
    assert (got / "config" / "cfg.json").read_text() == "{}"
    got = Path(scene.store.fetch_model(scene.store.get_model(WS, "clf", 1), tmp_path / "out1"))
    assert got.read_text() == "v1"
    updated = scene.store.update_model(WS, "clf", 1, add_tags={"stage": "prod"},
                                       add_properties={"owner": "me"})
    assert updated.tags == {"stage": "prod"} and updated.properties == {"owner": "me"}
    with pytest.raises(UserErrorException):
        scene.store.update_model(WS, "clf", 1, add_properties={"owner": "someone else"})


def test_datasets_are_registered_and_read(scene):
    labels = _dataset("labels", "labels/*.txt")
    assert scene.store.register_dataset(labels).version == 1
    assert scene.store.register_dataset(labels).version == 1   # the same definition: unchanged
    changed = _dataset("labels", "labels/*.csv")
    with pytest.raises(UserErrorException):
        scene.store.register_dataset(changed)
    assert scene.store.register_dataset(changed, create_new_version=True).version == 2
    for store in (scene.store, scene.host):
        assert store.get_dataset(WS, "labels").id == changed.id
        assert store.get_dataset(WS, "labels", 1).definition == labels.definition
        assert store.get_dataset_by_id(WS, labels.id).name == "labels"
        assert store.get_dataset(WS, "no-such-dataset") is None
    assert [(d.name, d.version) for d in scene.store.list_datasets(WS)] == [("labels", 2),
                                                                            ("labels", 1)]


def test_environments_and_experiments(scene):
    assert scene.store.register_environment(WS, "env", {"python": "3.11"}).version == 1
    assert scene.store.register_environment(WS, "env", {"python": "3.11"}).version == 1
    assert scene.store.register_environment(WS, "env", {"python": "3.12"}).version == 2
    for store in (scene.store, scene.host):
        assert store.get_environment(WS, "env").definition == {"python": "3.12"}
        assert store.get_environment(WS, "env", 1).definition == {"python": "3.11"}
    assert scene.store.ensure_experiment(WS, "exp2").name == "exp2"
    assert scene.host.get_experiment(WS, "exp2") is not None


def test_datastores_are_read_and_a_step_never_sees_their_secrets(scene):
    got = scene.store.get_datastore(WS, "blobby")
    listed = {d.name: d for d in scene.store.list_datastores(WS)}["blobby"]
    for info in (got, listed):
        assert (info.name, info.kind, info.url) == ("blobby", "azure_blob",
                                                    "https://acct.blob.core.windows.net/data")
        assert info.options["account_name"] == "acct"
        assert info.options["account_key"] == (SECRET if scene.kind == "sql" else "***")
    assert scene.store.get_datastore(WS, "missing_store") is None


# -- what only the SQL store allows ----------------------------------------------------------

@dataclass(frozen=True)
class HostOnly:
    """A call the host makes and a step may not: ``call`` on the store; the client's refusal (a
    regular expression of its message); ``did(result, host)``: the SQL store did it;
    ``changed(host)``: the host shows it (None for a read, which changes nothing)."""

    call: Callable[[Store, Path], object]
    refusal: str
    did: Callable[[object, Store], bool]
    changed: Callable[[Store], bool] | None = None


def _write(call, refusal: str, changed: Callable[[Store], bool]) -> HostOnly:
    return HostOnly(call, refusal, lambda _result, host: changed(host), changed)


def _read(call, refusal: str, did: Callable[[object], bool]) -> HostOnly:
    return HostOnly(call, refusal, lambda result, _host: did(result))


HOST_ONLY = {
    "create a workspace": _write(
        lambda s, _: s.create_workspace(WorkspaceInfo(id="ws3", name="ws3", subscription_id="s",
                                                      resource_group="rg")),
        r"a step may not call create_workspace", lambda h: bool(h.find_workspaces(name="ws3"))),
    "register a datastore": _write(
        lambda s, _: s.put_datastore(DatastoreInfo(workspace_id=WS, name="d2",
                                                   url="file:///data")),
        r"a step may not call put_datastore", lambda h: h.get_datastore(WS, "d2") is not None),
    "delete a datastore": _write(
        lambda s, _: s.delete_datastore(WS, "blobby"), r"a step may not call delete_datastore",
        lambda h: h.get_datastore(WS, "blobby") is None),
    "publish a pipeline": _write(
        lambda s, _: s.put_pipeline(PublishedPipelineInfo(id="pp1", workspace_id=WS, name="p",
                                                          definition={})),
        r"a step may not call put_pipeline", lambda h: h.get_pipeline("pp1") is not None),
    "add a compute target": _write(
        lambda s, _: s.put_compute_target(ComputeTargetInfo(workspace_id=WS, name="gpu",
                                                            kind="docker")),
        r"a step may not call put_compute_target",
        lambda h: h.get_compute_target(WS, "gpu") is not None),
    "unregister datasets": _write(
        lambda s, _: s.unregister_datasets(WS, "registered"),
        r"a step may not call unregister_datasets",
        lambda h: h.get_dataset(WS, "registered") is None),
    "delete another workspace": _write(
        lambda s, _: s.delete_workspace(OTHER_WS), r"a step may not call delete_workspace",
        lambda h: not h.find_workspaces(name=OTHER_WS)),
    "set its own status": _write(
        lambda s, _: s.update_run("step", status="Completed"),
        r"may not call update_run on itself",
        lambda h: h.get_run("step").status == "Completed"),
    "create a run with a reuse key": _write(
        lambda s, _: s.create_run(RunInfo(id="planted", workspace_id=WS, experiment=EXPERIMENT,
                                          kind="script", parent_id="step",
                                          reuse_key="r" * 64)),
        r"may not carry reuse_key", lambda h: h.get_run("planted") is not None),
    "create a run that is not its child": _write(
        lambda s, _: s.create_run(RunInfo(id="adopted", workspace_id=WS, experiment=EXPERIMENT,
                                          kind="script", parent_id="sibling")),
        r"may create only its own child runs", lambda h: h.get_run("adopted") is not None),
    "tag a sibling run": _write(
        lambda s, _: s.set_tags("sibling", {"x": "1"}), r"may not call set_tags on run sibling",
        lambda h: h.get_run("sibling").tags == {"x": "1"}),
    "log to a run of another workspace": _write(
        lambda s, _: s.log_metrics("foreign", [MetricRecord(name="m", kind="scalar", value=1)]),
        r"may not call log_metrics on run foreign",
        lambda h: bool(h.get_metric_records("foreign"))),
    "remove its parent's tags": _write(
        lambda s, _: s.remove_tags("pipe", ["keep"]), r"may not call remove_tags on run pipe",
        lambda h: "keep" not in h.get_run("pipe").tags),
    "upload to its parent": _write(
        lambda s, tmp: s.put_artifact("pipe", "outputs/x.txt", _file(tmp / "x.txt", "x")),
        r"may not call put_artifact on run pipe",
        lambda h: h.list_artifacts("pipe") == ["outputs/x.txt"]),
    "register a model in another workspace": _write(
        lambda s, tmp: s.register_model(ModelInfo(workspace_id=OTHER_WS, name="m", version=0,
                                                  path=""), _file(tmp / "m.txt", "m")),
        r"only in its own workspace", lambda h: bool(h.list_models(OTHER_WS))),
    "add amlocal's own properties": _write(
        lambda s, _: s.add_properties("step", {"amlocal.recorded": "true"}),
        r"names starting with 'amlocal\.'",
        lambda h: "amlocal.recorded" in h.get_run("step").properties),
    "look up a reusable run": _read(
        lambda s, _: s.find_reusable_run(WS, "k" * 64), r"a step may not call find_reusable_run",
        lambda result: result is None),
    "read the files of another tree": _read(
        lambda s, _: s.list_artifacts("elsewhere"),
        r"may not call list_artifacts on run elsewhere",
        lambda result: result == ["outputs/elsewhere.txt"]),
    "read a run of another workspace": _read(
        lambda s, _: s.get_run("foreign"), r"its own workspace",
        lambda result: result.workspace_id == OTHER_WS),
}


@pytest.mark.parametrize("what", sorted(HOST_ONLY))
def test_what_only_the_host_may_do(scene, tmp_path, what):
    case = HOST_ONLY[what]
    scene.host.register_dataset(_dataset("registered", "any/*.txt"))
    scene.host.set_tags("pipe", {"keep": "1"})
    scene.host.put_artifact("elsewhere", "outputs/elsewhere.txt",
                            _file(tmp_path / "elsewhere.txt", "not for this step"))
    if scene.kind == "sql":
        result = case.call(scene.store, tmp_path)         # the host's store does it
        assert case.did(result, scene.host), what
        return
    with pytest.raises(UserErrorException, match=case.refusal):
        case.call(scene.store, tmp_path)
    if case.changed is not None:
        assert not case.changed(scene.host), f"refused, but the host changed: {what}"
