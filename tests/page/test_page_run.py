"""A run's page over real runs: a tiny two-step pipeline (``prepare`` -> ``train``, in Docker)
submitted twice, so the second run reuses both steps and says why; ``train`` logs a series,
a row, a table and an image. A slower run of the same pipeline is watched while it runs, and a
step is rerun from its button."""
from __future__ import annotations

import textwrap

import pytest

PREPARE = """
    import os, sys
    os.makedirs(sys.argv[2], exist_ok=True)
    open(os.path.join(sys.argv[2], "data.txt"), "w").write("1 2 3")
    print("prepared", flush=True)
"""

TRAIN = """
    import os, struct, sys, time, zlib
    from azureml.core import Run
    run = Run.get_context()
    delay = float(sys.argv[6])
    data = open(os.path.join(sys.argv[2], "data.txt")).read()
    os.makedirs(sys.argv[4], exist_ok=True)
    open(os.path.join(sys.argv[4], "model.txt"), "w").write(data)
    for epoch in range(6):
        loss = round(1.0 / (epoch + 1) + OFFSET, 4)
        run.log("loss", loss)
        print(f"epoch {epoch} loss {loss}", flush=True)
        time.sleep(delay)
    run.log("accuracy", 0.9)
    run.log_row("confusion", tp=8, fp=2)
    run.log_table("per_class", {"class": ["a", "b"], "recall": [0.8, 0.95]})
    w, h = 96, 48
    rows = b"".join(b"\\x00" + bytes(v for x in range(w) for v in (x * 2, y * 5, 200 - x))
                    for y in range(h))
    png = b"\\x89PNG\\r\\n\\x1a\\n" + b"".join(
        struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
        for t, d in [(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)),
                     (b"IDAT", zlib.compress(rows)), (b"IEND", b"")])
    open("gradient.png", "wb").write(png)
    run.log_image("gradient", path="gradient.png")
    print("trained on", data, flush=True)
"""


def _pipeline(ws, src, *, offset: float = 0.0, delay: float = 0.0):
    from amlocal.pipeline.core import Pipeline, PipelineData
    from amlocal.pipeline.steps import PythonScriptStep
    (src / "prepare.py").write_text(textwrap.dedent(PREPARE))
    (src / "train.py").write_text(textwrap.dedent(TRAIN).replace("OFFSET", repr(offset)))
    data = PipelineData("prepared_data", datastore=ws.get_default_datastore())
    prepare = PythonScriptStep("prepare.py", name="prepare", source_directory=str(src),
                               arguments=["--out", data], outputs=[data])
    model = PipelineData("model", datastore=ws.get_default_datastore())
    train = PythonScriptStep("train.py", name="train", source_directory=str(src),
                             arguments=["--data", data, "--model", model, "--delay", str(delay)],
                             inputs=[data], outputs=[model])
    return Pipeline(ws, [prepare, train])


@pytest.fixture(scope="module")
def runs(studio_module, docker_engine, tmp_path_factory):
    """(studio, workspace, first run, second run: reused both steps)."""
    from amlocal.core import Workspace
    ws = Workspace("00000000-0000-0000-0000-000000000000", "page-rg", "pagews")
    src = tmp_path_factory.mktemp("page-run-src")
    first = _pipeline(ws, src).submit("page-run")
    assert first.wait_for_completion(show_output=False) == "Finished"
    second = _pipeline(ws, src).submit("page-run")
    assert second.wait_for_completion(show_output=False) == "Finished"
    return studio_module, ws, first, second


def _step_id(run, name: str) -> str:
    return run.find_step_run(name)[0].id


def test_a_finished_run_shows_its_graph_and_why_a_step_was_reused(page, runs, open_page,
                                                                   screenshot):
    studio, _, first, second = runs
    open_page(page, studio, f"#/run/{second.id}", ready="svg.graph g.node")
    assert "Finished" in page.inner_text("#run-status")
    assert page.inner_text("#submitted-by") == "Python"
    nodes = page.locator("svg.graph g.node")
    assert nodes.count() == 2
    train = page.locator('svg.graph g.node[data-name="train"]')
    assert "reused" in train.text_content()
    labels = page.locator("svg.graph text.edge-label").all_text_contents()
    assert labels == ["prepared_data"]                      # the data that flows
    train.focus()                                          # keyboard: why it was reused
    page.wait_for_selector("#node-panel .reuse-reason")
    reason = page.inner_text("#node-panel .reuse-reason")
    assert reason == f"nothing changed since run {_step_id(first, 'train')}"
    assert page.locator("#steps-table tr[data-step=train] .step-why").inner_text() == reason
    screenshot(page, "run-graph")
    page.keyboard.press("Enter")                           # opens the step's page
    page.wait_for_selector("#reuse .reuse-reason")
    assert page.url.endswith(f"#/run/{_step_id(second, 'train')}")
    assert "Reused" in page.inner_text("#reuse")
    assert _step_id(first, "train") in page.inner_text("#run-facts")   # "Reused from"


