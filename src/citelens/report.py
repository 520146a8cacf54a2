"""Report queries: a store's statements about one paper turned into tallies, facets and pages.

The SQL edges read a store's read-only connection; the cores (facet tallies, ordering, highlight
segments, the plain-language summary) are pure functions of the rows they are given.
"""

from __future__ import annotations

import itertools
import json
import re
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, fields, replace
from typing import Any, Protocol

from citelens.errors import NotFound, QueryError
from citelens.identifiers import normalise_doi
from citelens.model import Label, SectionType

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
SORTS = ("relevance", "newest", "oldest")
LABELS = tuple(label.value for label in Label)
SECTIONS = tuple(section.value for section in SectionType)
UNCLASSIFIED = "unclassified"
UNKNOWN_TYPE = "unknown"
# Long facets (authors, journals) show their most frequent options; selected ones always show.
FACET_TOP = 25
MAX_QUERY_CHARS = 500
# FTS5 highlight() markers: C0 controls cannot occur in XML text, so they cannot occur in data.
_MARK_OPEN, _MARK_CLOSE = "\x02", "\x03"
_WORD = re.compile(r"\w+", re.UNICODE)
# Weights of text, before, after in ranking: the citing sentence matters most.
_BM25 = "bm25(statements_fts, 1.0, 0.35, 0.35)"


class ReadableStore(Protocol):
    def reader(self) -> AbstractContextManager[sqlite3.Connection]: ...


Source = ReadableStore | sqlite3.Connection


@contextmanager
def _reading(store: Source) -> Iterator[sqlite3.Connection]:
    """A read connection: the given one, or one from the store's reader() for this call."""
    if isinstance(store, sqlite3.Connection):
        yield store
        return
    reader = getattr(store, "reader", None)
    if reader is None:
        raise TypeError(f"expected a store with reader() or a sqlite3 connection, got {store!r}")
    with reader() as conn:
        yield conn


REPORT_INDEXES = (
    # Covers every column the tallies, facets and orderings read for one cited work, so that a
    # report over 10,000 statements reads one index range and never the table's text pages.
    "CREATE INDEX IF NOT EXISTS statements_report ON statements(cited_work_id, citing_work_id,"
    " paragraph, sentence, label, section_type, citing_year, citing_type, citing_journal,"
    " self_citation, confidence)",
    "CREATE INDEX IF NOT EXISTS refs_citing ON refs(citing_work_id, ord)",
)


def ensure_report_indexes(conn: sqlite3.Connection) -> None:
    """Create the indexes the report queries are designed for (idempotent; needs write access)."""
    for ddl in REPORT_INDEXES:
        conn.execute(ddl)
    conn.commit()


# ---------------------------------------------------------------------------------------------
# Filters


