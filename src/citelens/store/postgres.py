"""The server store: turns parsed articles and their statements into rows of a PostgreSQL schema
(psycopg 3, COPY for bulk rows, a generated tsvector for search), links references to works,
and reads them back for reports and exports, with the same rules as store/sqlite.py.

Writers take one advisory lock per schema (one writer at a time, as SQLite); readers get
read-only REPEATABLE READ transactions on their own connections and never wait for a writer.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import psycopg
from psycopg import IsolationLevel
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row

from citelens.errors import StoreError
from citelens.identifiers import normalise_doi
from citelens.model import Document, Statement
from citelens.resolve import match_stubs
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
    return resources.files("citelens.store").joinpath("schema_postgres.sql").read_text("utf-8")


# (version, sql) steps, applied in order, all pending ones in one transaction (PostgreSQL DDL is
# transactional: a failed step leaves the schema as it was). A later schema change appends a
# step here; never edit a step that has shipped.
MIGRATIONS: list[tuple[int, str]] = [(1, _schema_v1())]
SCHEMA_VERSION = MIGRATIONS[-1][0]

_SKETCH_COLUMNS = "id, title, year, authors->0->>'family', has_full_text"
# Rows per server-side cursor fetch when streaming exports: bounded memory, few round trips.
_FETCH_ROWS = 2000
_LABEL_BATCH = 10_000


def describe(conninfo: str) -> str:
    """The connection target without its password, for messages."""
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError as exc:
        raise StoreError(f"not a PostgreSQL connection URL: {exc}") from None
    user = f"{params['user']}@" if params.get("user") else ""
    port = f":{params['port']}" if params.get("port") else ""
    return f"postgresql://{user}{params.get('host', '')}{port}/{params.get('dbname', '')}"


def libpq_url(url: str) -> str:
    """`url` as libpq reads it: a SQLAlchemy-style driver suffix (postgresql+psycopg://) dropped."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower().startswith("postgresql+"):
        return f"postgresql://{rest}"
    return url


class PostgresStore:
    """Store backed by one PostgreSQL schema (the first of the search_path); see store/base.py."""

    def __init__(
        self,
        conninfo: str,
        *,
        migrations: Sequence[tuple[int, str]] = MIGRATIONS,
        connect_timeout: int = 10,
    ) -> None:
        self.conninfo = libpq_url(conninfo)
        self.name = describe(self.conninfo)
        self._connect_timeout = connect_timeout
        self._conn = self._connect(autocommit=True)
        try:
            # The durability of the SQLite store (WAL, synchronous=NORMAL): a killed client or
            # server never leaves half an article, a server crash may drop the last commits.
            # Saves a WAL flush wait per article (saving the 200 interlinked eLife articles:
            # 5.7 s -> 4.3-4.6 s, measured twice each on 2 busy cores).
            self._conn.execute("SET synchronous_commit = off")
            # psycopg prepares a query once it has run five times, and PostgreSQL may then
            # reuse a generic plan: the `key = ANY(...)` lookups of an ingest took 18-25 ms
            # each (median, 500-700 eLife articles in) with it, 1.1 ms with plans made for the
            # actual values; planning costs about 0.1 ms.
            self._conn.execute("SET plan_cache_mode = force_custom_plan")
            schema = self._conn.execute("SELECT current_schema()").fetchone()
            if schema is None or schema[0] is None:
                raise StoreError(
                    f"{self.name}: no schema of the search_path exists; create it or fix the "
                    "search_path in the URL (options=-csearch_path%3D<schema>)"
                )
            self.schema = str(schema[0])
            self._migrate(migrations)
        except BaseException:
            self._conn.close()
            raise

    def _connect(self, *, autocommit: bool) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(
                self.conninfo, autocommit=autocommit, connect_timeout=self._connect_timeout
            )
        except psycopg.Error as exc:
            raise StoreError(f"{self.name}: cannot connect to PostgreSQL: {exc}") from exc

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def schema_version(self) -> int:
        conn = self._conn
        # Only this store's own schema counts: a `meta` table further down the search_path
        # (say in public) belongs to another index.
        found = conn.execute("SELECT to_regclass(format('%I.meta', current_schema()))")
        if found.fetchone() == (None,):
            return 0
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    def _migrate(self, migrations: Sequence[tuple[int, str]]) -> None:
        latest = max(version for version, _ in migrations)
        try:
            if self.schema_version() == latest:
                return
            # The version is read again under the write lock: two processes opening a new
            # schema at once must not both apply the same steps.
            with self._write() as conn:
                current = self.schema_version()
                if current > latest:
                    raise StoreError(
                        f"{self.name} (schema {self.schema}): schema version {current} is newer "
                        f"than this citelens knows ({latest}); upgrade citelens"
                    )
                for version, sql in sorted(migrations):
                    if version > current:
                        conn.execute(sql.encode("utf-8"))
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', %s) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(latest),),
                )
        except psycopg.Error as exc:
            raise StoreError(
                f"{self.name} (schema {self.schema}): cannot migrate from schema version "
                f"{self.schema_version()} to {latest}: {exc}"
            ) from exc

    @contextmanager
    def reader(self) -> Iterator[psycopg.Connection[Any]]:
        """A read-only connection whose transaction sees one committed snapshot."""
        conn = self._connect(autocommit=True)
        try:
            # Session-wide as well, so that a caller switching to autocommit still cannot write.
            conn.execute("SET default_transaction_read_only = on")
            conn.autocommit = False
            conn.read_only = True
            conn.isolation_level = IsolationLevel.REPEATABLE_READ
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _write(self) -> Iterator[psycopg.Connection[Any]]:
        """One transaction holding this schema's writer lock; rolled back on any exception."""
        conn = self._conn
        with conn.transaction():
            # Readers never take this lock; writers queue on it, so the read-then-write steps of
            # an ingest (find stubs, then create them) never race another writer.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('citelens:' || current_schema()))")
            yield conn

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
        statements citing unknown references) and StoreError when the rows cannot be written.
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
                with conn.cursor().copy(
                    f"COPY statements ({STATEMENT_COLUMNS}) FROM STDIN"
                ) as copy:
                    for row in statement_rows(work_id, doc.meta, stored, plans, ref_row_ids):
                        copy.write_row(row)
                self._drop_orphan_stubs(conn, old_cited)
        except psycopg.Error as exc:
            raise StoreError(f"{source_path}: cannot save into {self.name}: {exc}") from exc
        return SavedArticle(work_id, key, len(stored), len(plans), replaced)

    @staticmethod
    def _upsert_citing_work(
        conn: psycopg.Connection[Any],
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
            "WHERE key = %s OR doi = %s OR pmid = %s OR pmcid = %s ORDER BY id",
            (key, doi, pmid, pmcid),
        ).fetchall()
        candidates = rank_citing_candidates(found, key, doi, pmid)
        values = citing_work_values(
            key, ids, doc.meta, source_path, source_sha256, datetime.now(UTC)
        )
        if not candidates:
            row = conn.execute(
                "INSERT INTO works (key, doi, pmid, pmcid, title, year, journal, "
                "publication_type, authors, notices, has_full_text, source_path, source_sha256, "
                "ingested_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 1, %s, %s, %s) "
                "RETURNING id",
                values,
            ).fetchone()
            assert row is not None
            return int(row[0]), False, []
        primary = candidates[0]
        work_id = int(primary[0])
        merged = stubs_to_merge(candidates[1:], doi)
        if merged:
            conn.execute(
                "UPDATE refs SET cited_work_id = %s WHERE cited_work_id = ANY(%s)",
                (work_id, merged),
            )
            conn.execute(
                "UPDATE statements SET cited_work_id = %s WHERE cited_work_id = ANY(%s)",
                (work_id, merged),
            )
            conn.execute("DELETE FROM works WHERE id = ANY(%s)", (merged,))
            _drop_duplicate_statements(conn, [work_id])
        old_cited = [
            int(r[0])
            for r in conn.execute(
                "SELECT DISTINCT cited_work_id FROM refs WHERE citing_work_id = %s "
                "AND cited_work_id IS NOT NULL",
                (work_id,),
            )
        ]
        conn.execute("DELETE FROM statements WHERE citing_work_id = %s", (work_id,))
        conn.execute("DELETE FROM refs WHERE citing_work_id = %s", (work_id,))
        conn.execute(
            "UPDATE works SET key = %s, doi = %s, pmid = %s, pmcid = %s, title = %s, "
            "year = %s, journal = %s, publication_type = %s, authors = %s, notices = %s, "
            "has_full_text = 1, source_path = %s, source_sha256 = %s, ingested_at = %s "
            "WHERE id = %s",
            (*values, work_id),
        )
        return work_id, bool(primary[5]), old_cited

    @staticmethod
    def _lookup(conn: psycopg.Connection[Any], column: str, values: set[str]) -> dict[str, Any]:
        """value -> (work id, authors) of the works whose `column` is one of `values`."""
        found: dict[str, Any] = {}
        if not values:
            return found
        # The oldest work wins when several share a PMID or PMCID, as in the SQLite store.
        for value, work_id, authors in conn.execute(
            f"SELECT {column}, id, authors FROM works WHERE {column} = ANY(%s) ORDER BY id",
            (sorted(values),),
        ):
            found.setdefault(value, (int(work_id), authors))
        return found

    def _link_refs(self, conn: psycopg.Connection[Any], plans: dict[str, RefPlan]) -> None:
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
        if new_keys:
            with conn.cursor().copy(
                "COPY works (key, doi, pmid, pmcid, title, year, journal, publication_type, "
                "authors) FROM STDIN"
            ) as copy:
                for key in new_keys:
                    copy.write_row(stub_row(key, stubs[key][0]))
        created = {key: hit[0] for key, hit in self._lookup(conn, "key", set(new_keys)).items()}
        attach_stubs(stubs, existing, created)

    @staticmethod
    def _insert_refs(
        conn: psycopg.Connection[Any], work_id: int, plans: dict[str, RefPlan]
    ) -> dict[str, int]:
        with conn.cursor().copy(f"COPY refs ({REF_COLUMNS}) FROM STDIN") as copy:
            for row in ref_rows(work_id, plans):
                copy.write_row(row)
        return {
            ref_id: int(row_id)
            for row_id, ref_id in conn.execute(
                "SELECT id, ref_id FROM refs WHERE citing_work_id = %s", (work_id,)
            )
        }

    @staticmethod
    def _drop_orphan_stubs(conn: psycopg.Connection[Any], candidates: Iterable[int]) -> None:
        ids = sorted(set(candidates))
        if not ids:
            return
        conn.execute(orphan_stubs_sql("id = ANY(%s)"), (ids,))

    # -- resolution ------------------------------------------------------------------------

    def resolve(self) -> ResolveSummary:
        """Link references known only by title/author/year to indexed works (fuzzy)."""
        try:
            with self._write() as conn:
                stubs = [sketch(row) for row in conn.execute(fuzzy_stubs_sql(_SKETCH_COLUMNS))]
                if stubs:
                    candidates = (
                        sketch(row) for row in conn.execute(fuzzy_targets_sql(_SKETCH_COLUMNS))
                    )
                    matches = match_stubs(stubs, candidates)
                    self._repoint(conn, [(m.stub_id, m.work_id, m.score) for m in matches])
                    _drop_duplicate_statements(conn, [m.work_id for m in matches])
                    self._drop_orphan_stubs(conn, [m.stub_id for m in matches])
                return self._resolve_summary(conn)
        except psycopg.Error as exc:
            raise StoreError(f"{self.name}: cannot resolve references: {exc}") from exc

    @staticmethod
    def _repoint(conn: psycopg.Connection[Any], matches: list[tuple[int, int, float]]) -> None:
        """Move the references (and statements) of each matched stub to its work, set-based."""
        if not matches:
            return
        target_of = {stub: (work, score) for stub, work, score in matches}
        target_authors = {
            int(work_id): authors_from_json(authors)
            for work_id, authors in conn.execute(
                "SELECT id, authors FROM works WHERE id = ANY(%s)",
                (sorted({work for _, work, _ in matches}),),
            )
        }
        refs = conn.execute(
            "SELECT r.id, r.cited_work_id, r.citing_work_id, r.authors, c.authors "
            "FROM refs r JOIN works c ON c.id = r.citing_work_id "
            "WHERE r.cited_work_id = ANY(%s) AND r.match_method = 'identity'",
            (sorted(target_of),),
        ).fetchall()
        ref_ids: list[int] = []
        works: list[int] = []
        scores: list[float] = []
        flags: list[int] = []
        for ref_row, stub_id, citing_id, ref_authors, citing_authors in refs:
            work_id, score = target_of[stub_id]
            if citing_id == work_id:
                continue  # a work never cites itself through a fuzzy match: it keeps the stub
            ref_ids.append(ref_row)
            works.append(work_id)
            scores.append(score)
            flags.append(
                int(fuzzy_self_citation(citing_authors, ref_authors, target_authors[work_id]))
            )
        conn.execute(
            "UPDATE refs r SET cited_work_id = v.work, match_method = 'fuzzy', "
            "match_score = v.score FROM unnest(%s::bigint[], %s::bigint[], %s::float8[]) "
            "AS v(ref, work, score) WHERE r.id = v.ref",
            (ref_ids, works, scores),
        )
        conn.execute(
            "UPDATE statements s SET cited_work_id = v.work, self_citation = v.flag "
            "FROM unnest(%s::bigint[], %s::bigint[], %s::smallint[]) AS v(ref, work, flag) "
            "WHERE s.ref_row_id = v.ref",
            (ref_ids, works, flags),
        )

    @staticmethod
    def _resolve_summary(conn: psycopg.Connection[Any]) -> ResolveSummary:
        return resolve_summary(conn.execute(METHOD_COUNTS_SQL))

    # -- reading ---------------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        """Counts of works, full-text articles, references (all, resolved), statements, labels."""
        with self.reader() as conn:
            works, articles = conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE has_full_text = 1) FROM works"
            ).fetchone() or (0, 0)
            references, resolved = conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE match_method = ANY(%s)) FROM refs",
                (list(RESOLVED_METHODS),),
            ).fetchone() or (0, 0)
            labels = conn.execute(LABEL_COUNTS_SQL).fetchall()
        return {
            "works": int(works),
            "articles": int(articles),
            "references": int(references),
            "resolved_references": int(resolved),
            "statements": sum(int(n) for _, n in labels),
            **label_counts(labels),
        }

    def export_statements(self) -> Iterator[dict[str, Any]]:
        """Every statement with its citing and cited work, streamed in statement order through
        a server-side cursor over one snapshot."""
        with self.reader() as conn, conn.cursor("citelens_export", row_factory=dict_row) as cur:
            cur.itersize = _FETCH_ROWS
            cur.execute(EXPORT_STATEMENTS_SQL)
            for item in cur:
                item["statement_id"] = item.pop("id")
                item["self_citation"] = bool(item["self_citation"])
                yield item

    def work_by_doi(self, doi: str) -> dict[str, Any] | None:
        """The work row with this DOI (any spelling), its JSON columns decoded; None if absent."""
        with self.reader() as conn, conn.cursor(row_factory=dict_row) as cur:
            work = cur.execute(
                "SELECT * FROM works WHERE doi = %s", (normalise_doi(doi),)
            ).fetchone()
        if work is None:
            return None
        # The same text form as the SQLite store keeps, so callers need not know the backend.
        if work["ingested_at"] is not None:
            work["ingested_at"] = work["ingested_at"].astimezone(UTC).isoformat(timespec="seconds")
        return work

    def set_labels(self, rows: Iterable[tuple[int, str, float, str]]) -> int:
        """Store classifier output; returns the number of statements updated."""
        batch = [label_update(*row) for row in rows]
        updated = 0
        try:
            with self._write() as conn:
                for start in range(0, len(batch), _LABEL_BATCH):
                    chunk = batch[start : start + _LABEL_BATCH]
                    cur = conn.execute(
                        "UPDATE statements s SET label = v.label, confidence = v.confidence, "
                        "model_version = v.model_version FROM unnest(%s::bigint[], %s::text[], "
                        "%s::float8[], %s::text[]) AS v(id, label, confidence, model_version) "
                        "WHERE s.id = v.id",
                        [list(column) for column in zip(*chunk, strict=True)],
                    )
                    updated += cur.rowcount
        except psycopg.Error as exc:
            raise StoreError(f"{self.name}: cannot store labels: {exc}") from exc
        return updated

    def iter_statements_for_classify(
        self, *, unlabelled_only: bool = False
    ) -> Iterator[tuple[int, str, str, str, list[tuple[int, int]], str]]:
        with self.reader() as conn, conn.cursor("citelens_classify") as cur:
            cur.itersize = _FETCH_ROWS
            cur.execute(classify_sql(unlabelled_only=unlabelled_only))
            for statement_id, text, before, after, callouts, section in cur:
                spans = [(int(s), int(e)) for s, e in callouts]
                yield statement_id, text, before, after, spans, section


def _drop_duplicate_statements(conn: psycopg.Connection[Any], cited_work_ids: list[int]) -> None:
    """After references were repointed to these works, keep one statement per (sentence, cited
    work): the oldest row, as the SQLite store does."""
    if not cited_work_ids:
        return
    ids = sorted(set(cited_work_ids))
    conn.execute(duplicate_statements_sql("cited_work_id = ANY(%(ids)s)"), {"ids": ids})
