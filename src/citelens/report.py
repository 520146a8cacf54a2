"""Report queries: a store's statements about one paper turned into tallies, facets and pages.

The SQL edges read a store's read-only connection: a paper's first view from the tallies the
store keeps (store/report_counts.py), filters and searches from its statements as numpy columns.
The cores (facet options, filtering, ordering, highlight segments, the summary) are pure.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import sqlite3
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, fields, replace
from typing import Any, Protocol, TypeVar

import numpy as np

from citelens.errors import NotFound, QueryError
from citelens.identifiers import normalise_doi
from citelens.model import Label, SectionType

T = TypeVar("T")
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


# ---------------------------------------------------------------------------------------------
# Pure cores


@dataclass(frozen=True, slots=True)
class StatementTable:
    """The columns of a set of statements that filters, facets and orderings read.

    Columns are numpy arrays, one entry per statement, with strings coded as indexes into
    vocabularies, so that a 10,000-statement report is filtered and tallied in C loops.
    Authors are pairs (work index, author index): a citing work has several.
    """

    ids: np.ndarray  # statement ids
    work: np.ndarray  # index into work_ids
    work_ids: np.ndarray  # citing work id of each work index
    label: np.ndarray  # index into LABEL_VALUES
    section: np.ndarray  # index into sections
    sections: tuple[str, ...]
    year: np.ndarray  # citing year; 0 when unknown
    ptype: np.ndarray  # index into ptypes
    ptypes: tuple[str, ...]
    journal: np.ndarray  # index into journals; -1 when unknown
    journals: tuple[str, ...]
    self_citation: np.ndarray  # bool
    confidence: np.ndarray  # float; -1 when unclassified
    author_work: np.ndarray  # work index of each (work, author) pair
    author: np.ndarray  # author index of each pair
    authors: Sequence[str]  # author names by code

    def __len__(self) -> int:
        return len(self.ids)


LABEL_VALUES = (*LABELS, UNCLASSIFIED)
# relevance without a search: supporting and contrasting first, then mentioning, unclassified.
_POSITION_RANK = np.array([0, 1, 0, 2])
assert LABEL_VALUES == ("supporting", "mentioning", "contrasting", UNCLASSIFIED)


def dedupe_rows(rows: Iterable[Sequence[Any]]) -> list[Sequence[Any]]:
    """Keep the first row per (citing work, paragraph, sentence, cited work).

    A sentence that cites one work through two entries of a reference list (a duplicated
    bibliography entry) is stored twice; a reader must see it once. Rows are
    (id, citing_work_id, paragraph, sentence, cited_work_id, ...).
    """
    seen: set[tuple[Any, ...]] = set()
    kept = []
    for row in rows:
        key = (row[1], row[2], row[3], row[4])
        if key not in seen:
            seen.add(key)
            kept.append(row)
    return kept


def _codes(
    values: Sequence[Any], vocab: dict[Any, int], unknown: Any = None, missing: int = -1
) -> np.ndarray:
    """Each value's code in `vocab`, which grows by the values it lacks; a falsy value counts
    as `unknown`, or codes as `missing` when `unknown` is None."""
    coded: dict[Any, int] = {}
    for value in dict.fromkeys(values):
        key = value or unknown
        coded[value] = missing if key is None else vocab.setdefault(key, len(vocab))
    # map() over a dict's lookup runs in C: a Python loop per row costs more than the read.
    return np.fromiter(map(coded.__getitem__, values), np.int32, len(values))


def _numbers(values: Sequence[Any], dtype: Any, missing: float) -> np.ndarray:
    """A column of numbers in which NULL (None) becomes `missing`."""
    column = np.array(values, dtype=np.float64)
    column[np.isnan(column)] = missing
    return column.astype(dtype)


_NO_AUTHORS = np.zeros(0, dtype=np.int32)


def build_table(
    rows: Sequence[Sequence[Any]],
    author_pairs: tuple[np.ndarray, np.ndarray],
    author_names: Sequence[str],
) -> StatementTable:
    """A StatementTable of deduplicated rows (as _FACET_SQL selects them).

    `author_pairs` are (citing work id, author code) arrays, one entry per author of a citing
    work, with codes indexing `author_names`.
    """
    cols = list(zip(*rows, strict=True)) if rows else [()] * 12
    if len(set(zip(*cols[1:5], strict=True))) < len(rows):
        # A sentence stored twice (a duplicated entry in an older index) is shown once.
        rows = dedupe_rows(rows)
        cols = list(zip(*rows, strict=True))
    work_vocab: dict[int, int] = {}
    work = _codes(cols[1], work_vocab)
    label = _codes(cols[5], {v: i for i, v in enumerate(LABEL_VALUES)}, UNCLASSIFIED).astype(
        np.int8
    )
    # Anything that is not a known label (a stray value) counts as unclassified.
    label[label >= len(LABEL_VALUES)] = LABEL_VALUES.index(UNCLASSIFIED)
    section_vocab = {v: i for i, v in enumerate(SECTIONS)}
    section = _codes(cols[6], section_vocab, SectionType.OTHER.value)
    ptype_vocab: dict[str, int] = {}
    ptype = _codes(cols[8], ptype_vocab, UNKNOWN_TYPE)
    journal_vocab: dict[str, int] = {}
    journal = _codes(cols[9], journal_vocab)
    work_ids = np.fromiter(work_vocab, np.int64, len(work_vocab))
    pair_work, pair_author = author_pairs
    # Each pair's work index in this table (pairs of works the table lacks are dropped).
    author_work, author = _NO_AUTHORS, _NO_AUTHORS
    if len(work_ids) and len(pair_work):
        order = np.argsort(work_ids)
        at = np.searchsorted(work_ids, pair_work, sorter=order).clip(max=len(work_ids) - 1)
        found = work_ids[order[at]] == pair_work
        author_work = order[at[found]].astype(np.int32)
        author = np.asarray(pair_author, dtype=np.int32)[found]
    return StatementTable(
        ids=np.array(cols[0], dtype=np.int64),
        work=work,
        work_ids=work_ids,
        label=label,
        section=section,
        sections=tuple(section_vocab),
        year=_numbers(cols[7], np.int32, 0),
        ptype=ptype,
        ptypes=tuple(ptype_vocab),
        journal=journal,
        journals=tuple(journal_vocab),
        self_citation=np.array(cols[10], dtype=bool),
        confidence=_numbers(cols[11], np.float64, -1.0),
        author_work=author_work,
        author=author,
        authors=author_names,
    )


def _positions(vocab: Sequence[str], values: Iterable[str]) -> list[int]:
    """The index of each value in vocab; -1 for those it lacks."""
    out = []
    for value in values:
        try:
            out.append(vocab.index(value))
        except ValueError:
            out.append(-1)
    return out


def _filter_masks(t: StatementTable, f: StatementFilters) -> dict[str, np.ndarray]:
    """One boolean mask per active filter (options inside a facet combine with OR)."""
    masks: dict[str, np.ndarray] = {}

    def among(codes: np.ndarray, vocab: Sequence[str], chosen: Sequence[str]) -> np.ndarray:
        return np.isin(codes, [i for i in _positions(vocab, chosen) if i >= 0])

    if f.type:
        masks["type"] = among(t.label, LABEL_VALUES, f.type)
    if f.section:
        masks["section"] = among(t.section, t.sections, f.section)
    if f.year_from is not None or f.year_to is not None:
        mask = t.year > 0
        if f.year_from is not None:
            mask &= t.year >= f.year_from
        if f.year_to is not None:
            mask &= t.year <= f.year_to
        masks["year"] = mask
    if f.publication_type:
        masks["publication_type"] = among(t.ptype, t.ptypes, f.publication_type)
    if f.relationship and set(f.relationship) != {"self", "independent"}:
        masks["relationship"] = t.self_citation if "self" in f.relationship else ~t.self_citation
    if f.author:
        has = np.zeros(len(t.work_ids), dtype=bool)
        has[t.author_work[among(t.author, t.authors, f.author)]] = True
        masks["author"] = has[t.work]
    if f.journal:
        masks["journal"] = among(t.journal, t.journals, f.journal)
    return masks


def filter_and_facet(
    t: StatementTable, f: StatementFilters, within: np.ndarray | None = None
) -> tuple[np.ndarray, dict[str, list[dict[str, Any]]]]:
    """Positions of the statements that pass every filter, and each facet's option counts.

    An option's count is the number of statements that would be shown if that option were
    chosen: every other facet's filter applies, the facet's own does not (so choosing a second
    section adds to the first instead of emptying the list). `within` (a search's matches)
    narrows every count.
    """
    masks = _filter_masks(t, f)
    base = np.ones(len(t), dtype=bool) if within is None else within

    def without(name: str | None) -> np.ndarray:
        mask = base.copy()
        for other, m in masks.items():
            if other != name:
                mask &= m
        return mask

    every = without(None)

    def count(name: str, codes: np.ndarray, size: int) -> np.ndarray:
        mask = every if name not in masks else without(name)
        return np.bincount(codes[mask], minlength=size)

    type_counts = count("type", t.label, len(LABEL_VALUES))
    section_counts = count("section", t.section, len(t.sections))
    year_mask = every if "year" not in masks else without("year")
    years, year_counts = np.unique(t.year[year_mask & (t.year > 0)], return_counts=True)
    ptype_counts = count("publication_type", t.ptype, len(t.ptypes))
    rel_mask = every if "relationship" not in masks else without("relationship")
    self_n = int(np.count_nonzero(t.self_citation & rel_mask))
    journal_mask = every if "journal" not in masks else without("journal")
    journal_counts = np.bincount(
        t.journal[journal_mask & (t.journal >= 0)], minlength=len(t.journals)
    )
    author_mask = every if "author" not in masks else without("author")
    per_work = np.bincount(t.work[author_mask], minlength=len(t.work_ids))
    author_counts = np.bincount(
        t.author, weights=per_work[t.author_work], minlength=len(t.authors)
    ).astype(np.int64)

    facets = facet_options(
        f,
        types=dict(zip(LABEL_VALUES, type_counts.tolist(), strict=True)),
        sections=dict(zip(SECTIONS, section_counts[: len(SECTIONS)].tolist(), strict=True)),
        years=dict(zip(years.tolist(), year_counts.tolist(), strict=True)),
        year_selected="year" in masks,
        ptypes=_top_candidates(t.ptypes, ptype_counts, f.publication_type),
        self_citations=(int(np.count_nonzero(rel_mask)) - self_n, self_n),
        authors=_top_candidates(t.authors, author_counts, f.author),
        journals=_top_candidates(t.journals, journal_counts, f.journal),
    )
    return np.flatnonzero(every), facets


def _top_candidates(
    vocab: Sequence[str], counts: np.ndarray, chosen: Sequence[str]
) -> dict[str, int]:
    """The options that can reach a long facet's top (every count at least its FACET_TOP-th
    largest, ties included) and the chosen ones: a few dozen, not thousands of names."""
    positive = counts[counts > 0]
    floor = 1
    if len(positive) > FACET_TOP:
        floor = int(np.partition(positive, len(positive) - FACET_TOP)[len(positive) - FACET_TOP])
    out = {vocab[i]: int(counts[i]) for i in np.flatnonzero(counts >= floor).tolist()}
    for value, i in zip(chosen, _positions(vocab, chosen), strict=True):
        out.setdefault(value, int(counts[i]) if 0 <= i < len(counts) else 0)
    return out


def facet_options(
    f: StatementFilters,
    *,
    types: Mapping[str, int],
    sections: Mapping[str, int],
    years: Mapping[int, int],
    year_selected: bool,
    ptypes: Mapping[str, int],
    self_citations: tuple[int, int],
    authors: Mapping[str, int],
    journals: Mapping[str, int],
) -> dict[str, list[dict[str, Any]]]:
    """Each facet's options with counts, as the page lists them, from per-option counts.

    Long facets (publication type, author, journal) show their FACET_TOP largest counts (ties
    by name) and whatever the reader chose; years run newest first.
    """

    def options(counts: Mapping[Any, int], chosen: Iterable[Any]) -> list[dict[str, Any]]:
        picked = set(chosen)
        return [{"value": v, "count": int(c), "selected": v in picked} for v, c in counts.items()]

    def top(counts: Mapping[str, int], chosen: Sequence[str]) -> list[dict[str, Any]]:
        ranked = sorted((v for v, c in counts.items() if c > 0), key=lambda v: (-counts[v], v))
        shown = ranked[:FACET_TOP]
        extra = [v for v in chosen if v not in shown]
        return [
            {"value": v, "count": int(counts[v]), "selected": v in chosen} for v in shown
        ] + [{"value": v, "count": int(counts.get(v, 0)), "selected": True} for v in extra]

    shown_types = {v: types.get(v, 0) for v in LABELS}
    if types.get(UNCLASSIFIED):
        shown_types[UNCLASSIFIED] = types[UNCLASSIFIED]
    newest_first = {y: years[y] for y in sorted((y for y in years if y > 0), reverse=True)}
    in_range = [
        y
        for y in newest_first
        if (f.year_from is None or y >= f.year_from) and (f.year_to is None or y <= f.year_to)
    ]
    return {
        "type": options(shown_types, f.type),
        "section": options({v: sections.get(v, 0) for v in SECTIONS}, f.section),
        "year": options(newest_first, in_range if year_selected else ()),
        "publication_type": top(ptypes, f.publication_type),
        "relationship": options(
            {"independent": self_citations[0], "self": self_citations[1]}, f.relationship
        ),
        "author": top(authors, f.author),
        "journal": top(journals, f.journal),
    }


def order_positions(
    t: StatementTable, positions: np.ndarray, sort: str, scores: np.ndarray | None = None
) -> np.ndarray:
    """Positions in display order.

    relevance with a search: best bm25 first. relevance without one: statements that take a
    position (supporting, contrasting) first, then mentioning, then unclassified; each by
    confidence, highest first. newest / oldest: by the citing paper's year (unknown years last).
    """
    if sort not in SORTS:
        raise QueryError(f"sort must be one of {', '.join(SORTS)}, got {sort!r}")
    ids, year = t.ids[positions], t.year[positions]
    if sort == "relevance" and scores is not None:
        keys: tuple[np.ndarray, ...] = (ids, scores[positions])
    elif sort == "relevance":
        keys = (ids, -year, -t.confidence[positions], _POSITION_RANK[t.label[positions]])
    elif sort == "newest":
        keys = (-ids, -year, year == 0)
    else:
        keys = (ids, year, year == 0)
    # lexsort sorts by the last key first.
    return positions[np.lexsort(keys)]


def tally(t: StatementTable) -> dict[str, Any]:
    """Citing publications, statements per label, and per section and label."""
    labels = np.bincount(t.label, minlength=len(LABEL_VALUES))
    width = len(LABEL_VALUES)
    grid = np.bincount(
        t.section.astype(np.int64) * width + t.label, minlength=len(t.sections) * width
    ).reshape(len(t.sections), width)
    sections = {
        name: {
            "statements": int(grid[i].sum()),
            **{label: int(grid[i][j]) for j, label in enumerate(LABELS)},
        }
        for i, name in enumerate(t.sections)
    }
    return {
        "citing_publications": len(np.unique(t.work)),
        "statements": len(t),
        **{label: int(labels[j]) for j, label in enumerate(LABELS)},
        "sections": sections,
    }


def counted_report(
    counts: Mapping[str, Mapping[Any, int]], citing_publications: int
) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """A paper's tally and unfiltered facets from its stored tallies (store/report_counts.py).

    `counts` maps each counted facet (section, year, publication_type, self, journal, author)
    to {value: statements}; section values are "section/label", authors are names here, and
    journal and author hold at least every option that can reach the top.
    """
    grid: dict[str, Counter[str]] = {name: Counter() for name in SECTIONS}
    for key, n in counts.get("section", {}).items():
        section, _, label = str(key).rpartition("/")
        grid.setdefault(section, Counter())[label] += n
    labels: Counter[str] = Counter()
    for by_label in grid.values():
        labels.update(by_label)
    self_n = counts.get("self", {}).get(1, 0)
    total = sum(labels.values())
    report = {
        "citing_publications": citing_publications,
        "statements": total,
        **{label: labels.get(label, 0) for label in LABELS},
        "sections": {
            name: {
                "statements": sum(by_label.values()),
                **{label: by_label.get(label, 0) for label in LABELS},
            }
            for name, by_label in grid.items()
        },
    }
    facets = facet_options(
        StatementFilters(),
        types=labels,
        sections={name: sum(by_label.values()) for name, by_label in grid.items()},
        years={int(y): n for y, n in counts.get("year", {}).items()},
        year_selected=False,
        ptypes=counts.get("publication_type", {}),
        self_citations=(total - self_n, self_n),
        authors=counts.get("author", {}),
        journals={j: n for j, n in counts.get("journal", {}).items() if j},
    )
    return report, facets


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
        parts.append("No statement was classified as evidence for or against it.")
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
        if isinstance(a, dict):
            given, family = a.get("given") or "", a.get("family") or ""
            name = f"{given} {family}" if given and family else given or family
        else:
            name = a if isinstance(a, str) else ""
        name = name.strip()
        if name:
            names.append(name)
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


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    """Whether the index has schema step 2's tables (an older file opened read-only has not)."""
    found = conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone()
    return found is not None