@dataclass(frozen=True, slots=True)
class StatementFilters:
    """What a reader narrowed the statements to; options inside one facet combine with OR."""

    type: tuple[str, ...] = ()
    section: tuple[str, ...] = ()
    year_from: int | None = None
    year_to: int | None = None
    publication_type: tuple[str, ...] = ()
    relationship: tuple[str, ...] = ()
    author: tuple[str, ...] = ()
    journal: tuple[str, ...] = ()
    q: str | None = None

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> StatementFilters:
        """Filters from query parameters: lists or single strings; empty values are ignored."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise QueryError(
                f"unknown filter {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        kwargs: dict[str, Any] = {}
        for name, value in values.items():
            if value is None or value == "" or value == []:
                continue
            if name in ("year_from", "year_to"):
                try:
                    kwargs[name] = int(value)
                except (TypeError, ValueError):
                    raise QueryError(f"{name} must be a year, got {value!r}") from None
            elif name == "q":
                kwargs[name] = str(value)
            else:
                items = [value] if isinstance(value, str) else list(value)
                kwargs[name] = tuple(str(v) for v in items if v not in (None, ""))
        return cls(**kwargs).checked()

    def checked(self) -> StatementFilters:
        for value in self.type:
            if value not in (*LABELS, UNCLASSIFIED):
                raise QueryError(f"type must be one of {', '.join(LABELS)}, got {value!r}")
        for value in self.section:
            if value not in SECTIONS:
                raise QueryError(f"section must be one of {', '.join(SECTIONS)}, got {value!r}")
        for value in self.relationship:
            if value not in ("self", "independent"):
                raise QueryError(f"relationship must be self or independent, got {value!r}")
        if self.q is not None and len(self.q) > MAX_QUERY_CHARS:
            raise QueryError(f"the search is longer than {MAX_QUERY_CHARS} characters")
        return self

    def active(self) -> bool:
        return any(getattr(self, f.name) not in (None, ()) for f in fields(self))


# ---------------------------------------------------------------------------------------------
# Pure cores


@dataclass(slots=True)
class FacetRow:
    """The columns of one statement that filters, facets and orderings read."""

    id: int
    citing_work_id: int
    label: str | None
    section_type: str
    year: int | None
    publication_type: str | None
    journal: str | None
    self_citation: bool
    confidence: float | None
    authors: tuple[str, ...] = field(default=())


def dedupe_rows(rows: Iterable[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Keep the first row per (citing work, paragraph, sentence, cited work).

    A sentence that cites one work through two entries of a reference list (a duplicated
    bibliography entry) is stored twice; a reader must see it once. Rows are
    (id, citing_work_id, paragraph, sentence, cited_work_id, ...) in id order.
    """
    seen: set[tuple[Any, ...]] = set()
    kept = []
    for row in rows:
        key = (row[1], row[2], row[3], row[4])
        if key not in seen:
            seen.add(key)
            kept.append(row)
    return kept


def _facet_values(row: FacetRow) -> dict[str, tuple[Any, ...]]:
    return {
        "type": (row.label or UNCLASSIFIED,),
        "section": (row.section_type,),
        "year": (row.year,),
        "publication_type": (row.publication_type or UNKNOWN_TYPE,),
        "relationship": ("self" if row.self_citation else "independent",),
        "author": row.authors,
        "journal": (row.journal,) if row.journal else (),
    }


FACETS = ("type", "section", "year", "publication_type", "relationship", "author", "journal")


def _failing(row: FacetRow, f: StatementFilters) -> list[str]:
    failing = []
    if f.type and (row.label or UNCLASSIFIED) not in f.type:
        failing.append("type")
    if f.section and row.section_type not in f.section:
        failing.append("section")
    if (f.year_from is not None or f.year_to is not None) and (
        row.year is None
        or (f.year_from is not None and row.year < f.year_from)
        or (f.year_to is not None and row.year > f.year_to)
    ):
        failing.append("year")
    if f.publication_type and (row.publication_type or UNKNOWN_TYPE) not in f.publication_type:
        failing.append("publication_type")
    if f.relationship and ("self" if row.self_citation else "independent") not in f.relationship:
        failing.append("relationship")
    if f.author and not any(a in f.author for a in row.authors):
        failing.append("author")
    if f.journal and row.journal not in f.journal:
        failing.append("journal")
    return failing


def filter_and_facet(
    rows: Sequence[FacetRow], filters: StatementFilters
) -> tuple[list[FacetRow], dict[str, list[dict[str, Any]]]]:
    """The rows that pass every filter, and for each facet its options' counts.

    An option's count is the number of statements that would be shown if that option were
    chosen: every other facet's filter applies, the facet's own does not (so choosing a second
    section adds to the first instead of emptying the list).
    """
    passing: list[FacetRow] = []
    counts: dict[str, Counter[Any]] = {name: Counter() for name in FACETS}
    for row in rows:
        failing = _failing(row, filters)
        if len(failing) > 1:
            continue
        values = _facet_values(row)
        if not failing:
            passing.append(row)
            for name in FACETS:
                counts[name].update(values[name])
        else:
            counts[failing[0]].update(values[failing[0]])
    return passing, _facet_options(counts, filters)


