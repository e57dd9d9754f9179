"""The catalog views over real data: a model registered by a real step run (its run linked), a
dataset with its versions and the run that read it, a pipeline endpoint whose default version
is switched in the page (and in the store), the endpoint submitted from its form, a schedule
with its next firing and the scheduler's decisions (its clock injected through
AMLOCAL_SCHEDULER_CLOCK_FILE, so nothing fires by itself), and the web services view."""
from __future__ import annotations

import textwrap
import time
from datetime import datetime, timezone

import pytest

STEP = """
    import os, sys
    from azureml.core import Run
    run = Run.get_context()
    where = sys.argv[2]
    print("READ", sorted(os.listdir(where)), flush=True)
    open("model.pkl", "w").write("weights")
    run.upload_file("models/model.pkl", "model.pkl")
    run.register_model("page-model", "models/model.pkl", tags={"stage": "test"})
"""
START = datetime(2000, 1, 1, tzinfo=timezone.utc)          # nothing is due at this time
DUE = datetime(2030, 1, 1, 9, 0, 1, tzinfo=timezone.utc)    # just after the first occurrence


def _set_clock(path, moment: datetime) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(moment.isoformat())
    tmp.replace(path)


@pytest.fixture(scope="module")
def world(docker_engine, tmp_path_factory):
    """A server whose scheduler reads its clock from a file, and real data: a finished pipeline
    run whose step read a registered dataset and registered a model, two published pipelines
    behind an endpoint, and a daily schedule. Yields a dict."""
    from amlocal._engine import studio
    from amlocal.core import Dataset, Workspace
    from amlocal.pipeline.core import Pipeline, PipelineEndpoint
    from amlocal.pipeline.core.schedule import Schedule, ScheduleRecurrence
    from amlocal.pipeline.steps import PythonScriptStep
    from amlocal.store import open_store

    root = tmp_path_factory.mktemp("page-catalog")
    clock = root / "clock"
    _set_clock(clock, START)
    patch = pytest.MonkeyPatch()
    patch.setenv("AMLOCAL_HOME", str(root / "amlocal-home"))
    patch.setenv("AMLOCAL_STUDIO_PORT", "0")
    patch.setenv("AMLOCAL_SCHEDULER_CLOCK_FILE", str(clock))
    patch.setenv("AMLOCAL_SCHEDULER_PERIOD", "0.2")
    for var in ("AMLOCAL_STORE_URL", "AZUREML_RUN_ID", "AMLOCAL_RUN_SERVICE", "AZUREML_RUN_TOKEN",
                "MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_TOKEN", "MLFLOW_RUN_ID",
                "AMLOCAL_STUDIO_HOST"):
        patch.delenv(var, raising=False)
    try:
        info = studio.start(notice=False)
        _, key = open_store().create_api_key("tests")
        import sys
        studio_class = sys.modules["amlocal_tests_server_fixtures"].Studio   # tests/server
        server = studio_class(url=info.url, key=key, pid=info.pid, home=root / "amlocal-home")
        src = root / "src"
        (src / "data").mkdir(parents=True)
        (src / "step.py").write_text(textwrap.dedent(STEP))
        (src / "data" / "a.txt").write_text("a")
        ws = Workspace("00000000-0000-0000-0000-000000000000", "catalog-rg", "catalogws")
        store = ws.get_default_datastore()
        store.upload(str(src / "data"), target_path="letters", show_progress=False)
        store.upload(str(src / "data"), target_path="letters2", show_progress=False)
        data = Dataset.File.from_files(store.path("letters")).register(ws, "page-data")
        Dataset.File.from_files(store.path("letters2")).register(ws, "page-data",
                                                                 create_new_version=True)
        step = PythonScriptStep("step.py", name="train", source_directory=str(src),
                                arguments=["--data", data.as_named_input("letters").as_mount()])
        pipeline = Pipeline(ws, [step])
        run = pipeline.submit("page-catalog")
        first = pipeline.publish(name="page-catalog", description="version 0")
        second = pipeline.publish(name="page-catalog-v2", description="version 1")
        endpoint = PipelineEndpoint.publish(ws, "page-endpoint", "for the page", first)
        endpoint.add(second)
        recurrence = ScheduleRecurrence(frequency="Day", interval=1, hours=[9], minutes=[0],
                                        start_time="2030-01-01T08:00:00")
        schedule = Schedule.create(ws, "nightly", first.id, "page-nightly",
                                   recurrence=recurrence)
        assert run.wait_for_completion(show_output=False) == "Finished"
        step_run = run.find_step_run("train")[0]
        yield {"studio": server, "ws": ws, "run": run, "step": step_run, "endpoint": endpoint,
               "first": first, "second": second, "schedule": schedule, "clock": clock}
    finally:
        studio.stop()
        patch.undo()