def _citing_authors(
    conn: sqlite3.Connection, ids: Iterable[int]
) -> tuple[tuple[np.ndarray, np.ndarray], list[str]]:
    """(citing work id, author code) pairs of these works, each name once per work, and the
    names the codes index."""
    wanted = json.dumps(sorted(set(ids)))
    if not _has_table(conn, "work_authors"):
        # An index without the report tallies, opened read-only: read the JSON.
        vocab: dict[str, int] = {}
        works: list[int] = []
        codes: list[int] = []
        for wid, authors_json in conn.execute(
            "SELECT id, authors FROM works WHERE id IN (SELECT value FROM json_each(?))",
            (wanted,),
        ):
            names = dict.fromkeys(author_names(authors_json))
            works += [wid] * len(names)
            codes += [vocab.setdefault(name, len(vocab)) for name in names]
        return (np.array(works, np.int64), np.array(codes, np.int32)), list(vocab)
    # The ids travel as one JSON array (no limit on bound parameters), and the pairs come back
    # as two lists of numbers in one row: 50,000 pairs as Python tuples cost twice the query.
    works_text, names_text = conn.execute(
        "SELECT group_concat(work_id), group_concat(name_id) FROM work_authors"
        " WHERE work_id IN (SELECT value FROM json_each(?))",
        (wanted,),
    ).fetchone()
    works_of = np.fromstring(works_text or "", dtype=np.int64, sep=",")
    name_ids, codes_of = np.unique(
        np.fromstring(names_text or "", dtype=np.int64, sep=","), return_inverse=True
    )
    names = dict(
        conn.execute(
            "SELECT id, name FROM author_names WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(name_ids.tolist()),),
        ).fetchall()
    )
    return (works_of, codes_of.astype(np.int32)), [names[i] for i in name_ids.tolist()]


