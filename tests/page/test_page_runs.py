"""The runs list: status in words, who submitted each run, filters (experiment, status,
submitted by) and sorting, paging, and picking two runs to compare.

Runs: real script runs made with the SDK (``Experiment.start_logging``: host-side, no
container), and runs written to the store with the properties the CLI, REST, the scheduler
and ``rerun-step`` record (those paths need containers; their own tests cover them)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlparse

import pytest


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.fixture(scope="module")
def listed(studio_module):
    """(studio, {name: run id}) over experiments 'alpha' (SDK runs) and 'beta' (the others)."""
    from amlocal.core import Experiment, Workspace
    from amlocal.server.scheduler import SUBMITTED_BY_PROPERTY
    from amlocal.store import open_store
    from amlocal.store.entities import RunInfo
    ws = Workspace("00000000-0000-0000-0000-000000000000", "list-rg", "listws")
    ids = {}
    for name, fail in (("sdk-ok", False), ("sdk-failed", True)):
        run = Experiment(ws, "alpha").start_logging(snapshot_directory=None, display_name=name)
        run.log("x", 1)
        run.fail() if fail else run.complete()
        ids[name] = run.id
    store = open_store()
    made = [("cli", {SUBMITTED_BY_PROPERTY: "CLI", "runSource": "CLI"}, 30),
            ("rest", {"runSource": "API", "runType": "HTTP", SUBMITTED_BY_PROPERTY: "REST"}, 300),
            ("schedule", {SUBMITTED_BY_PROPERTY: "Schedule", "runSource": "Schedule"}, 5),
            ("rerun", {"amlocal.rerun_of": "some_step", "amlocal.rerun_of_pipeline": "p"}, 60)]
    for k, (name, properties, seconds) in enumerate(made):
        run_id = f"list_{name}"
        start = datetime(2026, 2, 1, 10, k, tzinfo=timezone.utc)
        store.create_run(RunInfo(
            id=run_id, workspace_id=ws._id, experiment="beta", kind="pipeline",
            status="Finished", name=name, properties=properties, created_at=_utc(start),
            started_at=_utc(start), ended_at=_utc(start + timedelta(seconds=seconds))))
        ids[name] = run_id
    return studio_module, ids


def _rows(page) -> list[str]:
    return [r.get_attribute("data-run") for r in page.locator("#runs-table tbody tr").all()]


def _wait_rows(page, count: int):
    page.wait_for_function(
        f"document.querySelectorAll('#runs-table tbody tr').length === {count}")


def test_the_list_shows_status_and_who_submitted_each_run(page, listed, open_page):
    studio, ids = listed
    open_page(page, studio, "#/runs", ready="#runs-table tbody tr")
    assert page.inner_text("#runs-count") == "6 of 6 runs"
    by_run = {r.get_attribute("data-run"): r for r in page.locator("#runs-table tbody tr").all()}
    expected = {"sdk-ok": ("Python", "Completed"), "sdk-failed": ("Python", "Failed"),
                "cli": ("CLI", "Finished"), "rest": ("REST", "Finished"),
                "schedule": ("Schedule", "Finished"), "rerun": ("Rerun", "Finished")}
    for name, (who, status) in expected.items():
        row = by_run[ids[name]]
        assert row.locator("td.submitted").inner_text() == who
        assert row.locator(".status").inner_text() == status       # status in words
    assert _rows(page)[:3] == [ids["sdk-failed"], ids["sdk-ok"], ids["rerun"]]  # newest first
    link = by_run[ids["cli"]].get_by_role("link", name="cli")
    link.click()
    page.wait_for_selector("#run-facts")
    assert page.inner_text("#submitted-by") == "CLI"


def test_filters_by_experiment_status_and_submitter(page, listed, open_page):
    studio, ids = listed
    open_page(page, studio, "#/runs", ready="#runs-table tbody tr")
    page.get_by_label("Experiment", exact=True).select_option("alpha")
    _wait_rows(page, 2)
    assert set(_rows(page)) == {ids["sdk-ok"], ids["sdk-failed"]}
    assert "experiment=alpha" in page.url                          # a link to this view
    page.get_by_label("Status", exact=True).select_option("Failed")
    _wait_rows(page, 1)
    assert _rows(page) == [ids["sdk-failed"]]
    page.get_by_label("Experiment", exact=True).select_option("")
    page.get_by_label("Status", exact=True).select_option("")
    page.get_by_label("Submitted by", exact=True).select_option("REST")
    _wait_rows(page, 1)
    assert _rows(page) == [ids["rest"]]
    page.get_by_label("Submitted by", exact=True).select_option("Schedule")
    page.wait_for_function(f"document.querySelector('#runs-table tbody tr')?"
                           f".dataset.run === {ids['schedule']!r}")
    page.get_by_label("Submitted by", exact=True).select_option("")
    _wait_rows(page, 6)
    page.get_by_label("Status", exact=True).select_option("Canceled")
    page.wait_for_selector("#no-runs")
    assert page.inner_text("#runs-count") == "0 of 0 runs"


def test_sorts(page, listed, open_page):
    studio, ids = listed
    open_page(page, studio, "#/runs?experiment=beta", ready="#runs-table tbody tr")
    page.get_by_label("Sort", exact=True).select_option("-duration")
    page.wait_for_function("location.hash.includes('sort=-duration')")
    page.wait_for_function(f"document.querySelector('#runs-table tbody tr')?"
                           f".dataset.run === {ids['rest']!r}")
    assert _rows(page) == [ids[n] for n in ("rest", "rerun", "cli", "schedule")]
    page.get_by_label("Sort", exact=True).select_option("created")
    page.wait_for_function(f"document.querySelector('#runs-table tbody tr')?"
                           f".dataset.run === {ids['cli']!r}")
    assert _rows(page) == [ids[n] for n in ("cli", "rest", "schedule", "rerun")]
    page.get_by_label("Sort", exact=True).select_option("name")
    page.wait_for_function(f"document.querySelector('#runs-table tbody tr')?"
                           f".dataset.run === {ids['cli']!r} && location.hash.includes('name')")
    assert _rows(page) == [ids[n] for n in ("cli", "rerun", "rest", "schedule")]


def test_pick_two_runs_to_compare(page, listed, open_page):
    studio, ids = listed
    open_page(page, studio, "#/runs", ready="#runs-table tbody tr")
    compare = page.locator("#compare-link")
    assert compare.get_attribute("aria-disabled") == "true"
    assert compare.get_attribute("href") is None
    page.get_by_label("pick cli to compare").check()
    assert "one more" in page.inner_text("#picked-note")
    page.get_by_label("pick rest to compare").check()
    assert compare.get_attribute("aria-disabled") is None
    query = parse_qs(urlparse(compare.get_attribute("href").replace("#/compare", "/c")).query)
    assert query == {"a": [ids["cli"]], "b": [ids["rest"]]}
    assert page.get_by_label("pick schedule to compare").is_disabled()   # two at most
    page.get_by_label("pick cli to compare").uncheck()
    assert compare.get_attribute("aria-disabled") == "true"
    assert page.get_by_label("pick schedule to compare").is_enabled()


def test_a_narrow_screen_keeps_the_list_usable(page, listed, open_page):
    studio, _ = listed
    page.set_viewport_size({"width": 390, "height": 800})
    open_page(page, studio, "#/runs", ready="#runs-table tbody tr")
    assert page.evaluate("document.documentElement.scrollWidth") <= 400
    assert page.get_by_label("Submitted by", exact=True).is_visible()


def test_bad_list_queries_are_4xx_naming_the_problem(listed):
    studio, _ = listed
    ws = studio.get("/api/v1/workspaces").json()[0]["id"]
    base = f"/api/v1/page/workspaces/{ws}/runs"
    bad = studio.get(base, params={"sort": "colour"})
    assert bad.status_code == 400 and "cannot sort by 'colour'" in bad.json()["detail"]
    bad = studio.get(base, params={"submitted_by": "fax"})
    assert bad.status_code == 400 and "Python, CLI, REST" in bad.json()["detail"]
    bad = studio.get(base, params={"continuation": "nonsense"})
    assert bad.status_code == 400 and "continuationToken" in bad.json()["detail"]
    first = studio.get(base, params={"top": 2}).json()
    other_sort = studio.get(base, params={"top": 2, "sort": "name",
                                          "continuation": first["continuationToken"]})
    assert other_sort.status_code == 400                  # a token is for its own sort
    rest = studio.get(base, params={"top": 2, "continuation": first["continuationToken"]}).json()
    assert rest["count"] == 6 and len(rest["value"]) == 2
    assert not {r["runId"] for r in rest["value"]} & {r["runId"] for r in first["value"]}
    assert studio.get(base, params={"status": "Sleeping"}).status_code == 422
    assert studio.get("/api/v1/page/workspaces/nope/runs").status_code == 404
