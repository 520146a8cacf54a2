"""The web application: HTTP requests -> report queries -> server-rendered pages and JSON.

Pages work without JavaScript; every page has a `.json` twin and the versioned API under
/api/v1 answers the same queries. Errors are clean 4xx pages, or {error, detail} for JSON.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from citelens import __version__, report
from citelens.errors import NotFound, QueryError, StoreError
from citelens.identifiers import normalise_doi
from citelens.store.sqlite import SqliteStore

HERE = Path(__file__).resolve().parent
LIST_FILTERS = ("type", "section", "publication_type", "relationship", "author", "journal")
SECTION_NAMES = {
    "introduction": "Introduction",
    "methods": "Methods",
    "results": "Results",
    "discussion": "Discussion",
    "conclusion": "Conclusion",
    "other": "Other",
}


class ReadOnlyIndex:
    """Read-only connections to one index file, one per server thread, reused across requests.

    Each query outside a transaction sees the latest committed state, so a server keeps
    answering while `citelens ingest` writes the same file.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise StoreError(f"{self.path}: no index here; build one with `citelens ingest`")
        self._local = threading.local()

    @contextmanager
    def reader(self) -> Iterator[sqlite3.Connection]:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False
            )
            self._local.conn = conn
        yield conn

    def forget_connections(self) -> None:
        """Drop this index's connections (each closes once unused): the next request of every
        thread opens a new one, as after a server start."""
        self._local = threading.local()

    def prepare(self) -> bool:
        """Bring the file to the current schema (its report tallies) and add the report
        indexes, when it is writable; False when it is not (reports then read slower paths)."""
        try:
            with self.reader() as reader:
                is_index = reader.execute(
                    "SELECT 1 FROM sqlite_master WHERE name = 'statements'"
                ).fetchone()
            if not is_index:
                return False  # another kind of file: requests answer 503, it stays untouched
            # Behind a busy writer the server starts as the file is rather than wait.
            SqliteStore(self.path, busy_timeout_ms=5000).close()
            conn = sqlite3.connect(self.path, timeout=5)
        except (StoreError, sqlite3.Error):
            return False
        try:
            report.ensure_report_indexes(conn)
            return True
        except sqlite3.Error:
            return False
        finally:
            conn.close()


def _filters(
    type: Annotated[
        list[str] | None, Query(description="supporting, mentioning, contrasting")
    ] = None,
    section: Annotated[
        list[str] | None,
        Query(description="introduction, methods, results, discussion, conclusion, other"),
    ] = None,
    year_from: Annotated[str | None, Query(description="first citing year")] = None,
    year_to: Annotated[str | None, Query(description="last citing year")] = None,
    publication_type: Annotated[
        list[str] | None, Query(description="of the citing paper, e.g. research-article")
    ] = None,
    relationship: Annotated[list[str] | None, Query(description="self or independent")] = None,
    author: Annotated[list[str] | None, Query(description="a citing author")] = None,
    journal: Annotated[list[str] | None, Query(description="the citing journal")] = None,
    q: Annotated[str | None, Query(description="full-text search (FTS5 syntax or words)")] = None,
) -> report.StatementFilters:
    return report.StatementFilters.from_mapping(
        {
            "type": type,
            "section": section,
            "year_from": year_from,
            "year_to": year_to,
            "publication_type": publication_type,
            "relationship": relationship,
            "author": author,
            "journal": journal,
            "q": q,
        }
    )


Filters = Annotated[report.StatementFilters, Depends(_filters)]
Sort = Annotated[str, Query(description="relevance | newest | oldest")]
Page = Annotated[int, Query(description="1-based page number")]
PageSize = Annotated[int, Query(description=f"at most {report.MAX_PAGE_SIZE}")]


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api/") or path.endswith(".json")


def paper_url(doi: str, suffix: str = "") -> str:
    """The report page of a DOI; slashes stay readable, everything else is percent-encoded."""
    return "/papers/" + quote(doi, safe="/") + suffix