def _table_of(conn: sqlite3.Connection, rows: Sequence[Sequence[Any]]) -> StatementTable:
    authors, names = _citing_authors(conn, (r[1] for r in rows))
    return build_table(rows, authors, names)


def _index_state(conn: sqlite3.Connection) -> tuple[Any, ...] | None:
    """What changes whenever a writer commits to the index file; None for an in-memory one.

    Every commit grows or rewrites the -wal file (or the database file when not in WAL
    mode), so their sizes and modification times, with the newest statement id, change.
    """
    path = conn.execute("PRAGMA database_list").fetchone()[2]
    if not path:
        return None
    state: list[Any] = [path]
    for name in (path, path + "-wal"):
        try:
            st = os.stat(name)
            state += [st.st_mtime_ns, st.st_size]
        except FileNotFoundError:
            state += [0, 0]
    state.append(conn.execute("SELECT max(id) FROM statements").fetchone()[0])
    return tuple(state)


# What a paper's cached table depends on, read from the covering index in one pass: which
# rows cite it (count, ids) and what may be updated in place (label, confidence,
# self-citation by resolve or a classifier run). Weighting by id makes swaps between rows
# visible; re-ingesting a citing article replaces its rows, so new ids show that too.
_FINGERPRINT_SQL = (
    "SELECT count(*), min(id), max(id), total(id * coalesce(confidence, -1)),"
    " total(id * CASE label WHEN 'supporting' THEN 1 WHEN 'mentioning' THEN 2"
    " WHEN 'contrasting' THEN 3 ELSE 0 END), total(id * self_citation)"
    " FROM statements WHERE cited_work_id = ?"
)