def test_models_show_each_version_and_the_run_that_registered_it(page, world, open_page,
                                                                 screenshot):
    studio, step = world["studio"], world["step"]
    open_page(page, studio, "#/models", ready="section.model")
    card = page.locator('section.model[data-model="page-model"]')
    link = card.locator("a.registered-by")
    assert link.count() == 1
    assert link.inner_text() == step.id and link.get_attribute("href") == f"#/run/{step.id}"
    row = card.locator("tbody tr").first
    assert row.locator("td").first.inner_text() == "1" and "stage: test" in row.inner_text()
    screenshot(page, "page-models")


def test_datasets_show_versions_and_the_runs_that_read_them(page, world, open_page):
    studio, step = world["studio"], world["step"]
    open_page(page, studio, "#/datasets", ready="section.dataset")
    card = page.locator('section.dataset[data-dataset="page-data"]')
    versions = card.locator("table.dataset-versions tbody tr")
    assert [versions.nth(i).locator("td").first.inner_text() for i in range(versions.count())] \
        == ["2", "1"]
    readers = card.locator("table.dataset-runs tbody tr")
    assert readers.count() >= 1
    reader = readers.filter(has=page.locator(f'a[href="#/run/{step.id}"]'))
    assert reader.count() == 1
    text = reader.inner_text()
    assert "train" in text and "letters" in text and "page-catalog" in text
    assert reader.locator("td").nth(4).inner_text() == "1"              # the version read


def test_switch_an_endpoints_default_version(page, world, open_page, screenshot):
    from amlocal.pipeline.core import PipelineEndpoint
    studio, ws = world["studio"], world["ws"]
    open_page(page, studio, "#/endpoints", ready="section.endpoint")
    card = page.locator('section.endpoint[data-endpoint="page-endpoint"]')
    assert card.locator(".default-of-endpoint").inner_text() == "0"
    rows = card.locator("table.versions tbody tr")
    assert rows.count() == 2
    assert "page-catalog-v2" in rows.nth(1).inner_text()
    assert rows.nth(0).locator(".default-version").inner_text() == "Default"
    page.get_by_role("button", name="Make version 1 the default of page-endpoint").click()
    page.get_by_role("button", name="Make version 0 the default of page-endpoint").wait_for()
    assert card.locator(".default-of-endpoint").inner_text() == "1"
    assert rows.nth(1).locator(".default-version").inner_text() == "Default"
    assert PipelineEndpoint.get(ws, name="page-endpoint").default_version == "1"   # the store
    screenshot(page, "page-endpoints")
    page.reload()                                                        # and it stays
    page.wait_for_selector("section.endpoint")
    assert card.locator(".default-of-endpoint").inner_text() == "1"
    # back, so that other tests see version 0 as the default
    page.get_by_role("button", name="Make version 0 the default of page-endpoint").click()
    page.get_by_role("button", name="Make version 1 the default of page-endpoint").wait_for()
    assert PipelineEndpoint.get(ws, name="page-endpoint").default_version == "0"


def test_default_version_needs_a_key_and_a_known_version(world):
    studio, endpoint = world["studio"], world["endpoint"]
    path = f"/api/v1/page/endpoints/{endpoint.id}/default"
    import httpx
    assert httpx.put(studio.url + path, json={"version": "1"}).status_code == 401
    unknown = httpx.put(studio.url + path, json={"version": "7"}, headers=studio.headers)
    assert unknown.status_code == 404 and "7" in unknown.json()["detail"]
    missing = httpx.put(studio.url + "/api/v1/page/endpoints/nope/default",
                        json={"version": "1"}, headers=studio.headers)
    assert missing.status_code == 404


def test_submit_an_endpoint_from_its_form(page, world, open_page):
    studio, endpoint = world["studio"], world["endpoint"]
    open_page(page, studio, f"#/endpoints/{endpoint.id}", ready="form.param-form")
    assert "0 (the default)" in page.locator("dl.facts").inner_text()
    page.get_by_label("Experiment").fill("page-endpoint-runs")
    page.get_by_role("button", name="Submit", exact=True).click()
    page.wait_for_selector("section.submission[data-ended]", timeout=240_000)
    assert page.locator("section.submission").get_attribute("data-status") == "Finished"
    run_id = page.locator("section.submission a.run-link").inner_text()
    run = studio.get(f"/api/v1/runs/{run_id}").json()
    assert run["properties"]["azureml.pipelineEndpointId"] == endpoint.id
    assert run["experiment"] == "page-endpoint-runs"


def _wait_fired(studio, schedule_id: str, timeout: float = 60.0) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fired = studio.get(f"/api/v1/schedules/{schedule_id}/firings?decision=fired").json()
        if fired:
            return fired
        time.sleep(0.1)
    raise AssertionError(f"schedule {schedule_id} did not fire")


