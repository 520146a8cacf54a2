"""The embedded store: turns parsed articles and their statements into rows of one SQLite file
(WAL, FTS5), links references to works, and reads them back for reports and exports.

One writer connection per store; readers get read-only connections that see committed state.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from citelens.errors import StoreError
from citelens.identifiers import normalise_doi
from citelens.model import Document, Statement
from citelens.resolve import match_stubs
from citelens.store import report_counts
from citelens.store.base import ResolveSummary, SavedArticle
from citelens.store.rows import (
    EXPORT_STATEMENTS_SQL,
    LABEL_COUNTS_SQL,
    METHOD_COUNTS_SQL,
    REF_COLUMNS,
    RESOLVED_METHODS,
    STATEMENT_COLUMNS,
    Identifiers,
    RefPlan,
    attach_stubs,
    authors_from_json,
    citing_identity,
    citing_work_values,
    classify_sql,
    duplicate_statements_sql,
    fuzzy_self_citation,
    fuzzy_stubs_sql,
    fuzzy_targets_sql,
    label_counts,
    label_update,
    link_by_identifiers,
    merge_same_work,
    orphan_stubs_sql,
    plan_refs,
    rank_citing_candidates,
    ref_rows,
    resolve_summary,
    sketch,
    statement_rows,
    stub_row,
    stubs_to_merge,
)


def _schema_v1() -> str:
    return resources.files("citelens.store").joinpath("schema_sqlite.sql").read_text("utf-8")


# (version, sql) steps, applied in order, all pending ones in one transaction. A later schema
# change appends a step here; never edit a step that has shipped.
# Step 2 adds the report tallies (author names by id, per-paper counts kept by triggers) and
# fills them from the statements already stored.
MIGRATIONS: list[tuple[int, str]] = [(1, _schema_v1()), (2, report_counts.REPORT_COUNTS_SQL)]
SCHEMA_VERSION = MIGRATIONS[-1][0]

_CHUNK = 500  # bound parameters per IN (...) query
_SKETCH_COLUMNS = "id, title, year, json_extract(authors, '$[0].family'), has_full_text"


def _insert_sql(table: str, columns: str) -> str:
    return f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' for _ in columns.split(','))})"


_REF_INSERT = _insert_sql("refs", REF_COLUMNS)
_STATEMENT_INSERT = _insert_sql("statements", STATEMENT_COLUMNS)
_ORPHAN_STUBS = orphan_stubs_sql("id = ?")
_DUPLICATE_STATEMENTS = duplicate_statements_sql("cited_work_id = ?1")


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
        key, ids = citing_identity(doc.meta, source_sha256)
        plans = plan_refs(doc, statements, source_path)
        try:
            with self._write() as conn:
                work_id, replaced, old_cited = self._upsert_citing_work(
                    conn, key, ids, doc, source_path, source_sha256
                )
                self._link_refs(conn, plans)
                ref_row_ids = self._insert_refs(conn, work_id, plans)
                stored = merge_same_work(statements, plans)
                conn.executemany(
                    _STATEMENT_INSERT,
                    statement_rows(work_id, doc.meta, stored, plans, ref_row_ids),
                )
                self._drop_orphan_stubs(conn, old_cited)
        except sqlite3.Error as exc:
            raise StoreError(f"{source_path}: cannot save into {self.path}: {exc}") from exc
        return SavedArticle(work_id, key, len(stored), len(plans), replaced)

    @staticmethod
    def _upsert_citing_work(
        conn: sqlite3.Connection,
        key: str,
        ids: Identifiers,
        doc: Document,
        source_path: str,
        source_sha256: str,
    ) -> tuple[int, bool, list[int]]:
        """The citing work's row id, whether it replaced full text, and its old cited works."""
        doi, pmid, pmcid = ids
        found = conn.execute(
            "SELECT id, key, doi, pmid, pmcid, has_full_text FROM works "
            "WHERE key = ? OR doi = ? OR pmid = ? OR pmcid = ? ORDER BY id",
            (key, doi, pmid, pmcid),
        ).fetchall()
        candidates = rank_citing_candidates(found, key, doi, pmid)
        values = citing_work_values(
            key,
            ids,
            doc.meta,
            source_path,
            source_sha256,
            datetime.now(UTC).isoformat(timespec="seconds"),
        )
        if not candidates:
            cur = conn.execute(
                "INSERT INTO works (key, doi, pmid, pmcid, title, year, journal, "
                "publication_type, authors, notices, has_full_text, source_path, source_sha256, "
                "ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)",
                values,
            )
            return int(cur.lastrowid or 0), False, []
        primary = candidates[0]
        work_id = int(primary[0])
        merged = [(work_id, stub_id) for stub_id in stubs_to_merge(candidates[1:], doi)]
        if merged:
            conn.executemany("UPDATE refs SET cited_work_id = ? WHERE cited_work_id = ?", merged)
            conn.executemany(
                "UPDATE statements SET cited_work_id = ? WHERE cited_work_id = ?", merged
            )
            conn.executemany("DELETE FROM works WHERE id = ?", [(stub,) for _, stub in merged])
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
            # The oldest work wins when several share a PMID or PMCID, as in PostgresStore;
            # ordered as the index already is, so SQLite sorts nothing.
            sql = (
                f"SELECT {column}, id, authors FROM works WHERE {column} IN ({marks}) "
                f"ORDER BY {column}, id"
            )
            for value, work_id, authors in conn.execute(sql, chunk):
                found.setdefault(value, (int(work_id), authors))
        return found

    def _link_refs(self, conn: sqlite3.Connection, plans: dict[str, RefPlan]) -> None:
        """Point every reference at a work: by DOI, PMID, PMCID, else at a stub of its own."""
        entries = list(plans.values())
        stubs = link_by_identifiers(
            plans,
            self._lookup(conn, "doi", {p.doi for p in entries if p.doi}),
            self._lookup(conn, "pmid", {p.pmid for p in entries if p.pmid}),
            self._lookup(conn, "pmcid", {p.pmcid for p in entries if p.pmcid}),
        )
        existing = self._lookup(conn, "key", set(stubs))
        new_keys = [key for key in stubs if key not in existing]
        conn.executemany(
            "INSERT INTO works (key, doi, pmid, pmcid, title, year, journal, publication_type, "
            "authors) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [stub_row(key, stubs[key][0]) for key in new_keys],
        )
        created = {key: hit[0] for key, hit in self._lookup(conn, "key", set(new_keys)).items()}
        attach_stubs(stubs, existing, created)

    @staticmethod
    def _insert_refs(
        conn: sqlite3.Connection, work_id: int, plans: dict[str, RefPlan]
    ) -> dict[str, int]:
        conn.executemany(
            _REF_INSERT,
            ref_rows(work_id, plans),
        )
        return {
            ref_id: int(row_id)
            for row_id, ref_id in conn.execute(
                "SELECT id, ref_id FROM refs WHERE citing_work_id = ?", (work_id,)
            )
        }

    @staticmethod
    def _drop_orphan_stubs(conn: sqlite3.Connection, candidates: Iterable[int]) -> None:
        conn.executemany(_ORPHAN_STUBS, [(work_id,) for work_id in candidates])

    # -- resolution ------------------------------------------------------------------------

    def resolve(self) -> ResolveSummary:
        """Link references known only by title/author/year to indexed works (fuzzy)."""
        conn = self._conn
        stubs = [sketch(row) for row in conn.execute(fuzzy_stubs_sql(_SKETCH_COLUMNS))]
        candidates = (sketch(row) for row in conn.execute(fuzzy_targets_sql(_SKETCH_COLUMNS)))
        matches = match_stubs(stubs, candidates) if stubs else []
        with self._write() as conn:
            for match in matches:
                self._repoint(conn, match.stub_id, match.work_id, match.score)
                _drop_duplicate_statements(conn, match.work_id)
            self._drop_orphan_stubs(conn, [m.stub_id for m in matches])
        return self._resolve_summary()

    @staticmethod
    def _repoint(conn: sqlite3.Connection, stub_id: int, work_id: int, score: float) -> None:
        target_authors = authors_from_json(
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
                    int(fuzzy_self_citation(citing_authors, ref_authors, target_authors)),
                    ref_row,
                )
                for ref_row, ref_authors, citing_authors in refs
            ],
        )

    def _resolve_summary(self) -> ResolveSummary:
        return resolve_summary(self._conn.execute(METHOD_COUNTS_SQL))

    # -- reading ---------------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        """Counts of works, full-text articles, references (all, resolved), statements, labels."""
        with self.reader() as conn:

            def count(sql: str, params: Sequence[Any] = ()) -> int:
                return int(conn.execute(sql, params).fetchone()[0])

            counts = {
                "works": count("SELECT count(*) FROM works"),
                "articles": count("SELECT count(*) FROM works WHERE has_full_text = 1"),
                "references": count("SELECT count(*) FROM refs"),
                "resolved_references": count(
                    "SELECT count(*) FROM refs WHERE match_method IN "
                    f"({', '.join('?' for _ in RESOLVED_METHODS)})",
                    RESOLVED_METHODS,
                ),
                "statements": count("SELECT count(*) FROM statements"),
            }
            counts.update(label_counts(conn.execute(LABEL_COUNTS_SQL)))
        return counts

    def export_statements(self) -> Iterator[dict[str, Any]]:
        """Every statement with its citing and cited work, streamed in statement order."""
        with self.reader() as conn:
            for row in conn.execute(EXPORT_STATEMENTS_SQL):
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
        batch = [label_update(*row) for row in rows]
        with self._write() as conn:
            cur = conn.executemany(
                "UPDATE statements SET label = ?2, confidence = ?3, model_version = ?4 "
                "WHERE id = ?1",
                batch,
            )
            return cur.rowcount

    def iter_statements_for_classify(
        self, *, unlabelled_only: bool = False
    ) -> Iterator[tuple[int, str, str, str, list[tuple[int, int]], str]]:
        sql = classify_sql(unlabelled_only=unlabelled_only)
        with self.reader() as conn:
            for statement_id, text, before, after, callouts, section in conn.execute(sql):
                spans = [(int(s), int(e)) for s, e in json.loads(callouts)]
                yield statement_id, text, before, after, spans, section


def _drop_duplicate_statements(conn: sqlite3.Connection, cited_work_id: int) -> None:
    """After references were repointed to `cited_work_id`, keep one statement per sentence."""
    conn.execute(_DUPLICATE_STATEMENTS, (cited_work_id,))
