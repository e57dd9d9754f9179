"""The run lists of the read API and of the page's API are filtered, counted and paged in the
store: pages over many runs (with step children) come newest first without repeats, counts are
of every match, and a run whose runner died is shown and counted Failed on the first list.
A real server over a real store; records written straight to the store."""
from __future__ import annotations

import pytest

PIPELINES = 60


def _stamp(i: int) -> str:
    return f"2026-03-01T00:{i // 60:02d}:{i % 60:02d}.000000Z"


@pytest.fixture(scope="module")
def world(studio_module, docker_engine):
    """(studio, workspace id): 60 pipeline runs (every 5th Failed, named in reverse), 2 steps
    each, and one Running script run whose runner (pid 999999999) is long gone."""
    from amlocal._engine.settle import RUNNER_PID
    from amlocal.core import Workspace
    from amlocal.store import open_store
    from amlocal.store import schema as t
    from amlocal.store.entities import RunInfo
    ws = Workspace("00000000-0000-0000-0000-000000000000", "paging-rg", "pagingws")
    store = open_store()
    store.ensure_experiment(ws._id, "many")
    store.ensure_experiment(ws._id, "lost")
    rows = []
    for i in range(PIPELINES):
        rows.append(RunInfo(id=f"p{i:03d}", workspace_id=ws._id, experiment="many",
                            kind="pipeline", status="Failed" if i % 5 == 0 else "Finished",
                            name=f"run {PIPELINES - i:03d}", created_at=_stamp(3 * i),
                            started_at=_stamp(3 * i), ended_at=_stamp(3 * i + 2),
                            definition={"graph": {"steps": [{"id": "x" * 500}]}}).__dict__)
        for s in range(2):
            rows.append(RunInfo(id=f"p{i:03d}s{s}", workspace_id=ws._id, experiment="many",
                                kind="step", status="Finished", parent_id=f"p{i:03d}",
                                created_at=_stamp(3 * i + 1 + s)).__dict__)
    rows.append(RunInfo(id="lost-runner", workspace_id=ws._id, experiment="lost", kind="script",
                        status="Running", created_at=_stamp(1000), started_at=_stamp(1000),
                        properties={RUNNER_PID: "999999999"}).__dict__)
    with store._engine.begin() as conn:
        conn.execute(t.runs.insert(), rows)
    return studio_module, ws._id


def _all_pages(studio, path: str, params: dict, link: str) -> tuple[list[str], list[int]]:
    seen, counts = [], []
    page = studio.get(path, params=params).json()
    while True:
        seen += [r["runId"] for r in page["value"]]
        counts.append(page["count"])
        if not page.get(link):
            return seen, counts
        if link == "nextLink":
            page = studio.get(page["nextLink"][len(studio.url):]).json()
        else:
            page = studio.get(path, params={**params, "continuation": page[link]}).json()


def test_the_read_api_pages_many_runs_in_the_store(world):
    studio, ws = world
    path = f"/api/v1/workspaces/{ws}/runs"
    seen, counts = _all_pages(studio, path, {"experiment": "many", "top": 7}, "nextLink")
    assert seen == [f"p{i:03d}" for i in reversed(range(PIPELINES))]
    assert set(counts) == {PIPELINES}
    children, counts = _all_pages(studio, path, {"experiment": "many", "top": 50,
                                                 "include_children": True}, "nextLink")
    assert len(children) == len(set(children)) == 3 * PIPELINES and set(counts) == {180}
    failed = studio.get(path, params={"experiment": "many", "status": "Failed", "top": 3}).json()
    assert failed["count"] == PIPELINES // 5
    assert [r["runId"] for r in failed["value"]] == ["p055", "p050", "p045"]
    steps = studio.get(path, params={"kind": "step", "skip": 2, "top": 2}).json()
    assert [r["runId"] for r in steps["value"]] == ["p058s1", "p058s0"]
    assert steps["count"] == 2 * PIPELINES


def test_the_page_list_sorts_and_pages_in_the_store(world):
    studio, ws = world
    path = f"/api/v1/page/workspaces/{ws}/runs"
    seen, counts = _all_pages(studio, path, {"experiment": "many", "top": 25},
                              "continuationToken")
    assert seen == [f"p{i:03d}" for i in reversed(range(PIPELINES))] and set(counts) == {60}
    by_name, _ = _all_pages(studio, path, {"experiment": "many", "sort": "name", "top": 25},
                            "continuationToken")
    assert by_name == [f"p{i:03d}" for i in reversed(range(PIPELINES))]   # names run reversed
    oldest = studio.get(path, params={"experiment": "many", "sort": "created", "top": 2}).json()
    assert [r["runId"] for r in oldest["value"]] == ["p000", "p001"]
    failed = studio.get(path, params={"experiment": "many", "status": "Failed",
                                      "sort": "-status"}).json()
    assert failed["count"] == 12 and all(r["status"] == "Failed" for r in failed["value"])
    longest = studio.get(path, params={"experiment": "many", "sort": "-duration", "top": 1})
    assert longest.status_code == 200 and longest.json()["count"] == PIPELINES


def test_a_run_whose_runner_died_is_listed_and_counted_failed(world):
    studio, ws = world
    running = studio.get(f"/api/v1/workspaces/{ws}/runs",
                         params={"experiment": "lost", "status": "Running"}).json()
    assert running["count"] == 0 and running["value"] == []
    listed = studio.get(f"/api/v1/page/workspaces/{ws}/runs", params={"experiment": "lost"})
    assert [(r["runId"], r["status"]) for r in listed.json()["value"]] == \
        [("lost-runner", "Failed")]


def test_dataset_lineage_reads_runs_newest_first_until_each_dataset_has_its_top(world):
    studio, ws = world
    from amlocal.store import open_store
    from amlocal.store.entities import DatasetInfo, RunInfo
    store = open_store()
    store.register_dataset(DatasetInfo(workspace_id=ws, name="raw", version=0, id="rawid",
                                       definition={"sources": []}))
    for i in range(5):
        store.create_run(RunInfo(
            id=f"reader{i}", workspace_id=ws, experiment="lineage", kind="step",
            status="Finished", created_at=_stamp(2000 + i),
            definition={"inputDatasets": [{"name": "in", "registered": {"name": "raw",
                                                                       "version": 1}}]}))
    answer = studio.get(f"/api/v1/page/workspaces/{ws}/datasets/lineage",
                        params={"name": "raw", "top": 2})
    assert answer.status_code == 200, answer.text
    (raw,) = answer.json()
    assert [r["runId"] for r in raw["runs"]] == ["reader4", "reader3"]