def _facet_options(
    counts: Mapping[str, Counter[Any]], f: StatementFilters
) -> dict[str, list[dict[str, Any]]]:
    def options(values: Iterable[Any], counter: Counter[Any], chosen: Sequence[Any]) -> list:
        return [{"value": v, "count": counter.get(v, 0), "selected": v in chosen} for v in values]

    def top(counter: Counter[Any], chosen: Sequence[Any]) -> list:
        ranked = [v for v, _ in sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0])))]
        shown = ranked[:FACET_TOP] + [v for v in chosen if v not in ranked[:FACET_TOP]]
        return options(shown, counter, chosen)

    type_values = list(LABELS) + ([UNCLASSIFIED] if counts["type"].get(UNCLASSIFIED) else [])
    years = sorted((y for y in counts["year"] if y is not None), reverse=True)
    in_range = [
        y
        for y in years
        if (f.year_from is None or y >= f.year_from) and (f.year_to is None or y <= f.year_to)
    ]
    return {
        "type": options(type_values, counts["type"], f.type),
        "section": options(SECTIONS, counts["section"], f.section),
        "year": options(years, counts["year"], in_range if f.year_from or f.year_to else ()),
        "publication_type": top(counts["publication_type"], f.publication_type),
        "relationship": options(("independent", "self"), counts["relationship"], f.relationship),
        "author": top(counts["author"], f.author),
        "journal": top(counts["journal"], f.journal),
    }


def order_rows(
    rows: Sequence[FacetRow], sort: str, scores: Mapping[int, float] | None = None
) -> list[FacetRow]:
    """Rows in display order.

    relevance with a search: best bm25 first. relevance without one: statements that take a
    position (supporting, contrasting) first, then mentioning, then unclassified; each by
    confidence, highest first. newest / oldest: by the citing paper's year (unknown years last).
    """
    if sort not in SORTS:
        raise QueryError(f"sort must be one of {', '.join(SORTS)}, got {sort!r}")
    if sort == "relevance" and scores is not None:
        return sorted(rows, key=lambda r: (scores.get(r.id, 0.0), r.id))
    if sort == "relevance":
        rank = {Label.SUPPORTING.value: 0, Label.CONTRASTING.value: 0, Label.MENTIONING.value: 1}
        return sorted(
            rows,
            key=lambda r: (
                rank.get(r.label or "", 2),
                -(r.confidence or 0.0),
                -(r.year or 0),
                r.id,
            ),
        )
    if sort == "newest":
        return sorted(rows, key=lambda r: (r.year is None, -(r.year or 0), -r.id))
    return sorted(rows, key=lambda r: (r.year is None, r.year or 0, r.id))


def fts_queries(q: str) -> list[str]:
    """The FTS5 queries to try for what a reader typed: as written, then each word quoted.

    FTS5 syntax ("quoted phrases", AND/OR/NOT, prefix*) works for those who know it; anything
    it rejects (an unbalanced quote, a bare operator) falls back to matching all its words.
    """
    text = q.strip()
    if not text:
        raise QueryError("the search is empty: type one or more words")
    words = _WORD.findall(text)
    if not words:
        raise QueryError(f"{q!r} has no words to search for: type one or more words")
    fallback = " ".join(f'"{w}"' for w in words)
    tried = [text]
    if fallback and fallback != text:
        tried.append(fallback)
    return tried


def split_marked(marked: str) -> tuple[str, list[tuple[int, int]]]:
    """Text without highlight markers, and the [start, end) spans the markers enclosed."""
    plain: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    start: int | None = None
    for ch in marked:
        if ch == _MARK_OPEN:
            start = pos
        elif ch == _MARK_CLOSE:
            if start is not None and pos > start:
                spans.append((start, pos))
            start = None
        else:
            plain.append(ch)
            pos += 1
    return "".join(plain), spans


