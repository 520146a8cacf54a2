"""Backend-neutral row building: turns a Document and its statements into the rows every store
inserts (citing work, stub works, references, statements, labels), and counted rows back into
tallies, with the identity, linking and self-citation rules in one place. Pure: no I/O.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from citelens.errors import InputError, StoreError
from citelens.identifiers import normalise_doi, normalise_pmcid, normalise_pmid
from citelens.identity import (
    author_marks,
    family_key,
    marks_overlap,
    normalise_title,
    raw_key,
    shares_author,
    work_key,
)
from citelens.model import Author, BibEntry, Document, Label, Statement, WorkMeta
from citelens.resolve import WorkSketch
from citelens.store.base import ResolveSummary

RESOLVED_METHODS = ("doi", "pmid", "pmcid", "fuzzy")
# Publication types whose <source> is the work's own title (a book), not a container's.
SOURCE_IS_TITLE = {"book", "thesis", "report", "software", "data", "dataset", "patent"}

Identifiers = tuple[str | None, str | None, str | None]  # normalised (doi, pmid, pmcid)
# What a work lookup by identifier returns: the work's row id and its authors (JSON or decoded).
WorkHit = tuple[int, Any]


def authors_json(authors: Sequence[Author]) -> str:
    return json.dumps(
        [{"family": a.family, "given": a.given, "orcid": a.orcid} for a in authors],
        ensure_ascii=False,
    )


def authors_from_json(value: str | list[dict[str, Any]] | None) -> list[Author]:
    """Authors from a JSON column: text (SQLite) or already decoded (PostgreSQL jsonb)."""
    if not value:
        return []
    items = json.loads(value) if isinstance(value, str) else value
    return [Author(a.get("family", ""), a.get("given", ""), a.get("orcid")) for a in items]


def spans_json(spans: Sequence[Any]) -> str:
    return json.dumps([[s.start, s.end] for s in spans])


def sketch(row: Sequence[Any]) -> WorkSketch:
    """(id, title, year, first author family, has_full_text) as fuzzy resolution compares it."""
    return WorkSketch(
        int(row[0]), normalise_title(row[1]), row[2], family_key(row[3]), bool(row[4])
    )


def fuzzy_stubs_sql(sketch_columns: str) -> str:
    """The stubs fuzzy resolution tries to link, by id: titled, without a DOI (a DOI is an
    identity of its own), and cited by a reference that no identifier linked."""
    return (
        f"SELECT {sketch_columns} FROM works WHERE has_full_text = 0 "
        "AND doi IS NULL AND title IS NOT NULL AND id IN "
        "(SELECT cited_work_id FROM refs WHERE match_method = 'identity') ORDER BY id"
    )


def fuzzy_targets_sql(sketch_columns: str) -> str:
    """The works a stub may be linked to, by id: titled articles with full text or a DOI."""
    return (
        f"SELECT {sketch_columns} FROM works WHERE title IS NOT NULL "
        "AND (has_full_text = 1 OR doi IS NOT NULL) ORDER BY id"
    )


def orphan_stubs_sql(among: str) -> str:
    """DELETE of the stub works (`among`: the backend's test of works.id) that no reference or
    statement cites any more."""
    return (
        f"DELETE FROM works WHERE {among} AND has_full_text = 0 "
        "AND NOT EXISTS (SELECT 1 FROM refs WHERE cited_work_id = works.id) "
        "AND NOT EXISTS (SELECT 1 FROM statements WHERE cited_work_id = works.id)"
    )


def duplicate_statements_sql(cited: str) -> str:
    """DELETE keeping one statement, the oldest, per (citing work, sentence, cited work) among
    those whose cited work passes `cited` (the backend's test of cited_work_id), after
    references were repointed to a work another reference of the sentence already cites."""
    return (
        f"DELETE FROM statements WHERE {cited} AND id NOT IN ("
        f"SELECT min(id) FROM statements WHERE {cited} "
        "GROUP BY cited_work_id, citing_work_id, paragraph, sentence)"
    )


def citing_identity(meta: WorkMeta, source_sha256: str) -> tuple[str, Identifiers]:
    """The citing work's key and normalised identifiers; "sha:<digest>" when it has none."""
    ids = (normalise_doi(meta.doi), normalise_pmid(meta.pmid), normalise_pmcid(meta.pmcid))
    key = work_key(
        doi=ids[0],
        pmid=ids[1],
        pmcid=ids[2],
        title=meta.title,
        year=meta.year,
        authors=meta.authors,
    )
    return key or f"sha:{source_sha256}", ids


def citing_work_values(
    key: str,
    ids: Identifiers,
    meta: WorkMeta,
    source_path: str,
    source_sha256: str,
    ingested_at: Any,
) -> tuple[Any, ...]:
    """(key, doi, pmid, pmcid, title, year, journal, publication_type, authors, notices,
    source_path, source_sha256, ingested_at) of a citing work's row."""
    return (
        key,
        *ids,
        meta.title,
        meta.year,
        meta.journal,
        meta.publication_type,
        authors_json(meta.authors),
        json.dumps(meta.notices, ensure_ascii=False),
        source_path,
        source_sha256,
        ingested_at,
    )


def rank_citing_candidates(
    rows: Sequence[Sequence[Any]], key: str, doi: str | None, pmid: str | None
) -> list[Sequence[Any]]:
    """Works (id, key, doi, pmid, pmcid, has_full_text) that may be this citing article, best
    first: same key, then same DOI, then PMID, then PMCID.

    Another article with full text is never this one just because a PMID or PMCID agrees
    (publishers do print wrong ones); only stubs are taken over on such a match.
    """

    def rank(row: Sequence[Any]) -> int:
        if row[1] == key:
            return 0
        if doi and row[2] == doi:
            return 1
        return 2 if pmid and row[3] == pmid else 3

    return sorted((r for r in rows if rank(r) <= 1 or not r[5]), key=rank)


def stubs_to_merge(others: Sequence[Sequence[Any]], doi: str | None) -> list[int]:
    """Ids of the stub works (made earlier from references to this same work by PMID, PMCID or
    title key) that become the citing work, so every link to any of them stays valid."""
    return [int(r[0]) for r in others if not r[5] and (r[2] is None or r[2] == doi)]


def ref_title(entry: BibEntry) -> str | None:
    if entry.title:
        return entry.title
    if entry.source and (entry.publication_type or "").lower() in SOURCE_IS_TITLE:
        return entry.source
    return None


@dataclass(slots=True)
class RefPlan:
    """One bib entry ready to insert: its identifiers and the work it links to."""

    entry: BibEntry
    doi: str | None
    pmid: str | None
    pmcid: str | None
    title: str | None
    cited_work_id: int = 0
    match_method: str = "identity"
    cited_authors: list[Author] | None = None


def plan_refs(
    doc: Document, statements: Sequence[Statement], source_path: str
) -> dict[str, RefPlan]:
    """One plan per bib entry, by ref id; InputError for a document that contradicts itself
    (a reference id twice, a statement citing an unknown reference, a statement twice)."""
    plans: dict[str, RefPlan] = {}
    for entry in doc.bibliography:
        if entry.ref_id in plans:
            raise InputError(source_path, f"reference id {entry.ref_id!r} appears twice")
        plans[entry.ref_id] = RefPlan(
            entry,
            normalise_doi(entry.doi),
            normalise_pmid(entry.pmid),
            normalise_pmcid(entry.pmcid),
            ref_title(entry),
        )
    seen: set[tuple[int, int, str]] = set()
    for st in statements:
        if st.ref_id not in plans:
            raise InputError(
                source_path,
                f"a statement cites {st.ref_id!r}, which is not in the reference list",
            )
        place = (st.paragraph, st.sentence, st.ref_id)
        if place in seen:
            raise InputError(
                source_path,
                f"two statements for reference {st.ref_id!r} in paragraph "
                f"{st.paragraph}, sentence {st.sentence}",
            )
        seen.add(place)
    return plans


def link_by_identifiers(
    plans: Mapping[str, RefPlan],
    by_doi: Mapping[str, WorkHit],
    by_pmid: Mapping[str, WorkHit],
    by_pmcid: Mapping[str, WorkHit],
) -> dict[str, list[RefPlan]]:
    """Point plans at known works by DOI, then PMID, then PMCID; the rest grouped by the key
    of the stub work each needs (several references of one article may name one work)."""
    stubs: dict[str, list[RefPlan]] = {}
    for plan in plans.values():
        entry = plan.entry
        for method, table, value in (
            ("doi", by_doi, plan.doi),
            ("pmid", by_pmid, plan.pmid),
            ("pmcid", by_pmcid, plan.pmcid),
        ):
            if value and value in table:
                work_id, authors = table[value]
                plan.cited_work_id, plan.match_method = work_id, method
                plan.cited_authors = authors_from_json(authors)
                break
        else:
            key = work_key(
                doi=plan.doi,
                pmid=plan.pmid,
                pmcid=plan.pmcid,
                title=plan.title,
                year=entry.year,
                authors=entry.authors,
            ) or raw_key(entry.raw or entry.ref_id)
            prefix = key.split(":", 1)[0]
            plan.match_method = prefix if prefix in RESOLVED_METHODS else "identity"
            stubs.setdefault(key, []).append(plan)
    return stubs


def stub_row(key: str, first: RefPlan) -> tuple[Any, ...]:
    """(key, doi, pmid, pmcid, title, year, journal, publication_type, authors) of a stub."""
    entry = first.entry
    return (
        key,
        first.doi,
        first.pmid,
        first.pmcid,
        first.title,
        entry.year,
        None if first.title == entry.source else entry.source,
        entry.publication_type,
        authors_json(entry.authors),
    )


def attach_stubs(
    stubs: Mapping[str, list[RefPlan]],
    existing: Mapping[str, WorkHit],
    created: Mapping[str, int],
) -> None:
    """Point each stub group at its work: one already in the index, or one just created."""
    for key, group in stubs.items():
        if key in existing:
            work_id, authors_value = existing[key]
            authors = authors_from_json(authors_value)
        else:
            work_id, authors = created[key], group[0].entry.authors
        for plan in group:
            plan.cited_work_id = work_id
            plan.cited_authors = authors


REF_COLUMNS = (
    "citing_work_id, ref_id, ord, label, raw, title, authors, source, year, volume, pages, "
    "doi, pmid, pmcid, cited_work_id, match_method"
)


def ref_rows(work_id: int, plans: Mapping[str, RefPlan]) -> list[tuple[Any, ...]]:
    """Rows for REF_COLUMNS, in reference-list order of the plans."""
    return [
        (
            work_id,
            p.entry.ref_id,
            p.entry.order,
            p.entry.label,
            p.entry.raw,
            p.entry.title,
            authors_json(p.entry.authors),
            p.entry.source,
            p.entry.year,
            p.entry.volume,
            p.entry.pages,
            p.doi,
            p.pmid,
            p.pmcid,
            p.cited_work_id,
            p.match_method,
        )
        for p in plans.values()
    ]


def self_citations(citing: Sequence[Author], plans: Mapping[str, RefPlan]) -> dict[str, bool]:
    """Per ref id: does an author of the citing work also write the cited one (as the
    reference prints its authors, or as the linked work lists them)?"""
    marks = author_marks(citing)
    return {
        ref_id: marks_overlap(
            marks, author_marks([*plan.entry.authors, *(plan.cited_authors or [])])
        )
        for ref_id, plan in plans.items()
    }


def merge_same_work(
    statements: Sequence[Statement], plans: Mapping[str, RefPlan]
) -> list[Statement]:
    """One statement per (sentence, cited work): a sentence citing one work through two
    entries of the reference list (a duplicated entry) keeps the first, with both callouts."""
    kept: dict[tuple[int, int, object], Statement] = {}
    merged: list[Statement] = []
    for st in statements:
        cited = plans[st.ref_id].cited_work_id
        place = (st.paragraph, st.sentence, cited if cited is not None else st.ref_id)
        first = kept.get(place)
        if first is None:
            kept[place] = st
            merged.append(st)
            continue
        spans = set(first.callouts) | set(st.callouts)
        joined = replace(
            first,
            callouts=sorted(spans, key=lambda span: (span.start, span.end)),
            other_callouts=[span for span in first.other_callouts if span not in spans],
        )
        kept[place] = joined
        merged[merged.index(first)] = joined
    return merged


STATEMENT_COLUMNS = (
    "citing_work_id, ref_row_id, cited_work_id, ref_id, paragraph, sentence, section_title, "
    "section_type, text, before, after, callouts, other_callouts, label, confidence, "
    "model_version, self_citation, citing_year, citing_type, citing_journal"
)


def statement_rows(
    work_id: int,
    meta: WorkMeta,
    statements: Sequence[Statement],
    plans: Mapping[str, RefPlan],
    ref_row_ids: Mapping[str, int],
) -> list[tuple[Any, ...]]:
    """Rows for STATEMENT_COLUMNS; callout spans as JSON text."""
    self_cited = self_citations(meta.authors, plans)
    return [
        (
            work_id,
            ref_row_ids[st.ref_id],
            plans[st.ref_id].cited_work_id,
            st.ref_id,
            st.paragraph,
            st.sentence,
            st.section_title,
            str(st.section_type),
            st.text,
            st.before,
            st.after,
            spans_json(st.callouts),
            spans_json(st.other_callouts),
            str(st.label) if st.label is not None else None,
            st.confidence,
            st.model_version,
            int(self_cited[st.ref_id]),
            meta.year,
            meta.publication_type,
            meta.journal,
        )
        for st in statements
    ]


def fuzzy_self_citation(citing_authors: Any, ref_authors: Any, target: Sequence[Author]) -> bool:
    """Self-citation of a reference just linked by fuzzy match to a work with `target` authors
    (author columns as stored: JSON text or decoded)."""
    return shares_author(
        authors_from_json(citing_authors), [*authors_from_json(ref_authors), *target]
    )


def label_update(
    statement_id: int, label: str, confidence: float, model_version: str
) -> tuple[int, str, float, str]:
    """One classifier output checked for storing: (statement id, label, confidence, model).

    StoreError when the label is not one of Label or the confidence is outside [0, 1].
    """
    try:
        value = Label(label).value
    except ValueError:
        raise StoreError(f"statement {statement_id}: unknown label {label!r}") from None
    if not 0.0 <= confidence <= 1.0:
        raise StoreError(f"statement {statement_id}: confidence {confidence} not in [0, 1]")
    return int(statement_id), value, float(confidence), model_version


METHOD_COUNTS_SQL = "SELECT coalesce(match_method, 'none'), count(*) FROM refs GROUP BY 1"


def resolve_summary(method_counts: Iterable[Sequence[Any]]) -> ResolveSummary:
    """The summary of (match method, references) rows, as METHOD_COUNTS_SQL returns them."""
    by_method = {str(method): int(n) for method, n in method_counts}
    resolved = sum(by_method.get(m, 0) for m in RESOLVED_METHODS)
    return ResolveSummary(sum(by_method.values()), resolved, by_method)


LABEL_COUNTS_SQL = "SELECT label, count(*) FROM statements GROUP BY label"


def label_counts(rows: Iterable[Sequence[Any]]) -> dict[str, int]:
    """label_<value> for every Label, then unlabelled, from LABEL_COUNTS_SQL's rows."""
    labels = Counter({label or "": int(n) for label, n in rows})
    counts = {f"label_{label.value}": labels[label.value] for label in Label}
    counts["unlabelled"] = labels[""]
    return counts


EXPORT_STATEMENTS_SQL = (
    "SELECT s.id, cw.doi AS citing_doi, cw.key AS citing_key, tw.doi AS cited_doi, "
    "tw.key AS cited_key, tw.title AS cited_title, s.ref_id, r.match_method, "
    "s.section_title, s.section_type, s.text, s.before, s.after, s.callouts, "
    "s.label, s.confidence, s.model_version, s.self_citation "
    "FROM statements s JOIN works cw ON cw.id = s.citing_work_id "
    "JOIN refs r ON r.id = s.ref_row_id LEFT JOIN works tw ON tw.id = s.cited_work_id "
    "ORDER BY s.id"
)


def classify_sql(*, unlabelled_only: bool) -> str:
    """The statements a classifier reads, in id order: (id, text, before, after, callouts,
    section type)."""
    where = " WHERE label IS NULL" if unlabelled_only else ""
    return (f"SELECT id, text, before, after, callouts, section_type FROM statements{where} "
            "ORDER BY id")