@dataclass(slots=True)
class _CachedTable:
    state: tuple[Any, ...]
    fingerprint: tuple[Any, ...]
    table: StatementTable


class _TableCache:
    """The StatementTables of recently viewed papers, kept while their statements are unchanged.

    Reading and coding a paper's 10,000 statement rows and its citing authors costs far more
    than filtering and tallying them; a paper's report pages and API calls share one table.
    While the index file is unchanged a table is used as is; after any commit, the paper's
    fingerprint decides, so ingesting other articles does not drop it.
    """

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._tables: OrderedDict[tuple[str, int], _CachedTable] = OrderedDict()

    def get(
        self, conn: sqlite3.Connection, work_id: int, build: Callable[[], StatementTable]
    ) -> StatementTable:
        # State and fingerprint are read before the rows: a commit in between only makes the
        # next call read them again.
        state = _index_state(conn)
        if state is None:
            return build()
        key = (state[0], work_id)
        with self._lock:
            cached = self._tables.get(key)
        if cached is not None and cached.state == state:
            return cached.table
        fingerprint = tuple(conn.execute(_FINGERPRINT_SQL, (work_id,)).fetchone())
        if cached is not None and cached.fingerprint == fingerprint:
            cached.state = state
            return cached.table
        entry = _CachedTable(state, fingerprint, build())
        with self._lock:
            self._tables[key] = entry
            self._tables.move_to_end(key)
            while len(self._tables) > self._size:
                self._tables.popitem(last=False)
        return entry.table

    def clear(self) -> None:
        with self._lock:
            self._tables.clear()


