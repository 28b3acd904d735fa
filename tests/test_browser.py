"""The search page in a real browser: headless Chromium (Debian's package) driven by
Playwright, against a real server.  `make test` installs Chromium where it can; where it
cannot, these tests say so and are skipped."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request

import pytest
from conftest import EXAMPLES, write_post
from test_serve import SEARCHKIT, free_port

from searchkit.indexer import index_paths

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
COPY = "_posts/2021-07-02-data-center-copy.md"
XSS = "_posts/2024-01-01-x.md"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A server over the examples, a post whose title, text and url hold markup and a
    javascript: link, and a copy of an example post (another lead, the same story)."""
    root = tmp_path_factory.mktemp("site")
    posts = root / "posts"
    write_post(
        posts,
        XSS,
        "title: <script>alert(1)</script>\ndate: 2024-01-01\nurl: javascript:alert(2)",
        '灯会 <b>正文</b> <img src=x onerror="alert(3)">',
    )
    original = (EXAMPLES / "_posts" / "2021-07-01-data-center.md").read_text("utf-8")
    copy = original.replace(
        "江北新区数据中心一期工程今天投入使用", "本报讯 江北新区数据中心一期工程今天投入使用"
    )
    (posts / COPY).parent.mkdir(parents=True, exist_ok=True)
    (posts / COPY).write_text(copy.replace("2021-07-01 10:30", "2021-07-02 09:00"), "utf-8")
    index = root / "ix"
    index_paths([EXAMPLES, posts], index, jobs=1)
    port = free_port()
    proc = subprocess.Popen(
        [SEARCHKIT, "serve", "--index", str(index), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/api/stats", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    yield base
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (make test installs Debian's chromium as root)")
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def tab(browser):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    yield page
    context.close()


def searches(page) -> list[str]:
    """The /api/search requests the page sends from now on."""
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/api/search" in r.url else None)
    return asked


def summary(page) -> str:
    return page.inner_text("#summary")


def test_a_shared_address_opens_its_search(site, tab):
    tab.goto(site + "/?" + urllib.parse.urlencode({"q": "数据中心"}))
    tab.wait_for_selector("#hits li")
    assert tab.input_value("#q") == "数据中心"
    assert "共 5 条" in summary(tab) and tab.locator("#hits mark").count() > 0
    tab.goto(site + "/?" + urllib.parse.urlencode({"q": "数据中心", "tag": "算力"}))
    tab.wait_for_function("document.querySelector('#summary').textContent.includes('共 3 条')")
    assert tab.locator("#facets button.on", has_text="算力").count() == 1


def test_back_and_forward_walk_the_searches(site, tab):
    tab.goto(site + "/")
    tab.fill("#q", "数据中心")
    tab.press("#q", "Enter")
    tab.wait_for_selector("#hits li")
    tab.locator("#facets button.facet", has_text="算力").first.click()
    tab.wait_for_function("location.search.includes('tag=')")
    tab.wait_for_function("document.querySelector('#summary').textContent.includes('共 3 条')")
    tab.fill("#q", "灯会")
    tab.press("#q", "Enter")
    tab.wait_for_function("decodeURIComponent(location.search).includes('灯会')")
    tab.go_back()
    tab.wait_for_function("document.querySelector('#summary').textContent.includes('共 3 条')")
    assert tab.input_value("#q") == "数据中心" and "tag=" in tab.url
    tab.go_back()
    tab.wait_for_function("document.querySelector('#summary').textContent.includes('共 5 条')")
    tab.go_forward()
    tab.wait_for_function("document.querySelector('#summary').textContent.includes('共 3 条')")


def test_results_come_as_one_types_but_not_mid_composition(site, tab):
    tab.goto(site + "/")
    asked = searches(tab)
    tab.dispatch_event("#q", "compositionstart")
    tab.fill("#q", "shuju")  # what an input method shows while composing
    tab.wait_for_timeout(800)
    assert asked == []
    tab.fill("#q", "数据中心")
    tab.dispatch_event("#q", "compositionend")
    tab.wait_for_selector("#hits li")
    assert asked and all("q=%E6%95%B0%E6%8D%AE%E4%B8%AD%E5%BF%83" in url for url in asked)
    # typing (no composition) searches after a short pause, and only the last answer is drawn
    tab.fill("#q", "灯")
    tab.fill("#q", "灯会")
    tab.wait_for_function("decodeURIComponent(location.search).includes('灯会')")
    tab.wait_for_function("document.querySelector('#hits').textContent.includes('灯会')")


def test_the_chart_has_axes_and_a_bar_narrows_the_dates(site, tab):
    tab.goto(site + "/?q=" + urllib.parse.quote("数据中心"))
    tab.wait_for_selector("#trend rect.bar")
    assert tab.locator("#trend .y-max").text_content().isdigit()
    assert tab.locator("#trend .x-tick").count() >= 2
    assert tab.locator("#trend .y-title").text_content() == "篇数"
    assert "月份" in tab.inner_text("#trend-caption")
    bar = tab.locator("#trend rect.bar").first
    period = bar.get_attribute("data-period")
    bar.dispatch_event("click")
    tab.wait_for_function("location.search.includes('since=')")
    assert f"since={period}-01" in tab.url and f"until={period}-" in tab.url


def test_one_language_chinese_by_default_english_when_asked(site, browser):
    for locale, words in (
        ("zh-CN", ["搜索", "上一页", "分类"]),
        ("en-US", ["Search", "Previous", "Categories"]),
    ):
        context = browser.new_context(locale=locale)
        page = context.new_page()
        page.goto(site + "/?q=" + urllib.parse.quote("数据中心"))
        page.wait_for_selector("#hits li")
        text = page.inner_text("body")
        assert all(word in text for word in words), (locale, text[:200])
        other = (
            ["Search", "Previous", "Categories", "hits"]
            if locale == "zh-CN"
            else ["上一页", "分类"]
        )
        assert not any(word in text for word in other), (locale, text[:200])
        context.close()


def test_a_phone_width_has_no_horizontal_scroll(site, browser):
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(site + "/?q=" + urllib.parse.quote("数据中心"))
    page.wait_for_selector("#hits li")
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= 390
    assert page.evaluate("document.getElementById('filters').open") is False  # folded above
    context.close()


def test_the_post_view_marks_words_and_shows_similar_posts_and_copies(site, tab):
    tab.goto(site + "/?q=" + urllib.parse.quote("数据中心"))
    tab.wait_for_selector("#hits li")
    tab.locator("#hits a.title").first.click()
    tab.wait_for_function("location.pathname === '/post'")
    tab.wait_for_selector("#post-text mark")
    assert tab.locator("#post-text mark").first.inner_text() in ("数据中心", "數據中心")
    tab.wait_for_selector("#post-similar li")
    path = urllib.parse.parse_qs(urllib.parse.urlparse(tab.url).query)["path"][0]
    tab.goto(site + "/post?" + urllib.parse.urlencode({"path": "_posts/2021-07-01-data-center.md"}))
    tab.wait_for_selector("#post-copies li")
    assert COPY in tab.locator("#post-copies a").first.get_attribute("href").replace("%2F", "/")
    assert path


def test_markup_and_javascript_urls_in_posts_run_nothing(site, tab):
    tab.goto(site + "/?q=" + urllib.parse.quote("灯会 正文"))
    tab.wait_for_selector("#hits .title")
    assert "<script>alert(1)</script>" in tab.locator("#hits .title").all_inner_texts()
    hrefs = tab.eval_on_selector_all("a", "links => links.map(a => a.getAttribute('href') || '')")
    assert not any(h.lower().startswith("javascript:") for h in hrefs)
    tab.goto(site + "/post?" + urllib.parse.urlencode({"path": XSS, "q": "灯会"}))
    tab.wait_for_selector("#post-title")
    tab.wait_for_function("document.querySelector('#post-title').textContent.length > 0")
    assert tab.inner_text("#post-title") == "<script>alert(1)</script>"
    assert tab.locator("#post-source a").count() == 0
    tab.wait_for_timeout(300)
    assert tab.dialogs == []


def test_small_things_an_empty_page_and_a_year_with_a_way_back(site, tab):
    tab.goto(site + "/?q=" + urllib.parse.quote("量子纠缠态"))
    tab.wait_for_function("document.querySelector('#summary').textContent.length > 0")
    assert tab.is_hidden("#pages")
    tab.goto(site + "/?q=" + urllib.parse.quote("数据中心"))
    tab.wait_for_selector("#facets button[data-facet=years]")
    tab.locator("#facets button[data-facet=years]").first.click()
    tab.wait_for_function("location.search.includes('year=')")
    tab.wait_for_selector("#facets button.all-years")
    tab.click("#facets button.all-years")
    tab.wait_for_function("!location.search.includes('year=')")


def test_a_reading_of_the_query_is_shown_as_a_link(site, tab):
    tab.goto(site + "/?q=shujuzhongxin")
    tab.wait_for_selector("#hits li")
    assert "显示的是以下搜索的结果" in tab.inner_text("#meant")
    tab.locator("#meant a").first.click()  # search what was typed instead
    tab.wait_for_function("location.search.includes('exact=1')")
    tab.wait_for_function("document.querySelector('#summary').textContent.includes('没有找到')")