def test_a_first_run_says_why_its_steps_ran(page, runs, open_page):
    studio, _, first, _ = runs
    open_page(page, studio, f"#/run/{first.id}", ready="#steps-table tr[data-step=train]")
    page.click("#steps-table summary") if not page.is_visible("#steps-table table") else None
    assert page.inner_text("#steps-table tr[data-step=prepare] .step-why") != ""
    assert "reused" not in page.locator('svg.graph g.node[data-name="train"]').text_content()


def test_a_step_shows_its_log_metrics_tables_and_image(page, runs, open_page):
    studio, _, first, _ = runs
    step = _step_id(first, "train")
    open_page(page, studio, f"#/run/{step}", ready="figure[data-metric=loss] svg.chart")
    page.wait_for_function("document.querySelector('#run-log').textContent.includes('trained on')")
    log = page.inner_text("#run-log")
    assert "epoch 0 loss 1.0" in log and "epoch 5 loss 0.1667" in log
    chart = page.locator("figure[data-metric=loss] svg.chart")
    assert "6 values, last 0.1667" in chart.get_attribute("aria-label")
    assert page.inner_text("#metric-values tr[data-metric=accuracy] td") == "0.9"
    assert "recall" in page.inner_text("figure[data-metric=per_class]")
    assert "0.95" in page.inner_text("figure[data-metric=per_class]")
    assert "tp" in page.inner_text("figure[data-metric=confusion]")
    image = page.locator("figure[data-image='gradient.png'] img")
    image.scroll_into_view_if_needed()
    page.wait_for_function(
        "document.querySelector(\"figure[data-image='gradient.png'] img\").naturalWidth === 96")
    assert "Ran" in page.inner_text("#reuse")


def test_a_running_run_updates_without_reload_until_finished(page, runs, open_page,
                                                              tmp_path_factory, screenshot):
    studio, ws, first, _ = runs
    src = tmp_path_factory.mktemp("page-slow-src")
    slow = _pipeline(ws, src, offset=0.5, delay=1.0).submit("page-run")
    open_page(page, studio, f"#/run/{slow.id}", ready="svg.graph g.node")
    page.evaluate("window.__sameDocument = true")
    assert page.inner_text("#run-status") not in ("Finished", "Failed")
    # the train step's log shows up while it runs, then the run finishes: no reload
    page.wait_for_function("document.querySelector('#run-log').textContent.includes('epoch 2')",
                           timeout=180_000)
    assert page.inner_text("#run-status") not in ("Finished", "Failed")
    page.wait_for_function("document.querySelector('#run-status').textContent === 'Finished'",
                           timeout=180_000)
    assert page.evaluate("window.__sameDocument") is True
    page.wait_for_function("document.querySelector('#run-log').textContent.includes('trained on')")
    page.wait_for_function(   # the same poll that saw the run end redraws its steps
        """document.querySelector('svg.graph g.node[data-name="train"]').textContent"""
        ".includes('Finished')")
    train = page.locator('svg.graph g.node[data-name="train"]')
    assert "Finished" in train.text_content() and "reused" not in train.text_content()
    assert slow.get_status() == "Finished"
    # two runs' series on one chart, picked from the other runs of this step
    step = _step_id(slow, "train")
    open_page(page, studio, f"#/run/{step}", ready="figure[data-metric=loss] svg.chart")
    assert page.locator("figure[data-metric=loss] g.series").count() == 1
    page.click("#compare-metrics summary")
    page.get_by_label(f"train {_step_id(first, 'train')}", exact=False).check()
    page.click("#show-compare")
    page.wait_for_function(f"location.hash.includes('with={_step_id(first, 'train')}')")
    page.wait_for_function(
        "document.querySelectorAll('figure[data-metric=loss] g.series').length === 2")
    assert page.locator("figure[data-metric=loss] g.series").count() == 2
    assert len(page.locator("figure[data-metric=loss] ul.legend li").all()) == 2
    page.evaluate("document.getElementById('metrics').scrollIntoView()")
    page.wait_for_function("[...document.querySelectorAll('img.run-image')].every("
                           "i => i.complete && i.naturalWidth > 0)")   # the image drawn, not its name
    screenshot(page, "metric-chart")


