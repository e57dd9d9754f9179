"""Two runs compared in the browser: a real one-step pipeline (in Docker) submitted twice with
different parameters; the page shows the parameter that differs, the step whose reuse key
differs and in which part, the environment digests, and the metrics with a link to one chart
of both."""
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
    ws = Workspace("00000000-0000-0000-0000-000000000000", "page-rg", "comparews")
    first, second = _submit_runs()(ws, tmp_path_factory.mktemp("compare-src"), rows=(20, 30))
    return studio_module, first, second


def test_compare_two_runs_with_different_parameters(page, world, open_page, screenshot):
    studio, first, second = world
    open_page(page, studio, f"#/compare?a={first.id}&b={second.id}",
              ready="table[aria-label=Steps]")
    status = page.locator('table[aria-label=Runs] tr[data-field="Status"]')
    assert status.locator("td").all_inner_texts()[:2] == ["Finished", "Finished"]
    assert "same" in status.inner_text()
    rows = page.locator('table[aria-label=Parameters] tr[data-parameter="rows"]')
    assert rows.locator("td").all_inner_texts() == ["20", "30", "differs"]
    assert "differs" in rows.get_attribute("class")
    assert page.inner_text(".steps-summary") == "1 of 1 steps differ: make."
    step = page.locator('table[aria-label=Steps] tr[data-step="make"]')
    assert "parameters.AML_PARAMETER_rows" in step.locator("td.diff-mark").inner_text()
    assert "environment" not in step.locator("td.diff-mark").inner_text()
    parts = page.locator('table[aria-label="Reuse key parts of make"]')
    changed = parts.locator('tr[data-part="parameters.AML_PARAMETER_rows"]')
    assert changed.locator("td").all_inner_texts() == ['20', '30', "differs"]
    environment = parts.locator('tr[data-part="environment"]')
    assert environment.locator("td").last.inner_text() == "same"
    assert environment.get_attribute("class") is None
    digests = step.locator("td").nth(0).inner_text(), step.locator("td").nth(1).inner_text()
    env_a = [line for line in digests[0].splitlines() if line.startswith("environment")]
    env_b = [line for line in digests[1].splitlines() if line.startswith("environment")]
    assert env_a == env_b and len(env_a[0]) > len("environment ")
    metric = page.locator('table[aria-label=Metrics] tr[data-metric="make/rows"]')
    assert metric.locator("td").all_inner_texts()[:3] == ["20", "30", "differs"]
    chart = page.locator('table[aria-label=Metrics] tr[data-metric="make/loss"] a')
    step_a, step_b = first.find_step_run("make")[0].id, second.find_step_run("make")[0].id
    assert chart.get_attribute("href") == f"#/run/{step_a}?with={step_b}"
    screenshot(page, "compare")
    chart.click()
    page.wait_for_function(f"location.hash.startsWith('#/run/{step_a}')")


def test_pick_two_runs_by_id_and_swap(page, world, open_page):
    studio, first, second = world
    open_page(page, studio, "#/compare", ready="form.toolbar")
    page.get_by_label("Run A").fill(second.id)
    page.get_by_label("Run B").fill(first.id)
    page.get_by_role("button", name="Compare").click()
    page.wait_for_selector('table[aria-label=Parameters] tr[data-parameter="rows"]')
    cells = page.locator('tr[data-parameter="rows"] td').all_inner_texts()
    assert cells == ["30", "20", "differs"]
    page.get_by_role("link", name="Swap A and B").click()
    page.wait_for_function(
        "document.querySelector('tr[data-parameter=\"rows\"] td')?.textContent === '20'")


def test_an_unknown_run_is_named(page, world, open_page):
    studio, first, _ = world
    open_page(page, studio, f"#/compare?a={first.id}&b=no-such-run", ready="main .error")
    assert "no-such-run" in page.inner_text("main .error")


def test_compare_on_a_narrow_screen(page, world, open_page):
    studio, first, second = world
    page.set_viewport_size({"width": 390, "height": 800})
    open_page(page, studio, f"#/compare?a={first.id}&b={second.id}",
              ready="table[aria-label=Steps]")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, f"the page scrolls sideways on a narrow screen ({width}px)"
    assert page.get_by_role("button", name="Compare").is_visible()
