"""The embedded store: turns parsed articles and their statements into rows of one SQLite file
(WAL, FTS5), links references to works, and reads them back for reports and exports.

One writer connection per store; readers get read-only connections that see committed state.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
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
from citelens.model import Author, BibEntry, Document, Label, Statement
from citelens.resolve import WorkSketch, match_stubs
from citelens.store import report_counts
from citelens.store.base import ResolveSummary, SavedArticle


def _schema_v1() -> str:
    return resources.files("citelens.store").joinpath("schema_sqlite.sql").read_text("utf-8")


# (version, sql) steps, applied in order, all pending ones in one transaction. A later schema
# change appends a step here; never edit a step that has shipped.
# Step 2 adds the report tallies (author names by id, per-paper counts kept by triggers) and
# fills them from the statements already stored.
MIGRATIONS: list[tuple[int, str]] = [(1, _schema_v1()), (2, report_counts.REPORT_COUNTS_SQL)]
SCHEMA_VERSION = MIGRATIONS[-1][0]

RESOLVED_METHODS = ("doi", "pmid", "pmcid", "fuzzy")
# Publication types whose <source> is the work's own title (a book), not a container's.
_SOURCE_IS_TITLE = {"book", "thesis", "report", "software", "data", "dataset", "patent"}
_CHUNK = 500  # bound parameters per IN (...) query
_SKETCH_COLUMNS = "id, title, year, json_extract(authors, '$[0].family'), has_full_text"


def _authors_json(authors: Sequence[Author]) -> str:
    return json.dumps(
        [{"family": a.family, "given": a.given, "orcid": a.orcid} for a in authors],
        ensure_ascii=False,
    )


def _authors_from_json(text: str | None) -> list[Author]:
    if not text:
        return []
    return [
        Author(a.get("family", ""), a.get("given", ""), a.get("orcid")) for a in json.loads(text)
    ]


def _sketch(row: Sequence[Any]) -> WorkSketch:
    """(id, title, year, first author family, has_full_text) as fuzzy resolution compares it."""
    return WorkSketch(
        int(row[0]), normalise_title(row[1]), row[2], family_key(row[3]), bool(row[4])
    )


def _sql_statements(script: str) -> Iterator[str]:
    """The statements of a SQL script, whole (a trigger's body stays with its CREATE)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending.strip()
            pending = ""
    if pending.strip() and not pending.strip().startswith("--"):
        yield pending.strip()


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _ref_title(entry: BibEntry) -> str | None:
    if entry.title:
        return entry.title
    if entry.source and (entry.publication_type or "").lower() in _SOURCE_IS_TITLE:
        return entry.source
    return None


@dataclass(slots=True)
class _RefPlan:
    """One bib entry ready to insert: its identifiers and the work it links to."""

    entry: BibEntry
    doi: str | None
    pmid: str | None
    pmcid: str | None
    title: str | None
    cited_work_id: int = 0
    match_method: str = "identity"
    cited_authors: list[Author] | None = None


class SqliteStore:
    """Store backed by one SQLite file; see store/base.py for the contract."""

    def __init__(
        self,
        path: str | Path,
        *,
        migrations: Sequence[tuple[int, str]] = MIGRATIONS,
        busy_timeout_ms: int = 10_000,
    ) -> None:
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise StoreError(f"{self.path}: directory {self.path.parent} does not exist")
        self._conn = sqlite3.connect(
            self.path, isolation_level=None, timeout=busy_timeout_ms / 1000
        )
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            self._conn.execute("PRAGMA foreign_keys = ON")
            # WAL + NORMAL survives a killed process; only a power loss can drop the last commits.
            self._conn.execute("PRAGMA synchronous = NORMAL")
            if mode.lower() != "wal":
                raise StoreError(f"{self.path}: cannot switch to WAL journal mode (got {mode})")
            self._migrate(migrations)
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise StoreError(f"{self.path}: cannot open as a citelens index: {exc}") from exc
        except StoreError:
            self._conn.close()
            raise

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def schema_version(self) -> int:
        has_meta = self._conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        ).fetchone()
        if not has_meta:
            return 0
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    def _migrate(self, migrations: Sequence[tuple[int, str]]) -> None:
        latest = max(version for version, _ in migrations)
        if self.schema_version() == latest:
            return
        try:
            # The version is read again under the write lock: two processes opening a new file
            # at once must not both apply the same steps.
            with self._write() as conn:
                current = self.schema_version()
                if current > latest:
                    raise StoreError(
                        f"{self.path}: schema version {current} is newer than this citelens "
                        f"knows ({latest}); upgrade citelens"
                    )
                for version, sql in sorted(migrations):
                    if version > current:
                        for statement in _sql_statements(sql):
                            conn.execute(statement)
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(latest),),
                )
        except sqlite3.Error as exc:
            raise StoreError(
                f"{self.path}: cannot migrate from schema version {self.schema_version()} to "
                f"{latest}: {exc}"
            ) from exc

    @contextmanager
    def reader(self) -> Iterator[sqlite3.Connection]:
        """A read-only connection that sees committed state while a writer works."""
        conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
        conn.row_factory = sqlite3.Row
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(f"{self.path}: cannot start a write: {exc}") from exc
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    # -- ingest ----------------------------------------------------------------------------

    def save_article(
        self,
        doc: Document,
        statements: Sequence[Statement],
        *,
        source_path: str,
        source_sha256: str,
    ) -> SavedArticle:
        """Replace (or add) one article, its references and statements, in one transaction.

        Raises InputError for a document that contradicts itself (duplicate reference ids,
        statements citing unknown references) and StoreError when the file cannot be written.
        """
        meta = doc.meta
        ids = (normalise_doi(meta.doi), normalise_pmid(meta.pmid), normalise_pmcid(meta.pmcid))
        key = (
            work_key(
                doi=ids[0],
                pmid=ids[1],
                pmcid=ids[2],
                title=meta.title,
                year=meta.year,
                authors=meta.authors,
            )
            or f"sha:{source_sha256}"
        )
        plans = self._plan_refs(doc, statements, source_path)
        try:
            with self._write() as conn:
                work_id, replaced, old_cited = self._upsert_citing_work(
                    conn, key, ids, doc, source_path, source_sha256
                )
                self._link_refs(conn, plans)
                ref_rows = self._insert_refs(conn, work_id, plans)
                stored = self._insert_statements(conn, work_id, doc, statements, plans, ref_rows)
                self._drop_orphan_stubs(conn, old_cited)
        except sqlite3.Error as exc:
            raise StoreError(f"{source_path}: cannot save into {self.path}: {exc}") from exc
        return SavedArticle(work_id, key, stored, len(plans), replaced)

    @staticmethod
    def _plan_refs(
        doc: Document, statements: Sequence[Statement], source_path: str
    ) -> dict[str, _RefPlan]:
        plans: dict[str, _RefPlan] = {}
        for entry in doc.bibliography:
            if entry.ref_id in plans:
                raise InputError(source_path, f"reference id {entry.ref_id!r} appears twice")
            plans[entry.ref_id] = _RefPlan(
                entry,
                normalise_doi(entry.doi),
                normalise_pmid(entry.pmid),
                normalise_pmcid(entry.pmcid),
                _ref_title(entry),
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

    def _upsert_citing_work(
        self,
        conn: sqlite3.Connection,
        key: str,
        ids: tuple[str | None, str | None, str | None],
        doc: Document,
        source_path: str,
        source_sha256: str,
    ) -> tuple[int, bool, list[int]]:
        """The citing work's row id, whether it replaced full text, and its old cited works."""
        meta = doc.meta
        doi, pmid, pmcid = ids
        rows = conn.execute(
            "SELECT id, key, doi, pmid, pmcid, has_full_text FROM works "
            "WHERE key = ? OR doi = ? OR pmid = ? OR pmcid = ?",
            (key, doi, pmid, pmcid),
        ).fetchall()

        def rank(row: tuple[Any, ...]) -> int:
            if row[1] == key:
                return 0
            if doi and row[2] == doi:
                return 1
            return 2 if pmid and row[3] == pmid else 3

        # Another article with full text is never this one just because a PMID or PMCID agrees
        # (publishers do print wrong ones); only stubs are taken over on such a match.
        rows = sorted((r for r in rows if rank(r) <= 1 or not r[5]), key=rank)
        values = (
            key,
            doi,
            pmid,
            pmcid,
            meta.title,
            meta.year,
            meta.journal,
            meta.publication_type,
            _authors_json(meta.authors),
            json.dumps(meta.notices, ensure_ascii=False),
            source_path,
            source_sha256,
            datetime.now(UTC).isoformat(timespec="seconds"),
        )
        if not rows:
            cur = conn.execute(
                "INSERT INTO works (key, doi, pmid, pmcid, title, year, journal, "
                "publication_type, authors, notices, has_full_text, source_path, source_sha256, "
                "ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)",
                values,
            )
            return int(cur.lastrowid or 0), False, []
        primary = rows[0]
        work_id = int(primary[0])
        # Stubs made earlier from references to this same work (by PMID, PMCID or title key)
        # become this work, so every link to any of them stays valid.
        for other in rows[1:]:
            if other[5] == 0 and (other[2] is None or other[2] == doi):
                conn.execute(
                    "UPDATE refs SET cited_work_id = ? WHERE cited_work_id = ?", (work_id, other[0])
                )
                conn.execute(
                    "UPDATE statements SET cited_work_id = ? WHERE cited_work_id = ?",
                    (work_id, other[0]),
                )
                conn.execute("DELETE FROM works WHERE id = ?", (other[0],))
                _drop_duplicate_statements(conn, work_id)
        old_cited = [
            int(r[0])
            for r in conn.execute(
                "SELECT DISTINCT cited_work_id FROM refs WHERE citing_work_id = ? "
                "AND cited_work_id IS NOT NULL",
                (work_id,),
            )
        ]
        conn.execute("DELETE FROM statements WHERE citing_work_id = ?", (work_id,))
        conn.execute("DELETE FROM refs WHERE citing_work_id = ?", (work_id,))
        conn.execute(
            "UPDATE works SET key = ?, doi = ?, pmid = ?, pmcid = ?, title = ?, year = ?, "
            "journal = ?, publication_type = ?, authors = ?, notices = ?, has_full_text = 1, "
            "source_path = ?, source_sha256 = ?, ingested_at = ? WHERE id = ?",
            (*values, work_id),
        )
        return work_id, bool(primary[5]), old_cited

    @staticmethod
    def _lookup(
        conn: sqlite3.Connection, column: str, values: set[str]
    ) -> dict[str, tuple[int, str]]:
        found: dict[str, tuple[int, str]] = {}
        ordered = sorted(values)
        for chunk in _chunks(ordered):
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT {column}, id, authors FROM works WHERE {column} IN ({marks})"
            for value, work_id, authors in conn.execute(sql, chunk):
                found.setdefault(value, (int(work_id), authors))
        return found

    def _link_refs(self, conn: sqlite3.Connection, plans: dict[str, _RefPlan]) -> None:
        """Point every reference at a work: by DOI, PMID, PMCID, else at a stub of its own."""
        entries = list(plans.values())
        by_doi = self._lookup(conn, "doi", {p.doi for p in entries if p.doi})
        by_pmid = self._lookup(conn, "pmid", {p.pmid for p in entries if p.pmid})
        by_pmcid = self._lookup(conn, "pmcid", {p.pmcid for p in entries if p.pmcid})
        stubs: dict[str, list[_RefPlan]] = {}
        for plan in entries:
            entry = plan.entry
            for method, table, value in (
                ("doi", by_doi, plan.doi),
                ("pmid", by_pmid, plan.pmid),
                ("pmcid", by_pmcid, plan.pmcid),
            ):
                if value and value in table:
                    work_id, authors = table[value]
                    plan.cited_work_id, plan.match_method = work_id, method
                    plan.cited_authors = _authors_from_json(authors)
                    break
            else:
                stub_key = work_key(
                    doi=plan.doi,
                    pmid=plan.pmid,
                    pmcid=plan.pmcid,
                    title=plan.title,
                    year=entry.year,
                    authors=entry.authors,
                ) or raw_key(entry.raw or entry.ref_id)
                prefix = stub_key.split(":", 1)[0]
                plan.match_method = prefix if prefix in RESOLVED_METHODS else "identity"
                stubs.setdefault(stub_key, []).append(plan)
        existing = self._lookup(conn, "key", set(stubs))
        conn.executemany(
            "INSERT INTO works (key, doi, pmid, pmcid, title, year, journal, publication_type, "
            "authors) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    stub_key,
                    first.doi,
                    first.pmid,
                    first.pmcid,
                    first.title,
                    first.entry.year,
                    None if first.title == first.entry.source else first.entry.source,
                    first.entry.publication_type,
                    _authors_json(first.entry.authors),
                )
                for stub_key, (first, *_) in stubs.items()
                if stub_key not in existing
            ],
        )
        created = self._lookup(conn, "key", set(stubs) - set(existing))
        for stub_key, group in stubs.items():
            if stub_key in existing:
                work_id, authors_json = existing[stub_key]
                authors = _authors_from_json(authors_json)
            else:
                work_id, authors = created[stub_key][0], group[0].entry.authors
            for plan in group:
                plan.cited_work_id = work_id
                plan.cited_authors = authors

    @staticmethod
    def _insert_refs(
        conn: sqlite3.Connection, work_id: int, plans: dict[str, _RefPlan]
    ) -> dict[str, int]:
        conn.executemany(
            "INSERT INTO refs (citing_work_id, ref_id, ord, label, raw, title, authors, source, "
            "year, volume, pages, doi, pmid, pmcid, cited_work_id, match_method) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    work_id,
                    p.entry.ref_id,
                    p.entry.order,
                    p.entry.label,
                    p.entry.raw,
                    p.entry.title,
                    _authors_json(p.entry.authors),
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
            ],
        )
        return {
            ref_id: int(row_id)
            for row_id, ref_id in conn.execute(
                "SELECT id, ref_id FROM refs WHERE citing_work_id = ?", (work_id,)
            )
        }

    @staticmethod
    def _insert_statements(
        conn: sqlite3.Connection,
        work_id: int,
        doc: Document,
        statements: Sequence[Statement],
        plans: dict[str, _RefPlan],
        ref_rows: dict[str, int],
    ) -> int:
        meta = doc.meta
        citing = author_marks(meta.authors)
        self_cited = {
            ref_id: marks_overlap(
                citing, author_marks([*plan.entry.authors, *(plan.cited_authors or [])])
            )
            for ref_id, plan in plans.items()
        }
        statements = _merge_same_work(statements, plans)
        conn.executemany(
            "INSERT INTO statements (citing_work_id, ref_row_id, cited_work_id, ref_id, "
            "paragraph, sentence, section_title, section_type, text, before, after, callouts, "
            "other_callouts, label, confidence, model_version, self_citation, citing_year, "
            "citing_type, citing_journal) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    work_id,
                    ref_rows[st.ref_id],
                    plans[st.ref_id].cited_work_id,
                    st.ref_id,
                    st.paragraph,
                    st.sentence,
                    st.section_title,
                    str(st.section_type),
                    st.text,
                    st.before,
                    st.after,
                    json.dumps([[s.start, s.end] for s in st.callouts]),
                    json.dumps([[s.start, s.end] for s in st.other_callouts]),
                    str(st.label) if st.label is not None else None,
                    st.confidence,
                    st.model_version,
                    int(self_cited[st.ref_id]),
                    meta.year,
                    meta.publication_type,
                    meta.journal,
                )
                for st in statements
            ],
        )
        return len(statements)

    @staticmethod
    def _drop_orphan_stubs(conn: sqlite3.Connection, candidates: Iterable[int]) -> None:
        conn.executemany(
            "DELETE FROM works WHERE id = ? AND has_full_text = 0 "
            "AND NOT EXISTS (SELECT 1 FROM refs WHERE cited_work_id = works.id) "
            "AND NOT EXISTS (SELECT 1 FROM statements WHERE cited_work_id = works.id)",
            [(work_id,) for work_id in candidates],
        )

    # -- resolution ------------------------------------------------------------------------

    def resolve(self) -> ResolveSummary:
        """Link references known only by title/author/year to indexed works (fuzzy)."""
        conn = self._conn
        stubs = [
            _sketch(row)
            for row in conn.execute(
                f"SELECT {_SKETCH_COLUMNS} FROM works WHERE has_full_text = 0 "
                "AND doi IS NULL AND title IS NOT NULL AND id IN "
                "(SELECT cited_work_id FROM refs WHERE match_method = 'identity')"
            )
        ]
        candidates = (
            _sketch(row)
            for row in conn.execute(
                f"SELECT {_SKETCH_COLUMNS} FROM works WHERE title IS NOT NULL "
                "AND (has_full_text = 1 OR doi IS NOT NULL)"
            )
        )
        matches = match_stubs(stubs, candidates) if stubs else []
        with self._write() as conn:
            for match in matches:
                self._repoint(conn, match.stub_id, match.work_id, match.score)
                _drop_duplicate_statements(conn, match.work_id)
            self._drop_orphan_stubs(conn, [m.stub_id for m in matches])
        return self._resolve_summary()

    @staticmethod
    def _repoint(conn: sqlite3.Connection, stub_id: int, work_id: int, score: float) -> None:
        target_authors = _authors_from_json(
            conn.execute("SELECT authors FROM works WHERE id = ?", (work_id,)).fetchone()[0]
        )
        # A work never cites itself through a fuzzy match: its own refs keep the stub.
        refs = conn.execute(
            "SELECT r.id, r.authors, c.authors FROM refs r JOIN works c ON c.id = r.citing_work_id "
            "WHERE r.cited_work_id = ? AND r.match_method = 'identity' AND r.citing_work_id != ?",
            (stub_id, work_id),
        ).fetchall()
        conn.executemany(
            "UPDATE refs SET cited_work_id = ?, match_method = 'fuzzy', match_score = ? "
            "WHERE id = ?",
            [(work_id, score, ref_row) for ref_row, _, _ in refs],
        )
        conn.executemany(
            "UPDATE statements SET cited_work_id = ?, self_citation = ? WHERE ref_row_id = ?",
            [
                (
                    work_id,
                    int(
                        shares_author(
                            _authors_from_json(citing_authors),
                            [*_authors_from_json(ref_authors), *target_authors],
                        )
                    ),
                    ref_row,
                )
                for ref_row, ref_authors, citing_authors in refs
            ],
        )

    def _resolve_summary(self) -> ResolveSummary:
        by_method = {
            str(method): int(n)
            for method, n in self._conn.execute(
                "SELECT coalesce(match_method, 'none'), count(*) FROM refs GROUP BY 1"
            )
        }
        resolved = sum(by_method.get(m, 0) for m in RESOLVED_METHODS)
        return ResolveSummary(sum(by_method.values()), resolved, by_method)

    # -- reading ---------------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        """Counts of works, full-text articles, references (all, resolved), statements, labels."""
        with self.reader() as conn:

            def count(sql: str) -> int:
                return int(conn.execute(sql).fetchone()[0])

            counts = {
                "works": count("SELECT count(*) FROM works"),
                "articles": count("SELECT count(*) FROM works WHERE has_full_text = 1"),
                "references": count("SELECT count(*) FROM refs"),
                "resolved_references": count(
                    "SELECT count(*) FROM refs WHERE match_method IN "
                    "('doi', 'pmid', 'pmcid', 'fuzzy')"
                ),
                "statements": count("SELECT count(*) FROM statements"),
            }
            labels = Counter(
                {
                    label or "": int(n)
                    for label, n in conn.execute(
                        "SELECT label, count(*) FROM statements GROUP BY label"
                    )
                }
            )
        for label in Label:
            counts[f"label_{label.value}"] = labels[label.value]
        counts["unlabelled"] = labels[""]
        return counts

    def export_statements(self) -> Iterator[dict[str, Any]]:
        """Every statement with its citing and cited work, streamed in statement order."""
        with self.reader() as conn:
            cursor = conn.execute(
                "SELECT s.id, cw.doi AS citing_doi, cw.key AS citing_key, tw.doi AS cited_doi, "
                "tw.key AS cited_key, tw.title AS cited_title, s.ref_id, r.match_method, "
                "s.section_title, s.section_type, s.text, s.before, s.after, s.callouts, "
                "s.label, s.confidence, s.model_version, s.self_citation "
                "FROM statements s JOIN works cw ON cw.id = s.citing_work_id "
                "JOIN refs r ON r.id = s.ref_row_id LEFT JOIN works tw ON tw.id = s.cited_work_id "
                "ORDER BY s.id"
            )
            for row in cursor:
                item = dict(row)
                item["statement_id"] = item.pop("id")
                item["callouts"] = json.loads(item["callouts"])
                item["self_citation"] = bool(item["self_citation"])
                yield item

    def work_by_doi(self, doi: str) -> dict[str, Any] | None:
        """The work row with this DOI (any spelling), its JSON columns decoded; None if absent."""
        with self.reader() as conn:
            row = conn.execute(
                "SELECT * FROM works WHERE doi = ?", (normalise_doi(doi),)
            ).fetchone()
        if row is None:
            return None
        work = dict(row)
        work["authors"] = json.loads(work["authors"])
        work["notices"] = json.loads(work["notices"])
        return work

    def set_labels(self, rows: Iterable[tuple[int, str, float, str]]) -> int:
        """Store classifier output; returns the number of statements updated."""
        batch = []
        for statement_id, label, confidence, model_version in rows:
            try:
                value = Label(label).value
            except ValueError:
                raise StoreError(f"statement {statement_id}: unknown label {label!r}") from None
            if not 0.0 <= confidence <= 1.0:
                raise StoreError(f"statement {statement_id}: confidence {confidence} not in [0, 1]")
            batch.append((value, confidence, model_version, statement_id))
        with self._write() as conn:
            cur = conn.executemany(
                "UPDATE statements SET label = ?, confidence = ?, model_version = ? WHERE id = ?",
                batch,
            )
            return cur.rowcount

    def iter_statements_for_classify(
        self, *, unlabelled_only: bool = False
    ) -> Iterator[tuple[int, str, str, str, list[tuple[int, int]]]]:
        sql = "SELECT id, text, before, after, callouts FROM statements"
        if unlabelled_only:
            sql += " WHERE label IS NULL"
        with self.reader() as conn:
            for statement_id, text, before, after, callouts in conn.execute(sql + " ORDER BY id"):
                spans = [(int(s), int(e)) for s, e in json.loads(callouts)]
                yield statement_id, text, before, after, spans


def _merge_same_work(
    statements: Sequence[Statement], plans: dict[str, _RefPlan]
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


def _drop_duplicate_statements(conn: sqlite3.Connection, cited_work_id: int) -> None:
    """After references were repointed to `cited_work_id`, keep one statement per sentence."""
    conn.execute(
        "DELETE FROM statements WHERE cited_work_id = ?1 AND id NOT IN ("
        "SELECT min(id) FROM statements WHERE cited_work_id = ?1 "
        "GROUP BY citing_work_id, paragraph, sentence)",
        (cited_work_id,),
    )
