"""The run-list part of the store contract (``Store.list_runs`` filters and paging,
``Store.count_runs``), against the SQL store and against the step API's client (``RemoteStore``
over a real ``RunService``, as the step run ``step``): both answer alike."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from amlocal.errors import UserErrorException
from amlocal.runservice import RemoteStore, RunService
from amlocal.store import open_store
from amlocal.store.entities import RunInfo, WorkspaceInfo

pytestmark = pytest.mark.both_stores  # on SQLite and on PostgreSQL (tests/conftest.py)

WS, EXPERIMENT = "ws1", "exp"
PIPELINES = 7


def _stamp(i: int) -> str:
    return f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}.000000Z"


@pytest.fixture(params=["sql", "client"])
def store(request, tmp_path, monkeypatch, store_url):
    """7 pipeline runs ``p0``..``p6`` (p3 Failed, the rest Finished), each with 2 steps, and
    one script run of another experiment; ``step`` is the step run the client acts as."""
    monkeypatch.setenv("AMLOCAL_HOME", str(tmp_path / "home"))
    if store_url:   # PostgreSQL (store_kind): a fresh database
        monkeypatch.setenv("AMLOCAL_STORE_URL", store_url)
    else:
        monkeypatch.delenv("AMLOCAL_STORE_URL", raising=False)
    host = open_store()
    host.create_workspace(WorkspaceInfo(id=WS, name=WS, subscription_id="s", resource_group="r"))
    for i in range(PIPELINES):
        host.create_run(RunInfo(id=f"p{i}", workspace_id=WS, experiment=EXPERIMENT,
                                kind="pipeline", status="Failed" if i == 3 else "Finished",
                                created_at=_stamp(10 * i), definition={"graph": {"i": i}},
                                tags={"n": str(i)}))
        for s in range(2):
            host.create_run(RunInfo(id=f"p{i}s{s}", workspace_id=WS, experiment=EXPERIMENT,
                                    kind="step", parent_id=f"p{i}", status="Finished",
                                    created_at=_stamp(10 * i + 1 + s)))
    host.create_run(RunInfo(id="step", workspace_id=WS, experiment="other", kind="script",
                            status="Running", created_at=_stamp(500)))
    if request.param == "sql":
        yield host
        return
    folder = tempfile.mkdtemp(prefix="amlrl-")
    try:
        with RunService(host, socket_path=str(Path(folder, "run.sock"))) as service:
            yield RemoteStore(service.url, service.grant("step"))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _ids(infos) -> list[str]:
    return [i.id for i in infos]


def test_top_level_runs_newest_first_with_counts(store):
    top = store.list_runs(WS, EXPERIMENT, top_level=True)
    assert _ids(top) == [f"p{i}" for i in reversed(range(PIPELINES))]
    assert store.count_runs(WS, EXPERIMENT, top_level=True) == PIPELINES
    assert store.count_runs(WS) == PIPELINES * 3 + 1
    assert store.count_runs(WS, kind="step") == PIPELINES * 2
    assert _ids(store.list_runs(WS, statuses=["Failed"])) == ["p3"]
    assert _ids(store.list_runs(WS, statuses=["Running", "Failed"])) == ["step", "p3"]
    assert store.count_runs(WS, statuses=["Failed", "Finished"], top_level=True) == PIPELINES
    assert store.list_runs(WS, statuses=[]) == [] and store.count_runs(WS, statuses=[]) == 0


def test_pages_follow_the_last_run_of_the_previous_page(store):
    seen, before = [], None
    while True:
        page = store.list_runs(WS, EXPERIMENT, top_level=True, before=before, limit=3)
        seen += _ids(page)
        if len(page) < 3:
            break
        before = (page[-1].created_at, page[-1].id)
    assert seen == [f"p{i}" for i in reversed(range(PIPELINES))]
    assert _ids(store.list_runs(WS, EXPERIMENT, top_level=True, offset=5, limit=10)) == ["p1", "p0"]
    window = store.list_runs(WS, EXPERIMENT, created_after=_stamp(20), created_before=_stamp(40))
    assert _ids(window) == ["p3s1", "p3s0", "p3", "p2s1", "p2s0"]


def test_lists_may_leave_the_definitions_out(store):
    light = store.list_runs(WS, EXPERIMENT, top_level=True, limit=2, with_definition=False)
    assert [(i.id, i.definition, i.tags) for i in light] == [("p6", {}, {"n": "6"}),
                                                             ("p5", {}, {"n": "5"})]
    assert store.list_runs(WS, EXPERIMENT, top_level=True, limit=1)[0].definition == \
        {"graph": {"i": 6}}


def test_children_of_a_run_and_malformed_paging_is_refused(store):
    assert _ids(store.list_runs(WS, parent_id="p2")) == ["p2s1", "p2s0"]
    for bad in ({"limit": -1}, {"limit": "3"}, {"offset": -2}, {"before": ["only-one"]},
                {"before": "p3"}, {"statuses": 5}, {"statuses": [5]}):
        with pytest.raises(UserErrorException):
            store.list_runs(WS, **bad)