_TABLES = _TableCache()


class _SearchCache:
    """The last searches' matches, so that paging and filtering a search does not redo it.

    Entries are only used while the index file is unchanged.
    """

    def __init__(self, size: int = 32) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._results: OrderedDict[tuple[Any, ...], Any] = OrderedDict()

    def get(self, conn: sqlite3.Connection, key: tuple[Any, ...], run: Callable[[], T]) -> T:
        state = _index_state(conn)
        if state is None:
            return run()
        full = (state, *key)
        with self._lock:
            if full in self._results:
                self._results.move_to_end(full)
                return self._results[full]
        result = run()
        with self._lock:
            self._results[full] = result
            while len(self._results) > self._size:
                self._results.popitem(last=False)
        return result

    def clear(self) -> None:
        with self._lock:
            self._results.clear()


_SEARCHES = _SearchCache()


def clear_report_cache(*, tables: bool = True, searches: bool = True) -> None:
    """Forget cached paper tables and searches; benchmarks time the uncached paths with it."""
    if tables:
        _TABLES.clear()
    if searches:
        _SEARCHES.clear()


def _paper_table(conn: sqlite3.Connection, work_id: int) -> StatementTable:
    return _TABLES.get(
        conn,
        work_id,
        lambda: _table_of(
            conn, conn.execute(_FACET_SQL + " WHERE s.cited_work_id = ?", (work_id,)).fetchall()
        ),
    )


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