def test_a_schedule_with_its_next_firing_runs_and_decisions(page, world, open_page, screenshot):
    from amlocal.pipeline.core import PipelineRun
    from amlocal.pipeline.core.schedule import Schedule
    studio, ws, schedule = world["studio"], world["ws"], world["schedule"]
    open_page(page, studio, "#/schedules", ready="section.schedule")
    card = page.locator('section.schedule[data-schedule="nightly"]')
    assert card.locator(".recurrence").inner_text() == \
        "Every day at 09:00 (UTC), starting 2030-01-01T08:00:00"
    assert "Time" in card.inner_text() and "Active" in card.inner_text()
    assert card.locator(".next-run time").get_attribute("datetime").startswith("2030-01-01T09:00:00")
    assert "No run yet." in card.inner_text() and "No decision yet." in card.inner_text()

    _set_clock(world["clock"], DUE)                     # the first occurrence is due
    fired = _wait_fired(studio, schedule.id)
    page.reload()
    page.wait_for_selector('section.schedule[data-schedule="nightly"] table.firings')
    decisions = card.locator("table.firings tbody tr")
    assert "fired" in decisions.first.inner_text()
    assert card.locator(f'table.schedule-runs a[href="#/run/{fired[0]["run_id"]}"]').count() == 1
    assert card.locator(".next-run time").get_attribute("datetime").startswith("2030-01-02T09:00:00")
    screenshot(page, "page-schedules")

    page.get_by_role("button", name="Disable schedule nightly").click()
    page.get_by_role("button", name="Enable schedule nightly").wait_for()
    assert "Disabled" in card.inner_text() and "none (disabled)" in card.inner_text()
    assert Schedule.get(ws, schedule.id).status == "Disabled"
    from amlocal.core import Experiment
    run = PipelineRun(Experiment(ws, "page-nightly"), fired[0]["run_id"])
    assert run.wait_for_completion(show_output=False) == "Finished"


SCORE = """
    from azureml.core.model import Model

    def init():
        print("INIT", open(Model.get_model_path("page-model")).read(), flush=True)

    def run(raw_data):
        return {"ok": True}
"""


def test_the_web_services_view_shows_a_deployed_model_with_its_log(page, world, open_page,
                                                                   tmp_path, screenshot):
    from amlocal.core import Model
    from amlocal.core.model import InferenceConfig
    from amlocal.core.webservice import LocalWebservice
    studio, ws = world["studio"], world["ws"]
    empty = studio.get(f"/api/v1/page/workspaces/{ws._id}/services")
    assert empty.status_code == 200 and empty.json() == [], empty.text
    open_page(page, studio, "#/services")
    page.get_by_text("No web service yet").wait_for()            # and how to deploy one

    (tmp_path / "score.py").write_text(textwrap.dedent(SCORE))
    service = Model.deploy(ws, "page-scorer", [Model(ws, "page-model")],
                           InferenceConfig(entry_script="score.py", source_directory=str(tmp_path)),
                           LocalWebservice.deploy_configuration())
    try:
        service.wait_for_deployment()
        open_page(page, studio, "#/services", ready="table.services")
        row = page.locator("table.services tbody tr", has_text="page-scorer")
        assert "Deployed model" in row.inner_text() and "Healthy" in row.inner_text()
        assert service.scoring_uri in row.inner_text()
        page.get_by_role("button", name="Show the log of page-scorer").click()
        page.wait_for_function(
            "document.querySelector('pre.log') && document.querySelector('pre.log')"
            ".textContent.includes('INIT weights')", timeout=60_000)
        screenshot(page, "page-services")
        missing = studio.get(f"/api/v1/page/workspaces/{ws._id}/services/nope/logs")
        assert missing.status_code == 404
    finally:
        service.delete()


@pytest.mark.parametrize("where", ["#/pipelines", "#/endpoints", "#/schedules", "#/models",
                                   "#/datasets"])
def test_catalog_views_fit_a_narrow_screen(page, world, open_page, where):
    page.set_viewport_size({"width": 390, "height": 800})
    open_page(page, world["studio"], where, ready="main h1")
    page.wait_for_selector("main table, main .muted")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, f"{where} scrolls sideways on a narrow screen ({width}px)"


def test_recurrences_read_as_words(page, world, open_page):
    open_page(page, world["studio"], "#/schedules", ready="section.schedule")
    words = page.evaluate("""async () => {
        const { recurrenceInWords } = await import('/studio/static/views/schedules.js');
        return [
          { frequency: "Hour", interval: 1 },
          { frequency: "Minute", interval: 15 },
          { frequency: "Week", interval: 2, week_days: ["Monday", "Friday"], hours: [17, 8],
            minutes: [30], time_zone: "W. Europe Standard Time" },
          { frequency: "Hour", interval: 3, minutes: [5, 35] },
        ].map(recurrenceInWords);
    }""")
    assert words == ["Every hour", "Every 15 minutes",
                     "Every 2 weeks on Monday and Friday at 08:30 and 17:30 "
                     "(W. Europe Standard Time)",
                     "Every 3 hours at minute 5 and 35"]
