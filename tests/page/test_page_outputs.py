"""A run's outputs in the browser: a real pipeline run (one tiny step in Docker writing a CSV with
numbers, text and missing values) previewed as Studio classic's "Visualize" did (first rows,
types, missing counts, histograms and value counts), its output folder browsed and a file
downloaded. Writes docs/screenshots/visualize.png."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest


def _submit_runs():
    """tests/server/test_page_data_api.py's ``submit_runs`` (test folders are not packages)."""
    path = Path(__file__).resolve().parents[1] / "server" / "test_page_data_api.py"
    spec = importlib.util.spec_from_file_location("amlocal_tests_page_data_api", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.submit_runs


@pytest.fixture(scope="module")
def world(studio_module, docker_engine, tmp_path_factory):
    from amlocal.core import Workspace
    ws = Workspace("00000000-0000-0000-0000-000000000000", "page-rg", "outputsws")
    (run,) = _submit_runs()(ws, tmp_path_factory.mktemp("outputs-src"), rows=(40,))
    return studio_module, run, run.find_step_run("make")[0].id


def test_visualize_shows_rows_types_missing_counts_and_histograms(page, world, open_page,
                                                                   screenshot):
    studio, _, step = world
    open_page(page, studio, f"#/output/{step}/table", ready=".visualize table.viz-rows")
    assert "40 rows, 3 columns" in page.inner_text(".viz-summary")
    assert "every row" in page.inner_text(".viz-summary")
    first = page.locator("table.viz-rows tbody tr").first.locator("td").all_inner_texts()
    assert first == ["0", "apple", "0"]
    assert page.locator("table.viz-rows tbody tr").count() == 40
    assert page.locator("table.viz-rows tbody tr").nth(3).locator("td.missing").count() == 1
    price = page.locator('table.viz-columns tr[data-column="price"]')
    assert price.locator(".col-type").inner_text().startswith("numeric")
    assert price.locator(".col-missing").inner_text() == "10"
    bars = price.locator("svg.hist rect.bar")
    assert bars.count() == 10
    counts = [int(bars.nth(i).get_attribute("data-count")) for i in range(bars.count())]
    assert sum(counts) == 30                             # 40 rows, 10 missing
    fruit = page.locator('table.viz-columns tr[data-column="fruit"]')
    assert fruit.locator(".col-type").inner_text().startswith("text")
    assert fruit.locator(".col-missing").inner_text() == "8"
    assert fruit.locator(".col-unique").inner_text() == "3"
    assert "apple" in fruit.locator("svg.counts").get_attribute("aria-label")
    fruit.locator("button").press("Enter")               # a column's panel, by keyboard
    panel = page.locator("#viz-column")
    page.wait_for_selector("#viz-column h3:text-is('fruit')")
    assert "Missing values\n8" in panel.inner_text() or "Missing values 8" in panel.inner_text()
    assert panel.locator("svg.counts.big rect.bar").count() == 3
    page.locator('tr[data-column="price"] button').click()
    page.wait_for_selector("#viz-column h3:text-is('price')")
    assert panel.locator("svg.hist.big rect.bar").count() == 10
    assert "Mean" in panel.inner_text()
    assert page.locator("table.viz-rows thead th svg").count() == 3     # Studio's small charts
    page.evaluate("document.querySelector('.visualize').scrollIntoView()")
    screenshot(page, "visualize")


def test_browse_an_output_and_download_a_file(page, world, open_page):
    studio, run, step = world
    open_page(page, studio, f"#/output/{run.id}", ready="table[aria-label=Outputs]")
    row = page.locator("table[aria-label=Outputs] tbody tr").first
    assert row.locator("td").first.inner_text() == "make"
    row.locator("a.output-link").click()
    page.wait_for_selector("table.files")
    names = page.locator("table.files tbody tr td:first-child").all_inner_texts()
    assert names == ["parts/", "table.csv"]
    page.wait_for_selector(".visualize")                 # the output folder is one table
    page.get_by_role("link", name="parts/").click()
    page.wait_for_selector('tr[data-entry="parts/notes.txt"]')
    assert page.locator(".crumbs li").all_inner_texts() == ["table", "parts"]
    with page.expect_download() as waiting:
        page.get_by_role("link", name="Download notes.txt").click()
    download = waiting.value
    assert download.suggested_filename == "notes.txt"
    assert Path(download.path()).read_text() == "not a table"
    page.get_by_role("link", name="table", exact=True).click()   # back up by the breadcrumb
    page.wait_for_selector('tr[data-entry="table.csv"]')
    page.locator('tr[data-entry="table.csv"]').get_by_role("link", name="Visualize").click()
    page.wait_for_selector(".file-facts")
    assert "table.csv" in page.inner_text(".file-facts")
    page.wait_for_selector(".visualize table.viz-rows")


def test_a_missing_output_says_so(page, world, open_page):
    studio, run, step = world
    open_page(page, studio, f"#/output/{run.id}/table", ready=".visualize")  # to its step
    assert page.evaluate("location.hash") == f"#/output/{step}/table"
    open_page(page, studio, f"#/output/{step}/nope", ready="main .error")
    assert "has no output 'nope'" in page.inner_text("main .error")


def test_visualize_on_a_narrow_screen(page, world, open_page):
    studio, _, step = world
    page.set_viewport_size({"width": 390, "height": 800})
    open_page(page, studio, f"#/output/{step}/table", ready=".visualize table.viz-rows")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, f"the page scrolls sideways on a narrow screen ({width}px)"
    assert page.locator("#viz-column").is_visible()