# Options of a long facet that can reach its top: every count at least the FACET_TOP-th
# largest, read backwards along report_counts_top (ties included, so the order by name is exact).
_TOP_COUNTS_SQL = (
    "SELECT value, n FROM report_counts WHERE cited_work_id = ?1 AND facet = ?2 AND value <> ''"
    " AND n >= coalesce((SELECT n FROM report_counts WHERE cited_work_id = ?1 AND facet = ?2"
    " AND value <> '' AND n > 0 ORDER BY n DESC LIMIT 1 OFFSET ?3), 1)"
)


def _counted_numbers(
    conn: sqlite3.Connection, work_id: int
) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]] | None:
    """A paper's tally and facets from the tallies the schema keeps; None where they cannot
    serve: an index from before schema step 2, or a paper with duplicated statement rows."""
    if not _has_table(conn, "report_counts"):
        return None
    counts: dict[str, dict[Any, int]] = {}
    for facet, value, n in conn.execute(
        "SELECT facet, value, n FROM report_counts WHERE cited_work_id = ? AND n > 0"
        " AND facet IN ('section', 'year', 'publication_type', 'self', 'duplicates')",
        (work_id,),
    ):
        counts.setdefault(facet, {})[value] = n
    if counts.get("duplicates"):
        return None
    for facet in ("journal", "author"):
        counts[facet] = dict(
            conn.execute(_TOP_COUNTS_SQL, (work_id, facet, FACET_TOP - 1)).fetchall()
        )
    names = dict(
        conn.execute(
            "SELECT id, name FROM author_names WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(counts["author"])),),
        ).fetchall()
    )
    counts["author"] = {names[i]: n for i, n in counts["author"].items() if i in names}
    citing = conn.execute(
        "SELECT count(DISTINCT citing_work_id) FROM statements WHERE cited_work_id = ?",
        (work_id,),
    ).fetchone()[0]
    return counted_report(counts, citing)


