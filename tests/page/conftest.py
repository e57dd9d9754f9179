"""The studio page's browser tests: headless Chromium (Debian's ``chromium``, driven by
Playwright's Python package with ``executable_path``; no browser is downloaded), over a real
studio server process. With ``CI`` set a missing browser FAILS the tests; locally they skip.

Fixtures:
- ``browser``: one Chromium for the session.
- ``page``: a fresh page (context) per test; JavaScript errors on the page fail the test.
- ``open_page(studio, "#/runs")``: go to the page of a ``Studio`` (tests/server/conftest.py:
  ``studio`` / ``studio_module``) with its key handed over (so writes are allowed) and wait for
  the view to render.
- ``screenshot(page, "name")``: write docs/screenshots/<name>.png (the README shows them).
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest


def _server_fixtures():
    """tests/server/conftest.py (the server fixtures), loaded by path: test folders are not
    packages."""
    import importlib.util
    path = Path(__file__).resolve().parents[1] / "server" / "conftest.py"
    spec = importlib.util.spec_from_file_location("amlocal_tests_server_fixtures", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module          # dataclasses look their module up while defined
    spec.loader.exec_module(module)
    return module


_server = _server_fixtures()
Studio, start_studio = _server.Studio, _server.start_studio
studio, studio_module = _server.studio, _server.studio_module

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-dev-shm-usage"]


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def browser():
    executable = _chromium()
    problem = None
    if executable is None:
        problem = "no chromium on PATH (Debian: apt-get install chromium; scripts/setup.sh does)"
    else:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            problem = "the playwright package is missing: pip install -e '.[test]'"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.set_default_timeout(20_000)
    yield tab
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def open_page():
    def go(page, studio: Studio, where: str = "#/runs", ready: str = "main h1"):
        where = where if where.startswith("#") else f"#{where}"
        joiner = "&" if "?" in where else "?"
        page.goto(f"{studio.url}/studio/{where}{joiner}key={studio.key}")
        page.wait_for_selector(ready)
        return page
    return go


@pytest.fixture
def screenshot():
    def shoot(page, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=False)
        return path
    return shoot
