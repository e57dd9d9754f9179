"""Submitting a published pipeline from the page: the form is built from the pipeline's
parameter types (int, float, bool, string, DataPath), a bad value is refused in the page before
anything is sent, a good one is POSTed to the REST submit route, and the new run's status
follows live until it finishes, without reloading. Disabling and enabling a pipeline."""
from __future__ import annotations

import re
import textwrap

import pytest

SCRIPT = """
    import os, sys
    args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
    print("COUNT", args["--count"], "RATE", args["--rate"], "FLAG", args["--flag"],
          "LABEL", args["--label"], flush=True)
    for name in ("--data", "--files"):
        where = args[name]
        print(name, sorted(os.listdir(where)) if os.path.isdir(where) else [where], flush=True)
"""


@pytest.fixture(scope="module")
def world(studio_module, docker_engine, tmp_path_factory):
    """(studio, workspace, published pipeline) with one step and six typed parameters."""
    from amlocal.core import Dataset, Workspace
    from amlocal.data.dataset_consumption_config import DatasetConsumptionConfig
    from amlocal.data.datapath import DataPath, DataPathComputeBinding
    from amlocal.pipeline.core import Pipeline, PipelineParameter
    from amlocal.pipeline.steps import PythonScriptStep

    src = tmp_path_factory.mktemp("page-submit-src")
    (src / "show.py").write_text(textwrap.dedent(SCRIPT))
    (src / "data").mkdir()
    (src / "data" / "x.txt").write_text("x")
    ws = Workspace("00000000-0000-0000-0000-000000000000", "page-rg", "pagews")
    store = ws.get_default_datastore()
    store.upload(str(src / "data"), target_path="lake", show_progress=False)
    (src / "other").mkdir()
    (src / "other" / "y.txt").write_text("y")
    store.upload(str(src / "other"), target_path="other", show_progress=False)
    files = Dataset.File.from_files(store.path("lake")).register(ws, "page-files")
    Dataset.File.from_files(store.path("other")).register(ws, "page-files",
                                                          create_new_version=True)
    chosen = DatasetConsumptionConfig("files", PipelineParameter("files", default_value=files))
    where = PipelineParameter("data", default_value=DataPath(store, "lake"))
    pair = (where, DataPathComputeBinding(mode="mount"))
    params = [PipelineParameter("count", default_value=2), PipelineParameter("rate", default_value=0.5),
              PipelineParameter("flag", default_value=False),
              PipelineParameter("label", default_value="hello")]
    arguments = []
    for flag, param in zip(("--count", "--rate", "--flag", "--label"), params):
        arguments += [flag, param]
    step = PythonScriptStep("show.py", name="show", source_directory=str(src),
                            arguments=arguments + ["--data", pair, "--files", chosen.as_mount()],
                            inputs=[pair],
                            allow_reuse=False)
    published = Pipeline(ws, [step]).publish(name="page-submit", description="typed parameters")
    return studio_module, ws, published


def _field(page, name):
    return page.locator(f'.field[data-param="{name}"]')


def test_the_list_shows_published_pipelines(page, world, open_page):
    studio, _, published = world
    open_page(page, studio, "#/pipelines", ready="table.pipelines")
    row = page.locator("table.pipelines tbody tr", has_text="page-submit")
    assert row.count() == 1
    text = row.inner_text()
    assert published.id in text and "Active" in text
    assert f"/PipelineRuns/PipelineSubmit/{published.id}" in text     # the endpoint URL
    assert row.locator("td").nth(4).inner_text() == "1"                 # steps