def mark_segments(
    text: str, callouts: Iterable[Sequence[int]], matches: Iterable[Sequence[int]] = ()
) -> list[dict[str, Any]]:
    """Text cut into runs, each flagged callout and/or match, for a template to escape and wrap.

    Spans outside the text are dropped rather than trusted: markup is never built from data.
    """
    length = len(text)

    def valid(spans: Iterable[Sequence[int]]) -> list[tuple[int, int]]:
        return [(int(s), int(e)) for s, e in spans if 0 <= int(s) < int(e) <= length]

    callout_spans, match_spans = valid(callouts), valid(matches)
    cuts = sorted({0, length, *(p for span in callout_spans + match_spans for p in span)})
    segments = []
    for start, end in itertools.pairwise(cuts):
        segments.append(
            {
                "text": text[start:end],
                "callout": any(s <= start and end <= e for s, e in callout_spans),
                "match": any(s <= start and end <= e for s, e in match_spans),
            }
        )
    return segments


def summarise(report: Mapping[str, Any]) -> str:
    """Help me understand this report: the report's numbers said in plain language."""
    pubs, stmts = report["citing_publications"], report["statements"]
    title = report.get("title") or report["doi"]
    if not stmts:
        return f"No publication in this index cites “{title}” yet."
    parts = [
        f"{_count(pubs, 'publication')} in this index cite{'s' if pubs == 1 else ''} this paper "
        f"in {_count(stmts, 'citation statement')}."
    ]
    sections = report.get("sections", {})
    for label, verb in (("supporting", "support"), ("contrasting", "contrast")):
        n = report.get(label, 0)
        if not n:
            parts.append(f"None {verb} it.")
            continue
        where = max(sections, key=lambda s: sections[s].get(label, 0)) if sections else None
        share = sections[where][label] / n if where else 0
        place = f" (mostly in {where.capitalize()})" if where and share > 0.5 else ""
        parts.append(f"{_count(n, 'statement')} {verb}{'s' if n == 1 else ''} it{place}.")
    mentioning = report.get("mentioning", 0)
    parts.append(
        f"{_count(mentioning, 'statement')} mention{'s' if mentioning == 1 else ''} it "
        "without taking a position."
    )
    busiest = max(sections, key=lambda s: sections[s]["statements"]) if sections else None
    if busiest and sections[busiest]["statements"]:
        parts.append(
            f"It is cited most often in {busiest.capitalize()} sections "
            f"({sections[busiest]['statements']} of {stmts})."
        )
    unclassified = stmts - report.get("supporting", 0) - mentioning - report.get("contrasting", 0)
    if unclassified:
        parts.append(f"{_count(unclassified, 'statement')} could not be classified.")
    if report.get("contrasting", 0) == 0 and report.get("supporting", 0) == 0:
        parts.append("No citing paper reports evidence for or against it.")
    return " ".join(parts)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


# ---------------------------------------------------------------------------------------------
# SQL edges


def _json_list(text: str | None) -> list[Any]:
    if not text:
        return []
    try:
        value = json.loads(text)
    except ValueError:
        return []
    return value if isinstance(value, list) else []


def author_names(authors_json: str | None) -> tuple[str, ...]:
    """Display names ("Given Family") of a works.authors JSON list."""
    names = []
    for a in _json_list(authors_json):
        if isinstance(a, Mapping):
            name = " ".join(p for p in (a.get("given") or "", a.get("family") or "") if p).strip()
            if name:
                names.append(name)
        elif isinstance(a, str) and a.strip():
            names.append(a.strip())
    return tuple(names)


def _work_row(conn: sqlite3.Connection, doi: str) -> sqlite3.Row | tuple[Any, ...]:
    norm = normalise_doi(doi)
    if not norm:
        raise NotFound(f"{doi!r} is not a DOI: give one such as 10.7554/eLife.00013")
    row = conn.execute(
        "SELECT id, doi, title, year, journal, publication_type, authors, has_full_text, notices"
        " FROM works WHERE doi = ?",
        (norm,),
    ).fetchone()
    if row is None:
        raise NotFound(f"DOI {norm} is not in this index: ingest an article that cites it")
    return row


_FACET_SQL = (
    "SELECT s.id, s.citing_work_id, s.paragraph, s.sentence, s.cited_work_id, s.label,"
    " s.section_type, s.citing_year, s.citing_type, s.citing_journal, s.self_citation,"
    " s.confidence FROM statements s"
)