def _paper_numbers(
    conn: sqlite3.Connection, work_id: int
) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """A paper's tally and unfiltered facets: from stored tallies, else from its table."""
    counted = _counted_numbers(conn, work_id)
    if counted is not None:
        return counted
    table = _paper_table(conn, work_id)
    return tally(table), filter_and_facet(table, StatementFilters())[1]


# Orders of a paper's statements in SQL, as order_positions sorts a table.
_ORDER_SQL = {
    "relevance": "CASE label WHEN 'supporting' THEN 0 WHEN 'contrasting' THEN 0"
    " WHEN 'mentioning' THEN 1 ELSE 2 END, coalesce(confidence, -1) DESC,"
    " coalesce(citing_year, 0) DESC, id",
    "newest": "coalesce(citing_year, 0) = 0, coalesce(citing_year, 0) DESC, id DESC",
    "oldest": "coalesce(citing_year, 0) = 0, coalesce(citing_year, 0), id",
}


def _counted_page(
    conn: sqlite3.Connection,
    work: Sequence[Any],
    numbers: tuple[dict[str, Any], dict[str, list[dict[str, Any]]]],
    sort: str,
    page: int,
    page_size: int,
) -> dict[str, Any]:
    """One unfiltered page of a paper's statements: its ids ordered in SQL, 20 rows read."""
    total = numbers[0]["statements"]
    ids = [
        row[0]
        for row in conn.execute(
            f"SELECT id FROM statements WHERE cited_work_id = ? ORDER BY {_ORDER_SQL[sort]}"
            " LIMIT ? OFFSET ?",
            (work[0], page_size, (page - 1) * page_size),
        )
    ]
    return {
        "total": total,
        "page": page,
        "page_size": page_size,
        "pages": max(1, -(-total // page_size)),
        "sort": sort,
        "query": None,
        "fts_query": None,
        "items": _items(conn, ids, None),
        "facets": numbers[1],
        "doi": work[1],
    }


def _report_of(
    conn: sqlite3.Connection,
    work: Sequence[Any],
    numbers: tuple[dict[str, Any], dict[str, list[dict[str, Any]]]],
) -> dict[str, Any]:
    tallied, facets = numbers
    report = {**_work_meta(work), **tallied}
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
        return _report_of(conn, work, _paper_numbers(conn, work[0]))


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
    table: StatementTable,
    f: StatementFilters,
    sort: str,
    page: int,
    page_size: int,
    scores: np.ndarray | None,
    fts_query: str | None,
) -> dict[str, Any]:
    within = None if scores is None else np.isfinite(scores)
    passing, facets = filter_and_facet(table, f, within)
    ordered = order_positions(table, passing, sort, scores)
    chosen = [int(i) for i in table.ids[ordered[(page - 1) * page_size : page * page_size]]]
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


def _scores(table: StatementTable, hit_ids: np.ndarray, hit_scores: np.ndarray) -> np.ndarray:
    """bm25 of each statement of the table; +inf for those the search did not match."""
    scores = np.full(len(table), np.inf)
    if len(table) and len(hit_ids):
        order = np.argsort(table.ids)
        at = np.searchsorted(table.ids, hit_ids, sorter=order).clip(max=len(table) - 1)
        found = table.ids[order[at]] == hit_ids
        scores[order[at[found]]] = hit_scores[found]
    return scores


def _hit_arrays(
    hits: Sequence[Sequence[Any]], id_col: int, score_col: int
) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.fromiter((h[id_col] for h in hits), np.int64, len(hits)),
        np.fromiter((h[score_col] for h in hits), np.float64, len(hits)),
    )