def test_submit_with_a_parameter_from_the_form(page, world, open_page, screenshot):
    studio, _, published = world
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    open_page(page, studio, f"#/pipelines/{published.id}", ready="form.param-form")
    for name, kind in (("count", "int"), ("rate", "float"), ("flag", "bool"), ("label", "string"),
                       ("data", "datapath"), ("files", "dataset")):
        assert _field(page, name).get_attribute("data-type") == kind
    assert page.get_by_label("count").input_value() == "2"
    assert page.get_by_label("Path").input_value() == "lake"
    page.evaluate("window.__notReloaded = true")

    # bad values are refused in the page, next to their fields, and nothing is sent
    page.get_by_label("count").fill("2.5")
    page.get_by_label("rate").fill("fast")
    page.get_by_role("button", name="Submit", exact=True).click()
    error = _field(page, "count").locator(".field-error")
    error.wait_for(state="visible")
    assert "int" in error.inner_text() and "2.5" in error.inner_text()
    assert "float" in _field(page, "rate").locator(".field-error").inner_text()
    assert page.get_by_label("count").get_attribute("aria-invalid") == "true"
    page.wait_for_function("document.activeElement && document.activeElement.name === 'count'")
    assert not [u for u in posts if "PipelineSubmit" in u]
    screenshot(page, "page-submit-form")

    # good values: submitted, the run followed live to its end
    page.get_by_label("count").fill("5")
    page.get_by_label("rate").fill("0.25")
    page.get_by_label("flag").check()
    page.get_by_label("Path").fill("lake")
    page.get_by_label("Dataset", exact=True).select_option("page-files")
    page.get_by_label("Version", exact=True).select_option(label="version 2")
    page.get_by_role("button", name="Submit", exact=True).click()
    assert _field(page, "count").locator(".field-error").is_hidden()
    link = page.locator("section.submission a.run-link")
    link.wait_for()
    run_id = link.inner_text()
    assert link.get_attribute("href") == f"#/run/{run_id}"
    page.wait_for_selector("section.submission[data-ended]", timeout=240_000)
    assert page.locator("section.submission").get_attribute("data-status") == "Finished"
    assert page.locator("section.submission .run-status").inner_text() == "Finished"
    assert "Finished" in page.locator("ul.step-statuses").inner_text()
    assert page.evaluate("window.__notReloaded") is True                 # the same page
    assert [u for u in posts if u.endswith(f"/PipelineRuns/PipelineSubmit/{published.id}")]

    run = studio.get(f"/api/v1/runs/{run_id}").json()
    assert run["properties"]["amlocal.submitted_via"] == "REST"
    log = studio.get(f"/api/v1/runs/{run_id}/log").json()["text"]
    assert "COUNT 5 RATE 0.25 FLAG True LABEL hello" in log, log
    assert "--data ['x.txt']" in log and "--files ['y.txt']" in log, log   # dataset version 2
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "page-submit-run")


def test_a_disabled_pipeline_refuses_and_enables_again(page, world, open_page):
    studio, ws, published = world
    from amlocal.pipeline.core import PublishedPipeline
    open_page(page, studio, f"#/pipelines/{published.id}", ready="form.param-form")
    page.get_by_role("button", name="Disable pipeline page-submit").click()
    page.get_by_role("button", name="Enable pipeline page-submit").wait_for()
    assert "Disabled" in page.locator("dl.facts").inner_text()
    assert PublishedPipeline.get(ws, published.id).status == "Disabled"
    page.get_by_role("button", name="Submit", exact=True).click()                    # the server refuses
    refused = page.locator("section.submission .error")
    refused.wait_for()
    assert re.search(r"disabled|Active", refused.inner_text(), re.I), refused.inner_text()
    page.get_by_role("button", name="Enable pipeline page-submit").click()
    page.get_by_role("button", name="Disable pipeline page-submit").wait_for()
    assert PublishedPipeline.get(ws, published.id).status == "Active"


def test_writes_need_a_key_and_bad_values_are_4xx(world):
    studio, ws, published = world
    path = f"/api/v1/page/pipelines/{published.id}/status"
    assert studio.post(path, json={"status": "Disabled"}, auth=False).status_code == 401
    assert studio.post(path, json={"status": "Sleeping"}).status_code == 422
    assert studio.post("/api/v1/page/pipelines/nope/status",
                       json={"status": "Active"}).status_code == 404
    form = studio.get(f"/api/v1/page/workspaces/{ws._id}/pipelines/{published.id}/form").json()
    assert {p["name"]: p["type"] for p in form["parameters"]} == {
        "count": "int", "rate": "float", "flag": "bool", "label": "string", "data": "datapath",
        "files": "dataset"}
    assert studio.get(f"/api/v1/page/workspaces/{ws._id}/pipelines/nope/form").status_code == 404


def test_the_form_fits_a_phone(page, world, open_page):
    studio, _, published = world
    page.set_viewport_size({"width": 390, "height": 800})
    open_page(page, studio, f"#/pipelines/{published.id}", ready="form.param-form")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, f"the form scrolls sideways on a narrow screen ({width}px)"
    page.get_by_label("count").focus()                 # every control is reachable by Tab
    names = []
    for _ in range(7):
        page.keyboard.press("Tab")
        names.append(page.evaluate("document.activeElement.name || document.activeElement.textContent"))
    assert names == ["rate", "flag", "label", "data.datastore", "data.path", "files.dataset",
                     "Submit"], names                  # (the version list opens with a dataset)