def test_the_rerun_button_reruns_a_step(page, runs, open_page):
    studio, _, first, _ = runs
    open_page(page, studio, f"#/run/{first.id}", ready="svg.graph g.node")
    page.focus('svg.graph g.node[data-name="train"]')
    page.click("#node-panel button.rerun")
    page.wait_for_function("location.hash.startsWith('#/run/') && !location.hash.includes("
                           f"{first.id!r})")
    page.wait_for_selector("#submitted-by")
    assert page.inner_text("#submitted-by") == "Rerun"
    assert _step_id(first, "train") in page.inner_text("#run-facts")        # "Rerun of"
    page.wait_for_function("document.querySelector('#run-status').textContent === 'Finished'",
                           timeout=180_000)
    assert page.locator("svg.graph g.node").count() == 1
    assert "reused" not in page.locator("svg.graph g.node").text_content()


def test_rerun_needs_a_key_and_a_known_step(runs):
    studio, _, first, _ = runs
    path = f"/api/v1/page/runs/{first.id}/rerun-step"
    assert studio.post(path, json={"step": "train"}, auth=False).status_code == 401
    missing = studio.post(path, json={"step": "nope"})
    assert missing.status_code == 400 and "has no step 'nope'" in missing.json()["detail"]
    step = studio.post(f"/api/v1/page/runs/{_step_id(first, 'train')}/rerun-step",
                       json={"step": "train"})
    assert step.status_code == 400 and "pipeline run" in step.json()["detail"]
    assert studio.post("/api/v1/page/runs/nope/rerun-step",
                       json={"step": "train"}).status_code == 404
    assert studio.get(f"/api/v1/page/runs/{_step_id(first, 'train')}/graph").status_code == 400


def test_a_running_script_run_draws_new_metrics_and_ends_without_reload(page, studio_module,
                                                                         open_page):
    """A run logged from this process (``start_logging``: no container): values logged while
    the page is open appear on its chart; completing it turns the status without a reload."""
    from amlocal.core import Experiment, Workspace
    ws = Workspace("00000000-0000-0000-0000-000000000000", "page-rg", "pagews")
    run = Experiment(ws, "page-live").start_logging(snapshot_directory=None,
                                                    display_name="notebook")
    for i in range(3):
        run.log("acc", i / 10)
    run.tag("team", "blue")
    open_page(page, studio_module, f"#/run/{run.id}", ready="figure[data-metric=acc] svg.chart")
    page.evaluate("window.__sameDocument = true")
    assert page.inner_text("#run-status") == "Running"
    assert "3 values" in page.get_attribute("figure[data-metric=acc] svg.chart", "aria-label")
    assert page.inner_text("#tags tbody") == "team\tblue"
    page.set_viewport_size({"width": 390, "height": 800})         # a phone: no sideways scroll
    assert page.evaluate("document.documentElement.scrollWidth") <= 400
    for i in range(3, 6):
        run.log("acc", i / 10)
    page.wait_for_function("document.querySelector('figure[data-metric=acc] svg.chart')"
                           ".getAttribute('aria-label').includes('6 values, last 0.5')")
    run.complete()
    page.wait_for_function("document.querySelector('#run-status').textContent === 'Completed'")
    assert page.evaluate("window.__sameDocument") is True
    assert page.inner_text("#submitted-by") == "Python"


def test_leaving_a_running_runs_page_stops_its_polling(page, studio_module, open_page):
    from amlocal.core import Experiment, Workspace
    ws = Workspace("00000000-0000-0000-0000-000000000000", "page-rg", "pagews")
    run = Experiment(ws, "page-live").start_logging(snapshot_directory=None)
    try:
        asked = []
        page.on("request", lambda r: asked.append(r.url) if run.id in r.url else None)
        open_page(page, studio_module, f"#/run/{run.id}", ready="#run-status")
        page.wait_for_function("document.querySelector('#log-state').textContent"
                               ".startsWith('live')")
        page.evaluate("location.hash = '#/runs'")
        page.wait_for_selector("#runs-table")
        before = len(asked)
        # nothing more is asked for three polling periods (a fixed window is the only way to
        # see that something stopped)
        page.evaluate("new Promise((done) => setTimeout(done, 3000))")
        assert len(asked) == before, asked[before:]
    finally:
        run.complete()