def _statements_of(
    conn: sqlite3.Connection,
    work: Sequence[Any],
    table: StatementTable,
    f: StatementFilters,
    sort: str,
    page: int,
    page_size: int,
) -> dict[str, Any]:
    scores: np.ndarray | None = None
    fts_query = None
    if f.q is not None:
        q = f.q

        def search() -> tuple[str, tuple[np.ndarray, np.ndarray]]:
            # The search ranks within the paper's statements: FTS matches joined to them.
            fts_query, hits = _run_fts(
                conn,
                q,
                f"SELECT s.id, {_BM25} FROM statements_fts JOIN statements s ON s.id ="
                " statements_fts.rowid WHERE statements_fts MATCH ? AND s.cited_work_id = ?",
                (work[0],),
            )
            return fts_query, _hit_arrays(hits, 0, 1)

        fts_query, (hit_ids, hit_scores) = _SEARCHES.get(conn, ("paper", work[0], q), search)
        scores = _scores(table, hit_ids, hit_scores)
    result = _page_of(conn, table, f, sort, page, page_size, scores, fts_query)
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
        if f == StatementFilters():
            counted = _counted_numbers(conn, work[0])
            if counted is not None:
                return _counted_page(conn, work, counted, sort, page, page_size)
        return _statements_of(conn, work, _paper_table(conn, work[0]), f, sort, page, page_size)


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
        numbers = _counted_numbers(conn, work[0])
        if numbers is not None and f == StatementFilters():
            statements = _counted_page(conn, work, numbers, sort, page, page_size)
        else:
            # Filters and searches narrow a table of the paper's statements.
            table = _paper_table(conn, work[0])
            statements = _statements_of(conn, work, table, f, sort, page, page_size)
            if numbers is None:
                numbers = tally(table), filter_and_facet(table, StatementFilters())[1]
        return {"report": _report_of(conn, work, numbers), "statements": statements}


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

        def search() -> tuple[str, StatementTable, np.ndarray]:
            fts_query, hits = _run_fts(
                conn,
                q,
                f"SELECT s.id, s.citing_work_id, s.paragraph, s.sentence, s.cited_work_id,"
                f" s.label, s.section_type, s.citing_year, s.citing_type, s.citing_journal,"
                f" s.self_citation, s.confidence, {_BM25} FROM statements_fts JOIN statements s"
                f" ON s.id = statements_fts.rowid WHERE statements_fts MATCH ?",
                (),
            )
            table = _table_of(conn, [h[:12] for h in hits])
            return fts_query, table, _scores(table, *_hit_arrays(hits, 0, 12))

        fts_query, table, scores = _SEARCHES.get(conn, ("index", q), search)
        return _page_of(conn, table, f, sort, page, page_size, scores, fts_query)


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
            said = here.get(r[0], Counter())
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
                    "statements": sum(said.values()),
                    **{label: said.get(label, 0) for label in LABELS},
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


_MOST_CITED: dict[tuple[Any, ...], list[dict[str, Any]]] = {}


def most_cited(store: Source, limit: int = 10) -> list[dict[str, Any]]:
    """The works with a DOI cited in the most statements: where a reader can start.

    The count scans every statement, so the answer is kept until the index changes.
    """
    with _reading(store) as conn:
        state = _index_state(conn)
        key = (state, limit)
        if state is not None and key in _MOST_CITED:
            return _MOST_CITED[key]
        rows = conn.execute(
            "SELECT w.doi, w.title, w.year, w.journal, c.n, c.pubs FROM"
            " (SELECT cited_work_id, count(*) AS n, count(DISTINCT citing_work_id) AS pubs"
            "  FROM (SELECT DISTINCT cited_work_id, citing_work_id, paragraph, sentence"
            "   FROM statements WHERE cited_work_id IS NOT NULL) GROUP BY cited_work_id) c"
            " JOIN works w ON w.id = c.cited_work_id WHERE w.doi IS NOT NULL"
            " ORDER BY c.n DESC, w.doi LIMIT ?",
            (limit,),
        ).fetchall()
        found = [
            {
                "doi": r[0],
                "title": r[1],
                "year": r[2],
                "journal": r[3],
                "statements": r[4],
                "citing_publications": r[5],
            }
            for r in rows
        ]
        if state is not None:
            _MOST_CITED.clear()
            _MOST_CITED[key] = found
        return found


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