def _facet_rows(
    conn: sqlite3.Connection, raw: Iterable[tuple[Any, ...]], need_authors: bool = True
) -> list[FacetRow]:
    kept = dedupe_rows(raw)
    authors: dict[int, tuple[str, ...]] = {}
    if need_authors and kept:
        authors = _citing_authors(conn, {r[1] for r in kept})
    return [
        FacetRow(
            id=r[0],
            citing_work_id=r[1],
            label=r[5],
            section_type=r[6],
            year=r[7],
            publication_type=r[8],
            journal=r[9],
            self_citation=bool(r[10]),
            confidence=r[11],
            authors=authors.get(r[1], ()),
        )
        for r in kept
    ]


def _citing_authors(conn: sqlite3.Connection, ids: set[int]) -> dict[int, tuple[str, ...]]:
    out: dict[int, tuple[str, ...]] = {}
    wanted = sorted(ids)
    # 900 stays under SQLite's default limit on bound parameters.
    for chunk_start in range(0, len(wanted), 900):
        chunk = wanted[chunk_start : chunk_start + 900]
        marks = ",".join("?" * len(chunk))
        for wid, authors_json in conn.execute(
            f"SELECT id, authors FROM works WHERE id IN ({marks})", chunk
        ):
            out[wid] = author_names(authors_json)
    return out


def _run_fts(
    conn: sqlite3.Connection, q: str, sql: str, params: Sequence[Any]
) -> tuple[str, list[tuple[Any, ...]]]:
    """Run `sql` (whose first parameter is the MATCH query) with each candidate query in turn."""
    last: sqlite3.Error | None = None
    for candidate in fts_queries(q):
        try:
            return candidate, conn.execute(sql, (candidate, *params)).fetchall()
        except sqlite3.OperationalError as exc:
            last = exc
    raise QueryError(f"cannot search for {q!r}: {last}; try plain words")


def _tallies(rows: Sequence[FacetRow]) -> dict[str, Any]:
    labels = Counter(r.label for r in rows)
    sections: dict[str, dict[str, int]] = {
        s: {"statements": 0, **dict.fromkeys(LABELS, 0)} for s in SECTIONS
    }
    for r in rows:
        bucket = sections.setdefault(r.section_type, {"statements": 0, **dict.fromkeys(LABELS, 0)})
        bucket["statements"] += 1
        if r.label in LABELS:
            bucket[r.label] += 1
    return {
        "citing_publications": len({r.citing_work_id for r in rows}),
        "statements": len(rows),
        **{label: labels.get(label, 0) for label in LABELS},
        "sections": sections,
    }


def _work_meta(row: Sequence[Any]) -> dict[str, Any]:
    return {
        "doi": row[1],
        "title": row[2],
        "year": row[3],
        "journal": row[4],
        "publication_type": row[5],
        "authors": list(author_names(row[6])),
        "notices": _json_list(row[8]),
    }


def _paper_rows(conn: sqlite3.Connection, work_id: int) -> list[FacetRow]:
    return _facet_rows(
        conn, conn.execute(_FACET_SQL + " WHERE s.cited_work_id = ? ORDER BY s.id", (work_id,))
    )


def _report_of(
    conn: sqlite3.Connection, work: Sequence[Any], rows: Sequence[FacetRow]
) -> dict[str, Any]:
    _, facets = filter_and_facet(rows, StatementFilters())
    report = {**_work_meta(work), **_tallies(rows)}
    report["has_full_text"] = bool(work[7])
    report["references"] = (
        conn.execute("SELECT count(*) FROM refs WHERE citing_work_id = ?", (work[0],)).fetchone()[0]
        if work[7]
        else None
    )
    report["facets"] = facets
    report["summary"] = summarise(report)
    return report


def build_report(store: Source, doi: str) -> dict[str, Any]:
    """The report of one cited paper: its metadata, tallies, tallies per section and facets."""
    with _reading(store) as conn:
        work = _work_row(conn, doi)
        return _report_of(conn, work, _paper_rows(conn, work[0]))


