"""The web application through an in-process client: pages, JSON twins, API, errors, escaping.

Most tests run on the hand-made index (its <script> statement, duplicated bib entry and
self-citation); the last ones on a real index of the interlinked eLife set when it is present.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.webfixtures import TARGET_DOI, XSS, build_small_index, real_index

from citelens.errors import StoreError
from citelens.store.sqlite import SqliteStore
from citelens.web.app import create_app, percent


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    path = build_small_index(tmp_path_factory.mktemp("web") / "index.db")
    return TestClient(create_app(path))


def test_report_api_has_the_report_fields(client: TestClient) -> None:
    r = client.get(f"/api/v1/papers/{TARGET_DOI}")
    assert r.status_code == 200
    body = r.json()
    for key in (
        "doi",
        "title",
        "year",
        "journal",
        "authors",
        "citing_publications",
        "statements",
        "supporting",
        "mentioning",
        "contrasting",
        "references",
        "sections",
        "facets",
    ):
        assert key in body
    assert (body["statements"], body["citing_publications"], body["references"]) == (6, 3, 3)


def test_statements_api_filters_sorts_and_pages(client: TestClient) -> None:
    url = f"/api/v1/papers/{TARGET_DOI}/statements"
    body = client.get(url, params={"type": ["supporting", "contrasting"], "sort": "oldest"}).json()
    assert body["total"] == 3
    assert [i["citing"]["year"] for i in body["items"]] == [2014, 2016, 2018]
    item = body["items"][0]
    for key in (
        "statement_id",
        "citing_doi",
        "cited_doi",
        "text",
        "before",
        "after",
        "callouts",
        "label",
        "confidence",
        "section_title",
        "section_type",
    ):
        assert key in item
    assert item["cited_doi"] == TARGET_DOI
    ids = []
    for page in (1, 2, 3, 4):
        ids += [
            i["id"] for i in client.get(url, params={"page": page, "page_size": 2}).json()["items"]
        ]
    assert len(ids) == len(set(ids)) == 6


def test_other_api_endpoints(client: TestClient) -> None:
    refs = client.get(f"/api/v1/papers/{TARGET_DOI}/references").json()
    assert refs["references"] == 3
    search = client.get("/api/v1/search", params={"q": "blastema"}).json()
    assert search["total"] == 2
    assert {i["cited"]["doi"] for i in search["items"]} == {TARGET_DOI}
    works = client.get("/api/v1/works", params={"query": "zebrafish"}).json()
    assert works["items"][0]["doi"] == TARGET_DOI
    assert client.get("/api/v1/stats").json()["statements"] == 8
    schema = client.get("/openapi.json").json()
    assert "/api/v1/papers/{doi}/statements" in schema["paths"]


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/api/v1/papers/10.1234/missing", 404),
        ("/api/v1/papers/not-a-doi/statements", 404),
        (f"/api/v1/papers/{TARGET_DOI}/statements?page_size=101", 400),
        (f"/api/v1/papers/{TARGET_DOI}/statements?page=zero", 400),
        (f"/api/v1/papers/{TARGET_DOI}/statements?sort=random", 400),
        (f"/api/v1/papers/{TARGET_DOI}/statements?type=angry", 400),
        (f"/api/v1/papers/{TARGET_DOI}/statements?year_from=soon", 400),
        (f"/api/v1/papers/{TARGET_DOI}/statements?q=*", 400),
        ("/api/v1/search?q=", 400),
        ("/api/v1/search", 400),
        ("/api/v1/works?query=", 400),
        ("/api/v1/nothing-here", 404),
    ],
)
def test_api_errors_are_json_4xx(client: TestClient, url: str, status: int) -> None:
    r = client.get(url)
    assert r.status_code == status
    body = r.json()
    assert set(body) == {"error", "detail"} and body["detail"]


@pytest.mark.parametrize(
    "q", ['"unbalanced', "AND OR", "NOT", "fins NEAR(", "a:b", "x' OR 1=1 --", "^*", "((fins"]
)
def test_hostile_queries_never_500(client: TestClient, q: str) -> None:
    for url in (
        f"/api/v1/papers/{TARGET_DOI}/statements",
        "/api/v1/search",
        f"/papers/{TARGET_DOI}",
        "/search",
    ):
        r = client.get(url, params={"q": q})
        assert r.status_code in (200, 400), (url, q, r.status_code)


def test_pages_render_report(client: TestClient) -> None:
    r = client.get(f"/papers/{TARGET_DOI}")
    assert r.status_code == 200
    html = r.text
    assert "Cited by <strong>3</strong> publications (6 citation statements)" in html
    assert "References <strong>3</strong> publications" in html
    assert "supporting · confidence 71%" in html
    assert "Results and discussion" in html  # section title as written
    assert '<mark class="callout">Lovelace</mark>' in html
    assert html.count('class="card ') == 6
    assert "Help me understand this report" in html
    # each filter option shows its count
    assert re.search(r'value="contrasting".*?<span class="count">1</span>', html, re.S)


def test_page_filters_and_search_highlight(client: TestClient) -> None:
    html = client.get(f"/papers/{TARGET_DOI}", params={"section": "results", "q": "blastema"}).text
    assert html.count('class="card ') == 1
    assert '<mark class="match">blastema</mark>' in html


def test_script_in_data_and_query_is_text(client: TestClient) -> None:
    html = client.get(f"/papers/{TARGET_DOI}").text
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    for url in (f"/papers/{TARGET_DOI}", "/search", "/"):
        key = "query" if url == "/" else "q"
        page = client.get(url, params={key: XSS}).text
        assert "<script>alert" not in page
    missing = client.get("/papers/10.1234/<script>alert(1)</script>")
    assert missing.status_code == 404 and "<script>alert" not in missing.text


def test_html_errors_and_json_twins(client: TestClient) -> None:
    r = client.get("/papers/10.1234/missing")
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]
    assert "10.1234/missing" in r.text
    assert client.get(f"/papers/{TARGET_DOI}?page_size=500").status_code == 400
    twin = client.get(f"/papers/{TARGET_DOI}.json").json()
    assert twin["report"]["statements"] == twin["statements"]["total"] == 6
    assert client.get("/papers/10.1234/missing.json").json()["error"] == "not_found"
    refs = client.get(f"/papers/{TARGET_DOI}.json?tab=references").json()
    assert refs["references"] == 3
    search = client.get("/search.json", params={"q": "fins"}).json()
    assert search["total"] >= 1


def test_home_finds_by_doi_and_title(client: TestClient) -> None:
    r = client.get("/", params={"query": f"https://doi.org/{TARGET_DOI}"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/papers/{TARGET_DOI}"
    html = client.get("/", params={"query": "regeneration"}).text
    assert f'href="/papers/{TARGET_DOI}"' in html
    assert "Citation statements" in client.get("/").text
    upper = client.get("/papers/10.1234/TARGET.1", follow_redirects=False)
    assert upper.status_code == 301 and upper.headers["location"] == f"/papers/{TARGET_DOI}"


def test_serve_command_is_registered() -> None:
    from click.testing import CliRunner

    from citelens.cli import cli

    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0 and "--port" in result.output


# --- the real index ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_client(tmp_path_factory: pytest.TempPathFactory) -> tuple[TestClient, Path]:
    path = real_index(tmp_path_factory)
    return TestClient(create_app(path)), path


def test_real_report_equals_export(real_client: tuple[TestClient, Path]) -> None:
    client, path = real_client
    store = SqliteStore(path)
    try:
        export = list(store.export_statements())
    finally:
        store.close()
    by_cited: dict[str, list[dict]] = {}
    for row in export:
        if row["cited_doi"]:
            by_cited.setdefault(row["cited_doi"], []).append(row)
    top = sorted(by_cited, key=lambda d: -len(by_cited[d]))[:5]
    # The store keeps one statement per (sentence, cited work): the export has no duplicates.
    for doi in top:
        rows = by_cited[doi]
        assert len({(r["citing_key"], r["text"], r["before"]) for r in rows}) == len(rows)
        body = client.get(f"/api/v1/papers/{doi}").json()
        assert body["statements"] == len(rows)
        assert body["citing_publications"] == len({r["citing_key"] for r in rows})
        for label in ("supporting", "mentioning", "contrasting"):
            assert body[label] == sum(r["label"] == label for r in rows)
        listed = client.get(f"/api/v1/papers/{doi}/statements", params={"page_size": 100}).json()
        assert listed["total"] == body["statements"]
        assert len({i["id"] for i in listed["items"]}) == len(listed["items"])


def test_real_pages_render(real_client: tuple[TestClient, Path]) -> None:
    client, path = real_client
    with SqliteStore(path).reader() as conn:
        doi = conn.execute(
            "SELECT w.doi FROM statements s JOIN works w ON w.id = s.cited_work_id"
            " WHERE w.has_full_text = 1 GROUP BY w.id ORDER BY count(*) DESC LIMIT 1"
        ).fetchone()[0]
    r = client.get(f"/papers/{doi}")
    assert r.status_code == 200 and "Cited by" in r.text
    refs = client.get(f"/papers/{doi}", params={"tab": "references"})
    assert refs.status_code == 200
    assert client.get(f"/api/v1/papers/{doi}/references").json()["references"] > 0
    search = client.get("/search", params={"q": "zebrafish"})
    assert search.status_code == 200


def test_home_lists_most_cited(client: TestClient) -> None:
    html = client.get("/").text
    assert "Most cited in this index" in html
    first = html.index("Most cited in this index")
    assert html.index(f'href="/papers/{TARGET_DOI}"', first) > first
    assert "cited by 3 publications in 6 statements" in html


def test_a_file_that_is_not_an_index_gives_503(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE unrelated (x)")
    conn.commit()
    conn.close()
    client = TestClient(create_app(path))
    r = client.get(f"/api/v1/papers/{TARGET_DOI}")
    assert r.status_code == 503 and r.json()["error"] == "index_unavailable"
    assert client.get("/").status_code == 503
    with pytest.raises(StoreError, match="no index"):
        create_app(tmp_path / "missing.db")


def test_every_api_route_and_serve_option_is_documented(client: TestClient) -> None:
    from tests.webfixtures import REPO

    from citelens.web.commands import serve

    doc = (REPO / "docs" / "web.md").read_text()
    paths = {r.path.replace("{doi:path}", "{doi}") for r in client.app.routes}
    api = sorted(p for p in paths if p.startswith("/api/v1/"))
    assert api, "no API routes found"
    for path in api:
        assert path in doc, f"{path} is not in docs/web.md"
    for option in serve.params:
        for flag in option.opts:
            assert flag in doc, f"serve {flag} is not in docs/web.md"


def test_confidence_is_shown_without_claiming_certainty() -> None:
    assert [percent(v) for v in (0.998, 1.0, 0.004, 0.0, 0.714, None)] == [
        ">99%", "100%", "<1%", "0%", "71%", ""]