def percent(value: float | None) -> str:
    """A probability as a whole percentage; never a certainty it does not state (0.998 is
    ">99%", not "100%")."""
    if value is None:
        return ""
    shown = round(value * 100)
    if shown >= 100 and value < 1:
        return ">99%"
    if shown <= 0 < value:
        return "<1%"
    return f"{shown}%"


def create_app(db_path: str | Path) -> FastAPI:
    """The citelens web application over the SQLite index at `db_path`."""
    index = ReadOnlyIndex(db_path)
    index.prepare()
    app = FastAPI(
        title="citelens",
        version=__version__,
        description="Who cites a paper, in which words, and do they agree with it?",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.index = index
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    env = templates.env
    env.autoescape = True
    env.globals.update(
        paper_url=paper_url,
        segments=report.mark_segments,
        section_names=SECTION_NAMES,
        version=__version__,
    )
    env.filters["pct"] = percent
    env.filters["num"] = lambda v: f"{v:,}" if isinstance(v, int) else v
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
        def url_with(**changes: Any) -> str:
            # Links that change one parameter keep the others; page resets unless given.
            params = [(k, v) for k, v in request.query_params.multi_items() if k not in changes]
            if "page" not in changes:
                params = [(k, v) for k, v in params if k != "page"]
            for key, value in changes.items():
                if value is None:
                    continue
                for item in value if isinstance(value, list | tuple) else [value]:
                    params.append((key, str(item)))
            query = urlencode(params)
            return request.url.path + ("?" + query if query else "")

        return templates.TemplateResponse(
            request, name, {"url_with": url_with, **context}, status_code=status
        )

    def error(request: Request, status: int, kind: str, detail: str) -> Response:
        if _wants_json(request):
            return JSONResponse({"error": kind, "detail": detail}, status_code=status)
        return render(
            request, "error.html", {"status": status, "kind": kind, "detail": detail}, status
        )

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        return error(request, 404, "not_found", str(exc))

    @app.exception_handler(QueryError)
    async def bad_query(request: Request, exc: QueryError) -> Response:
        return error(request, 400, "bad_query", str(exc))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg')}"
            for e in exc.errors()
        )
        return error(request, 400, "bad_request", problems or "invalid request")

    @app.exception_handler(StoreError)
    async def store_failed(request: Request, exc: StoreError) -> Response:
        return error(request, 503, "index_unavailable", str(exc))

    @app.exception_handler(sqlite3.DatabaseError)
    async def index_broken(request: Request, exc: sqlite3.DatabaseError) -> Response:
        # A file that is not a citelens index, or one damaged under the server.
        return error(request, 503, "index_unavailable", f"{index.path}: {exc}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        kind = "not_found" if exc.status_code == 404 else "http_error"
        detail = f"no page at {request.url.path}" if exc.status_code == 404 else str(exc.detail)
        return error(request, exc.status_code, kind, detail)

    # -- API -----------------------------------------------------------------------------

    @app.get("/api/v1/papers/{doi:path}/statements", tags=["api"])
    def api_statements(
        doi: str,
        filters: Filters,
        sort: Sort = "relevance",
        page: Page = 1,
        page_size: PageSize = report.DEFAULT_PAGE_SIZE,
    ) -> dict[str, Any]:
        """One page of the citation statements about a paper, filtered, searched and ordered."""
        return report.list_statements(index, doi, filters, sort, page, page_size)

    @app.get("/api/v1/papers/{doi:path}/references", tags=["api"])
    def api_references(doi: str) -> dict[str, Any]:
        """The paper's own reference list with what it says of each reference."""
        return report.references_of(index, doi)

    @app.get("/api/v1/papers/{doi:path}", tags=["api"])
    def api_paper(doi: str) -> dict[str, Any]:
        """The report of a paper: metadata, tallies, tallies per section, facets, summary."""
        return report.build_report(index, doi)

    @app.get("/api/v1/search", tags=["api"])
    def api_search(
        q: Annotated[str, Query(description="full-text search over every statement")],
        filters: Filters,
        sort: Sort = "relevance",
        page: Page = 1,
        page_size: PageSize = report.DEFAULT_PAGE_SIZE,
    ) -> dict[str, Any]:
        """Citation statements across the whole index that match a full-text search."""
        return report.search_statements(index, q, filters, sort, page, page_size)

    @app.get("/api/v1/works", tags=["api"])
    def api_works(
        query: Annotated[str, Query(description="a DOI or words of a title")],
        limit: Annotated[int, Query(description=f"at most {report.MAX_PAGE_SIZE}")] = 20,
    ) -> dict[str, Any]:
        """Works in the index by DOI or title words, most cited first."""
        return {"query": query, "items": report.find_works(index, query, limit)}

    @app.get("/api/v1/stats", tags=["api"])
    def api_stats() -> dict[str, int]:
        """How much the index holds."""
        return report.index_counts(index)

    # -- pages ---------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request, query: str | None = None) -> Response:
        works = None
        if query and query.strip():
            works = report.find_works(index, query)
            doi = normalise_doi(query)
            if doi and len(works) == 1 and works[0]["doi"] == doi:
                return RedirectResponse(paper_url(doi), status_code=303)
        counts = report.index_counts(index)
        cited = report.most_cited(index) if works is None else []
        return render(
            request,
            "home.html",
            {"query": query or "", "works": works, "counts": counts, "cited": cited},
        )

    @app.get("/search.json", include_in_schema=False)
    def search_json(
        filters: Filters,
        sort: Sort = "relevance",
        page: Page = 1,
        page_size: PageSize = report.DEFAULT_PAGE_SIZE,
    ) -> dict[str, Any]:
        if not filters.q:
            raise QueryError("the search is empty: add ?q= and one or more words")
        return report.search_statements(index, filters.q, filters, sort, page, page_size)

    @app.get("/search", response_class=HTMLResponse, include_in_schema=False)
    def search_page(
        request: Request,
        filters: Filters,
        sort: Sort = "relevance",
        page_number: Annotated[int, Query(alias="page")] = 1,
        page_size: PageSize = report.DEFAULT_PAGE_SIZE,
    ) -> Response:
        result = None
        if filters.q:
            result = report.search_statements(
                index, filters.q, filters, sort, page_number, page_size
            )
        return render(request, "search.html", {"filters": filters, "result": result, "sort": sort})

    @app.get("/papers/{doi:path}", include_in_schema=False)
    def paper_page(
        request: Request,
        doi: str,
        filters: Filters,
        sort: Sort = "relevance",
        page_number: Annotated[int, Query(alias="page")] = 1,
        page_size: PageSize = report.DEFAULT_PAGE_SIZE,
        tab: str = "statements",
    ) -> Response:
        as_json = doi.endswith(".json")
        doi = doi.removesuffix(".json") if as_json else doi
        if tab not in ("statements", "references"):
            raise QueryError(f"tab must be statements or references, got {tab!r}")
        if tab == "references":
            refs = report.references_of(index, doi)
            if as_json:
                return JSONResponse(refs)
            rep = report.build_report(index, doi)
            return render(
                request,
                "report.html",
                {"report": rep, "refs": refs, "tab": tab, "filters": filters, "sort": sort},
            )
        data = report.report_page(index, doi, filters, sort, page_number, page_size)
        if as_json:
            return JSONResponse(data)
        canonical = data["report"]["doi"]
        if canonical != doi:
            # One URL per paper: other spellings of the DOI redirect to the normalised one.
            target = paper_url(canonical)
            if request.url.query:
                target += "?" + request.url.query
            return RedirectResponse(target, status_code=301)
        return render(
            request,
            "report.html",
            {
                "report": data["report"],
                "result": data["statements"],
                "filters": filters,
                "sort": sort,
                "tab": tab,
            },
        )

    return app
