"""The report pages in a real headless Chromium driven by Playwright, over a live server.

Uses Debian's /usr/bin/chromium (Playwright never downloads a browser) and the real index of
the interlinked eLife set (the hand-made index without it); saves a screenshot of the report in
artifacts/ (docs/screenshot-report.png, the README's picture, with CITELENS_UPDATE_SCREENSHOT=1).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.webfixtures import INTERLINKED, REPO, build_small_index, real_index

from citelens.store.sqlite import SqliteStore
from citelens.web.app import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = (
    REPO / "docs" / "screenshot-report.png"
    if os.environ.get("CITELENS_UPDATE_SCREENSHOT")
    else REPO / "artifacts" / "screenshot-report.png"
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}"),
]
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def index_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real eLife index; the hand-made one where the shared data is absent."""
    if INTERLINKED.is_dir():
        return real_index(tmp_path_factory)
    return build_small_index(tmp_path_factory.mktemp("browser") / "index.db")


@pytest.fixture(scope="module")
def server(index_path: Path) -> Iterator[str]:
    import uvicorn

    port = _free_port()
    config = uvicorn.Config(
        create_app(index_path), host="127.0.0.1", port=port, log_level="warning"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the web server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def cited_doi(index_path: Path) -> str:
    """The article with full text in the index that is cited in the most statements."""
    store = SqliteStore(index_path)
    try:
        with store.reader() as conn:
            row = conn.execute(
                "SELECT w.doi FROM statements s JOIN works w ON w.id = s.cited_work_id"
                " WHERE w.has_full_text = 1 AND w.doi IS NOT NULL"
                " GROUP BY w.id ORDER BY count(*) DESC LIMIT 1"
            ).fetchone()
    finally:
        store.close()
    assert row is not None, "no cited article with full text in the index"
    return str(row[0])


def _card_ids(page: object) -> list[str]:
    return page.eval_on_selector_all("article.card", "cards => cards.map(c => c.id)")


def test_report_filters_search_pages_and_follow(server: str, browser: object, cited_doi: str):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(10_000)
    page.goto(f"{server}/papers/{cited_doi}")
    heading = page.locator("h1#paper-title")
    assert heading.inner_text().strip()
    cited_by = page.locator("p.cited-by").inner_text()
    assert "Cited by" in cited_by and "citation statements" in cited_by
    first_page = _card_ids(page)
    assert first_page, "the report shows no statement card"
    assert len(first_page) == len(set(first_page))
    assert page.locator("mark.callout").count() >= len(first_page)

    if INTERLINKED.is_dir():
        # The README shows a real report, never the hand-made fixture.
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=False)
        assert SCREENSHOT.stat().st_size > 10_000

    # Apply a filter: the checkbox submits the form (progressive enhancement).
    mentioning = page.locator("#facet-type input[value=mentioning]")
    expected = int(
        page.locator("#facet-type label:has(input[value=mentioning]) .count").inner_text()
    )
    with page.expect_navigation():
        mentioning.check()
    assert "type=mentioning" in page.url
    assert page.locator("#results-title").inner_text().startswith(f"{expected} ")
    badges = page.locator("article.card .badge").all_inner_texts()
    assert badges and all(b.startswith("mentioning") for b in badges)

    # Page through: the second page holds other statements.
    if page.locator("a[rel=next]").count():
        before = set(_card_ids(page))
        with page.expect_navigation():
            page.locator("a[rel=next]").click()
        assert "page=2" in page.url
        assert before.isdisjoint(_card_ids(page))

    # Search within the paper's statements: matches are highlighted.
    page.goto(f"{server}/papers/{cited_doi}")
    word = page.locator("article.card .citing").first.inner_text().split()[0].strip(".,;()")
    page.fill("input#q", word)
    with page.expect_navigation():
        page.press("input#q", "Enter")
    assert "q=" in page.url
    assert page.locator("mark.match").count() > 0

    # Follow a citing paper to its own report.
    page.goto(f"{server}/papers/{cited_doi}")
    link = page.locator("article.card a.citing-title").first
    title = link.inner_text().strip()
    with page.expect_navigation():
        link.click()
    assert page.locator("h1#paper-title").inner_text().strip() == title
    page.close()


def test_filters_work_without_javascript(server: str, browser: object, cited_doi: str):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{server}/papers/{cited_doi}")
    page.locator("#facet-type input[value=mentioning]").check()
    page.select_option("select#sort", "newest")
    with page.expect_navigation():
        page.get_by_role("button", name="Apply filters").click()
    assert "type=mentioning" in page.url and "sort=newest" in page.url
    years = [
        int(y)
        for y in page.eval_on_selector_all(
            "article.card .meta",
            "ms => ms.map(m => (m.innerText.match(/· (\\d{4})( ·|$)/) || [])[1]).filter(Boolean)",
        )
    ]
    assert years == sorted(years, reverse=True)
    context.close()


def test_phone_layout_and_keyboard(
    server: str, browser: object, cited_doi: str, index_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    # Real statements hold long unbroken tokens (sequences, URLs): the reports showing the
    # longest ones, and a search, must still fit the screen.
    with SqliteStore(index_path).reader() as conn:
        rows = conn.execute(
            "SELECT w.doi, s.text || ' ' || s.before || ' ' || s.after FROM statements s"
            " JOIN works w ON w.id = s.cited_work_id WHERE w.doi IS NOT NULL"
        ).fetchall()
    longest = sorted(rows, key=lambda row: -max(map(len, row[1].split())))
    widest = list(dict.fromkeys(doi for doi, _ in longest))[:4]
    pages = [f"/papers/{doi}?page_size=100" for doi in widest]
    for path in [*pages, "/search?q=cells", "/"]:
        page.goto(f"{server}{path}")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{path} is {overflow}px wider than a phone screen"
    page.goto(f"{server}/papers/{cited_doi}")
    # Filters start folded on a phone; opening them shows the options.
    assert page.evaluate("document.querySelector('details.facets').open") is False
    page.locator("details.facets > summary").click()
    assert page.locator("#facet-type input[value=mentioning]").is_visible()
    page.goto(f"{server}/papers/{cited_doi}")
    # Tab walks the skip link, the home link, then the site search; typing there searches.
    focused = []
    for _ in range(3):
        page.keyboard.press("Tab")
        focused.append(
            page.evaluate("document.activeElement.className || document.activeElement.id")
        )
    assert focused == ["skip", "brand", "site-q"]
    page.keyboard.type("neurons")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/search?q=neurons" in page.url
    page.close()


def test_script_in_query_is_text(server: str, browser: object) -> None:
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{server}/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert page.locator("h1").inner_text() == "Search citation statements"
    assert dialogs == []
    assert page.locator("input#site-q").input_value() == "<script>alert(1)</script>"
    page.close()