def _check_page(page: int, page_size: int) -> None:
    if page < 1:
        raise QueryError(f"page must be 1 or more, got {page}")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise QueryError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size}")


def _as_filters(filters: StatementFilters | Mapping[str, Any] | None) -> StatementFilters:
    if filters is None:
        return StatementFilters()
    if isinstance(filters, StatementFilters):
        return filters.checked()
    return StatementFilters.from_mapping(filters)


def _page_of(
    conn: sqlite3.Connection,
    rows: Sequence[FacetRow],
    f: StatementFilters,
    sort: str,
    page: int,
    page_size: int,
    scores: Mapping[int, float] | None,
    fts_query: str | None,
) -> dict[str, Any]:
    passing, facets = filter_and_facet(rows, f)
    ordered = order_rows(passing, sort, scores)
    chosen = [r.id for r in ordered[(page - 1) * page_size : page * page_size]]
    total = len(passing)
    return {
        "total": total,
        "page": page,
        "page_size": page_size,
        "pages": max(1, -(-total // page_size)),
        "sort": sort,
        "query": f.q,
        "fts_query": fts_query,
        "items": _items(conn, chosen, fts_query),
        "facets": facets,
    }


def _statements_of(
    conn: sqlite3.Connection,
    work: Sequence[Any],
    rows: Sequence[FacetRow],
    f: StatementFilters,
    sort: str,
    page: int,
    page_size: int,
) -> dict[str, Any]:
    scores: dict[int, float] | None = None
    fts_query = None
    if f.q is not None:
        # The search ranks within the paper's statements: the FTS matches are joined to them.
        fts_query, hits = _run_fts(
            conn,
            f.q,
            f"SELECT s.id, {_BM25} FROM statements_fts JOIN statements s"
            " ON s.id = statements_fts.rowid WHERE statements_fts MATCH ? AND s.cited_work_id = ?",
            (work[0],),
        )
        scores = {h[0]: h[1] for h in hits}
        rows = [r for r in rows if r.id in scores]
    result = _page_of(conn, rows, f, sort, page, page_size, scores, fts_query)
    result["doi"] = work[1]
    return result


def _checked_request(
    filters: StatementFilters | Mapping[str, Any] | None, sort: str, page: int, page_size: int
) -> StatementFilters:
    _check_page(page, page_size)
    if sort not in SORTS:
        raise QueryError(f"sort must be one of {', '.join(SORTS)}, got {sort!r}")
    return _as_filters(filters)


def list_statements(
    store: Source,
    doi: str,
    filters: StatementFilters | Mapping[str, Any] | None = None,
    sort: str = "relevance",
    page: int = 1,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> dict[str, Any]:
    """One page of the statements about a paper: {total, page, items, facets, ...}."""
    f = _checked_request(filters, sort, page, page_size)
    with _reading(store) as conn:
        work = _work_row(conn, doi)
        return _statements_of(conn, work, _paper_rows(conn, work[0]), f, sort, page, page_size)


def report_page(
    store: Source,
    doi: str,
    filters: StatementFilters | Mapping[str, Any] | None = None,
    sort: str = "relevance",
    page: int = 1,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> dict[str, Any]:
    """The report and one page of its statements from a single read: what the web page shows."""
    f = _checked_request(filters, sort, page, page_size)
    with _reading(store) as conn:
        work = _work_row(conn, doi)
        rows = _paper_rows(conn, work[0])
        return {
            "report": _report_of(conn, work, rows),
            "statements": _statements_of(conn, work, rows, f, sort, page, page_size),
        }


def search_statements(
    store: Source,
    q: str,
    filters: StatementFilters | Mapping[str, Any] | None = None,
    sort: str = "relevance",
    page: int = 1,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> dict[str, Any]:
    """Statements across the whole index that match a full-text search, with the same facets."""
    f = replace(_checked_request(filters, sort, page, page_size), q=q).checked()
    with _reading(store) as conn:
        fts_query, hits = _run_fts(
            conn,
            q,
            f"SELECT s.id, s.citing_work_id, s.paragraph, s.sentence, s.cited_work_id, s.label,"
            f" s.section_type, s.citing_year, s.citing_type, s.citing_journal, s.self_citation,"
            f" s.confidence, {_BM25} FROM statements_fts JOIN statements s"
            f" ON s.id = statements_fts.rowid WHERE statements_fts MATCH ? ORDER BY s.id",
            (),
        )
        scores = {h[0]: h[12] for h in hits}
        rows = _facet_rows(conn, hits)
        return _page_of(conn, rows, f, sort, page, page_size, scores, fts_query)


_ITEM_SQL = (
    "SELECT s.id, s.ref_id, s.section_title, s.section_type, s.text, s.before, s.after,"
    " s.callouts, s.other_callouts, s.label, s.confidence, s.model_version, s.self_citation,"
    " s.paragraph, s.sentence,"
    " w.doi, w.title, w.year, w.journal, w.publication_type, w.authors,"
    " cw.doi, cw.title, cw.year, w.key, cw.key, r.match_method"
    " FROM statements s JOIN works w ON w.id = s.citing_work_id"
    " LEFT JOIN refs r ON r.id = s.ref_row_id"
    " LEFT JOIN works cw ON cw.id = s.cited_work_id WHERE s.id IN ({marks})"
)


def _items(
    conn: sqlite3.Connection, ids: Sequence[int], fts_query: str | None
) -> list[dict[str, Any]]:
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    by_id = {row[0]: row for row in conn.execute(_ITEM_SQL.format(marks=marks), list(ids))}
    matches: dict[int, tuple[str, str, str]] = {}
    if fts_query:
        for rowid, *marked in conn.execute(
            "SELECT rowid,"
            + ",".join(f"highlight(statements_fts, {col}, char(2), char(3))" for col in range(3))
            + f" FROM statements_fts WHERE statements_fts MATCH ? AND rowid IN ({marks})",
            (fts_query, *ids),
        ):
            matches[rowid] = tuple(marked)  # type: ignore[assignment]
    return [_item(by_id[i], matches.get(i)) for i in ids if i in by_id]


def _item(row: Sequence[Any], marked: Sequence[str] | None) -> dict[str, Any]:
    text, before, after = row[4], row[5], row[6]
    callouts = _json_list(row[7])
    highlights: dict[str, list[tuple[int, int]]] = {"text": [], "before": [], "after": []}
    if marked:
        for name, original, value in zip(
            ("text", "before", "after"), (text, before, after), marked, strict=True
        ):
            plain, spans = split_marked(value or "")
            # Offsets are only trusted when the marked text is the stored text, unmarked.
            if plain == (original or ""):
                highlights[name] = spans
    return {
        # The export's fields first (store.export_statements), then the citing paper's record.
        "statement_id": row[0],
        "citing_doi": row[15],
        "citing_key": row[24],
        "cited_doi": row[21],
        "cited_key": row[25],
        "cited_title": row[22],
        "match_method": row[26],
        "id": row[0],
        "ref_id": row[1],
        "section_title": row[2],
        "section_type": row[3],
        "text": text,
        "before": before,
        "after": after,
        "callouts": callouts,
        "other_callouts": _json_list(row[8]),
        "label": row[9],
        "confidence": row[10],
        "model_version": row[11],
        "self_citation": bool(row[12]),
        "paragraph": row[13],
        "sentence": row[14],
        "citing": {
            "doi": row[15],
            "title": row[16],
            "year": row[17],
            "journal": row[18],
            "publication_type": row[19],
            "authors": list(author_names(row[20])),
        },
        "cited": {"doi": row[21], "title": row[22], "year": row[23]},
        "highlights": highlights,
    }


def _statement_count(conn: sqlite3.Connection, cited_work_id: int) -> int:
    """Statements about a work, each sentence once (as dedupe_rows counts them)."""
    return conn.execute(
        "SELECT count(*) FROM (SELECT DISTINCT citing_work_id, paragraph, sentence"
        " FROM statements WHERE cited_work_id = ?)",
        (cited_work_id,),
    ).fetchone()[0]


def references_of(store: Source, doi: str) -> dict[str, Any]:
    """The paper's own reference list, each with what the paper says of it and its index tally."""
    with _reading(store) as conn:
        work = _work_row(conn, doi)
        refs = conn.execute(
            "SELECT r.id, r.ref_id, r.ord, r.label, r.raw, r.title, r.year, r.doi, r.source,"
            " r.cited_work_id, cw.doi, cw.title, cw.year, cw.journal"
            " FROM refs r LEFT JOIN works cw ON cw.id = r.cited_work_id"
            " WHERE r.citing_work_id = ? ORDER BY r.ord",
            (work[0],),
        ).fetchall()
        here: dict[int, Counter[str]] = {}
        for ref_row_id, label, n in conn.execute(
            "SELECT ref_row_id, label, count(*) FROM statements WHERE citing_work_id = ?"
            " GROUP BY ref_row_id, label",
            (work[0],),
        ):
            here.setdefault(ref_row_id, Counter())[label or UNCLASSIFIED] += n
        index_wide: dict[int, int] = {}
        for cited in {r[9] for r in refs if r[9] is not None}:
            index_wide[cited] = _statement_count(conn, cited)
        items = []
        for r in refs:
            tally = here.get(r[0], Counter())
            items.append(
                {
                    "ref_id": r[1],
                    "order": r[2],
                    "label": r[3],
                    "raw": r[4],
                    "title": r[11] or r[5],
                    "year": r[12] or r[6],
                    "journal": r[13] or r[8],
                    "doi": r[10] or r[7],
                    "statements": sum(tally.values()),
                    **{label: tally.get(label, 0) for label in LABELS},
                    "cited_by_statements": index_wide.get(r[9], 0) if r[9] is not None else 0,
                }
            )
        return {
            "doi": work[1],
            "title": work[2],
            "has_full_text": bool(work[7]),
            "references": len(items),
            "items": items,
        }


def find_works(store: Source, query: str, limit: int = 20) -> list[dict[str, Any]]:
    """Works matching a DOI or all of the given title words, most cited first."""
    text = (query or "").strip()
    if not text:
        raise QueryError("give a DOI or some words of a title")
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise QueryError(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}")
    with _reading(store) as conn:
        cols = "id, doi, title, year, journal, publication_type, authors, has_full_text, notices"
        doi = normalise_doi(text)
        candidates: list[Sequence[Any]] = []
        if doi:
            candidates = conn.execute(f"SELECT {cols} FROM works WHERE doi = ?", (doi,)).fetchall()
        if not candidates:
            words = _WORD.findall(text)
            if not words:
                raise QueryError(f"{query!r} has no words to look up")
            # LIKE wildcards inside a word are escaped: the reader's words are matched literally.
            where = " AND ".join("title LIKE ? ESCAPE '\\'" for _ in words)
            params = ["%" + re.sub(r"([%_\\])", r"\\\1", w) + "%" for w in words]
            candidates = conn.execute(
                f"SELECT {cols} FROM works WHERE {where} LIMIT 500", params
            ).fetchall()
        found = []
        for row in candidates:
            n = _statement_count(conn, row[0])
            found.append({**_work_meta(row), "statements": n, "has_full_text": bool(row[7])})
        found.sort(key=lambda w: (-w["statements"], -(w["year"] or 0), w["title"] or ""))
        return found[:limit]


def index_counts(store: Source) -> dict[str, int]:
    """How much the index holds: articles read in full, works known, references, statements."""
    with _reading(store) as conn:
        one: Callable[[str], int] = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "articles": one("SELECT count(*) FROM works WHERE has_full_text = 1"),
            "works": one("SELECT count(*) FROM works"),
            "references": one("SELECT count(*) FROM refs"),
            "statements": one("SELECT count(*) FROM statements"),
        }
