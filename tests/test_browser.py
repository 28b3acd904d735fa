"""The search page in a real browser: headless Chromium (Debian's package) driven by
Playwright, against a real server.  `make test` installs Chromium where it can; where it
cannot, this test says so and is skipped."""

from __future__ import annotations

import shutil

import pytest
from test_serve import server  # noqa: F401 - the fixture: a real server on a loopback port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture
def page():
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (make test installs Debian's chromium as root)")
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        tab = browser.new_page()
        dialogs = []
        tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        yield tab, dialogs
        browser.close()


def test_type_a_query_see_hits_click_a_facet_and_page(server, page):  # noqa: F811
    base, *_ = server
    tab, dialogs = page
    tab.goto(base + "/")
    tab.fill("#q", "数据中心")
    tab.press("#q", "Enter")
    tab.wait_for_selector("#hits li")
    assert tab.locator("#hits li").count() == 8
    assert tab.locator("#hits mark").count() > 0
    assert "of 8 hits" in tab.inner_text("#summary")
    tab.locator("#facets button.facet", has_text="算力").first.click()
    tab.wait_for_function("document.querySelector('#summary').textContent.includes('of 2 hits')")
    tab.locator("#facets button.facet", has_text="算力").first.click()  # off again
    tab.wait_for_function("document.querySelector('#summary').textContent.includes('of 8 hits')")
    # a date range alone lists posts, newest first, ten a page
    tab.fill("#q", "")
    tab.fill("#since", "2019-01-01")
    tab.fill("#until", "2024-12-31")
    tab.press("#q", "Enter")
    tab.wait_for_function("document.querySelector('#summary').textContent.startsWith('1-10 of')")
    tab.click("#next")
    tab.wait_for_function("document.querySelector('#summary').textContent.startsWith('11-')")
    assert tab.inner_text("#page") == "page 2"
    # a post's title is shown as the text it is: no script of it runs
    tab.fill("#since", "")
    tab.fill("#until", "")
    tab.fill("#q", "灯会 正文")
    tab.press("#q", "Enter")
    tab.wait_for_selector("#hits li .title")
    titles = tab.locator("#hits .title").all_inner_texts()
    assert "<script>alert(1)</script>" in titles
    assert dialogs == []
    # traditional script finds simplified posts
    tab.fill("#q", "數據中心")
    tab.press("#q", "Enter")
    tab.wait_for_function("document.querySelector('#summary').textContent.includes('of 8 hits')")
