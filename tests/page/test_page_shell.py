"""The page's shell: served from the package with no CDN, the sections reachable by keyboard,
a narrow screen still usable."""
from __future__ import annotations


def test_the_page_loads_from_the_package_and_lists_the_sections(page, workspace, studio,
                                                                open_page):
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    open_page(page, studio, "#/runs")
    assert page.inner_text("main h1") == "Runs"
    assert all(url.startswith(studio.url) for url in requests), requests   # nothing from elsewhere
    links = page.locator("nav a")
    assert links.count() >= 7
    page.keyboard.press("Tab")                       # the skip link, then the sections
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "amlocal studio"


def test_a_narrow_screen_keeps_every_section_reachable(page, workspace, studio, open_page):
    page.set_viewport_size({"width": 390, "height": 800})
    open_page(page, studio, "#/runs")
    for link in page.locator("nav a").all():
        assert link.is_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, f"the page scrolls sideways on a narrow screen ({width}px)"
