"""One store test suite over every backend: a SQLite file in tmp_path and a fresh schema on the
PostgreSQL server (CITELENS_TEST_PG, default postgresql://postgres@127.0.0.1:5432/test), read
back through each backend's own connections, plus real eLife articles stored by both."""

from __future__ import annotations

import json
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from tests.test_store import JONES, SMITH, article, ref, save

from citelens.classify.baseline import CueBaseline
from citelens.errors import InputError, StoreError
from citelens.extract import extract
from citelens.model import (
    Author,
    Document,
    SectionType,
    Span,
    Statement,
)
from citelens.parse.jats import parse_jats
from citelens.pipeline import classify_statements
from citelens.store import open_store
from citelens.store.base import Store
from citelens.store.sqlite import MIGRATIONS as SQLITE_MIGRATIONS
from citelens.store.sqlite import SqliteStore

try:
    import psycopg
    from psycopg import sql as pgsql

    from citelens.store.postgres import MIGRATIONS as PG_MIGRATIONS
    from citelens.store.postgres import PostgresStore
except ModuleNotFoundError:  # the SQLite half of the suite still runs
    psycopg = None  # type: ignore[assignment]

PG_URL = os.environ.get("CITELENS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
ELIFE = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "articles" / "elife"
# 00655 cites 00013 and 00367, 00367 cites 00013; 01139 cites 01138 and 00642, 01138 cites 00642
# (elife/intra_corpus_citations.tsv). Citing papers come first, so their stubs later become the
# full-text works.
LINKED_FILES = ("elife00655.xml", "elife00367.xml", "elife00013.xml")
MORE_FILES = ("elife01139.xml", "elife01138.xml", "elife00642.xml")

# -- backends ------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def pg_unavailable() -> str | None:
    """Why the PostgreSQL cases cannot run here, or None when the server answers."""
    if psycopg is None:
        return "psycopg is not installed (pip install 'citelens[postgres]')"
    try:
        psycopg.connect(PG_URL, connect_timeout=3).close()
    except psycopg.Error as exc:
        return f"no PostgreSQL server answers at {PG_URL}: {' '.join(str(exc).split())}"
    return None


def with_search_path(url: str, schema: str) -> str:
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options=-csearch_path%3D{schema}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A URL whose search_path is a fresh schema of its own, dropped afterwards."""
    reason = pg_unavailable()
    if reason:
        pytest.skip(reason)
    schema = f"test_{secrets.token_hex(6)}"
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(pgsql.SQL("CREATE SCHEMA {}").format(pgsql.Identifier(schema)))
    try:
        yield with_search_path(PG_URL, schema)
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            # A connection a failed test left open would hold locks: fail, never hang.
            admin.execute("SET lock_timeout = '10s'")
            admin.execute(pgsql.SQL("DROP SCHEMA {} CASCADE").format(pgsql.Identifier(schema)))


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """What `--db` would name: a SQLite file path or a postgresql:// URL."""
    if request.param == "sqlite":
        return str(tmp_path / "index.db")
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(location: str) -> Iterator[Store]:
    opened = open_store(location)
    try:
        yield opened
    finally:
        opened.close()


def is_pg(store_or_location: object) -> bool:
    if isinstance(store_or_location, str):
        return store_or_location.startswith("postgresql://")
    return psycopg is not None and isinstance(store_or_location, PostgresStore)


def rows(store: Store, query: str, *params: object) -> list[tuple[Any, ...]]:
    """Rows of `query` (written with ? marks) through the store's own read-only connection."""
    with store.reader() as conn:
        if is_pg(store):
            # psycopg reads % in a query as a placeholder whenever parameters are given.
            found = conn.execute(query.replace("?", "%s"), params or None)
        else:
            found = conn.execute(query, params)
        return [tuple(r) for r in found]


def open_with(location: str, migrations: list[tuple[int, str]] | None = None) -> Any:
    if is_pg(location):
        return PostgresStore(location, migrations=migrations or PG_MIGRATIONS)
    return SqliteStore(location, migrations=migrations or SQLITE_MIGRATIONS)


def base_migrations(location: str) -> list[tuple[int, str]]:
    return list(PG_MIGRATIONS if is_pg(location) else SQLITE_MIGRATIONS)


# Full-text search as each backend spells it: FTS5 with porter stemming; tsvector 'english'.
SEARCH_SQL = {
    False: "SELECT s.id, s.text FROM statements_fts JOIN statements s "
    "ON s.id = statements_fts.rowid WHERE statements_fts MATCH ?",
    True: "SELECT id, text FROM statements WHERE search @@ plainto_tsquery('english', ?)",
}


# -- the same behaviour on every backend ---------------------------------------------------


def test_save_and_read_back(store: Store) -> None:
    doc, sts = article(
        "10.5555/a", [ref("bib1", doi="10.5555/x"), ref("bib2", title="Other thing")]
    )
    saved = save(store, doc, sts)
    assert (saved.statements, saved.references, saved.replaced) == (4, 2, False)
    assert saved.key == "doi:10.5555/a"
    stats = store.stats()
    assert (stats["works"], stats["articles"], stats["references"]) == (3, 1, 2)
    assert (stats["resolved_references"], stats["statements"], stats["unlabelled"]) == (1, 4, 4)
    exported = list(store.export_statements())
    assert len(exported) == 4
    first = exported[0]
    assert set(first) == {
        "statement_id",
        "citing_doi",
        "citing_key",
        "cited_doi",
        "cited_key",
        "cited_title",
        "ref_id",
        "match_method",
        "section_title",
        "section_type",
        "text",
        "before",
        "after",
        "callouts",
        "label",
        "confidence",
        "model_version",
        "self_citation",
    }
    assert (first["citing_doi"], first["cited_doi"], first["cited_key"]) == (
        "10.5555/a",
        "10.5555/x",
        "doi:10.5555/x",
    )
    assert (first["match_method"], first["section_type"], first["self_citation"]) == (
        "doi",
        "introduction",
        False,
    )
    start, end = first["callouts"][0]
    assert first["text"][start:end] == "[bib1]"
    no_doi = [e for e in exported if e["ref_id"] == "bib2"]
    assert {(e["cited_doi"], e["match_method"]) for e in no_doi} == {(None, "identity")}
    assert no_doi[0]["cited_key"].startswith("t:")
    work = store.work_by_doi("https://doi.org/10.5555/A")
    assert work is not None and work["has_full_text"] == 1
    assert work["authors"][0]["family"] == "Smith" and work["notices"] == []
    assert isinstance(work["ingested_at"], str) and work["ingested_at"].endswith("+00:00")
    assert store.work_by_doi("10.5555/nothing") is None
    denorm = rows(store, "SELECT DISTINCT citing_year, citing_type, citing_journal FROM statements")
    assert denorm == [(2016, "research-article", "eLife")]


def test_reingest_gives_the_same_counts_and_drops_orphans(store: Store) -> None:
    refs = [ref("bib1", doi="10.5555/x"), ref("bib2", title="No doi here")]
    doc, sts = article("10.5555/a", refs)
    first = save(store, doc, sts)
    before = store.stats()
    again = save(store, doc, sts)
    assert again.replaced and again.work_id == first.work_id
    assert store.stats() == before
    doc2, sts2 = article("10.5555/a", refs[:1])
    save(store, doc2, sts2)
    after = store.stats()
    assert (after["references"], after["statements"], after["works"]) == (1, 2, 2)


def test_stub_becomes_the_full_text_work_and_pmid_links(store: Store) -> None:
    saved_a = save(
        store, *article("10.5555/a", [ref("bib1", doi="10.5555/b"), ref("bib2", pmid="123")])
    )
    stub_id = store.work_by_doi("10.5555/b")["id"]
    doc_b, sts_b = article("10.5555/b", [ref("bib1", doi="10.5555/z")], title="Cited article")
    saved_b = save(store, doc_b, sts_b, "b.xml")
    assert saved_b.work_id == stub_id and not saved_b.replaced
    assert store.work_by_doi("10.5555/b")["title"] == "Cited article"
    saved_c = save(store, *article("10.5555/c", [], pmid="123", sentences=0), "c.xml")
    cited = rows(
        store,
        "SELECT ref_id, cited_work_id FROM refs WHERE citing_work_id = ? ORDER BY ref_id",
        saved_a.work_id,
    )
    assert cited == [("bib1", stub_id), ("bib2", saved_c.work_id)]
    assert rows(store, "SELECT count(*) FROM works WHERE key = 'pmid:123'") == [(0,)]
    assert store.stats()["works"] == 4  # a, b, c and the DOI z


def test_doi_less_reference_has_one_identity_across_citing_papers(store: Store) -> None:
    shared = {"title": "The Shared Book: a study", "year": 2001, "authors": [Author("Doe", "J")]}
    save(store, *article("10.5555/a", [ref("bib1", **shared)]))
    other = {**shared, "title": "The shared book - A study"}  # printed differently
    save(store, *article("10.5555/b", [ref("bib7", **other)]), "b.xml")
    cited = rows(store, "SELECT DISTINCT cited_work_id, match_method FROM refs")
    assert len(cited) == 1 and cited[0][1] == "identity"
    key = rows(store, "SELECT key FROM works WHERE id = ?", cited[0][0])[0][0]
    assert key.startswith("t:")
    assert rows(
        store,
        "SELECT count(DISTINCT citing_work_id) FROM statements WHERE cited_work_id = ?",
        cited[0][0],
    ) == [(2,)]


def test_fuzzy_resolution_links_doi_less_reference(store: Store) -> None:
    doi_less = ref(
        "bib1",
        title="Dynamics of membrane protiens in living cells.",
        year=2014,
        authors=[Author("Lee", "M")],
    )
    unrelated = ref(
        "bib2",
        title="Dynamics of chromatin in dividing yeast cells",
        year=2014,
        authors=[Author("Lee", "M")],
    )
    save(store, *article("10.5555/a", [doi_less, unrelated], authors=[Author("Kim", "S")]))
    doc_b, sts_b = article(
        "10.5555/b",
        [ref("bib1", doi="10.5555/q")],
        title="Dynamics of membrane proteins in living cells",
        year=2015,
        authors=[Author("Lee", "Min"), Author("Kim", "Soo")],
    )
    saved_b = save(store, doc_b, sts_b, "b.xml")
    works_before = store.stats()["works"]
    summary = store.resolve()
    assert summary.by_method.get("fuzzy") == 1 and summary.resolved == 2
    linked = rows(
        store,
        "SELECT cited_work_id, match_method, match_score FROM refs "
        "WHERE ref_id = 'bib1' AND citing_work_id != ?",
        saved_b.work_id,
    )
    assert linked[0][:2] == (saved_b.work_id, "fuzzy") and 90 <= linked[0][2] < 100
    # Kim is the second author of the target: the repointed statements become self-citations.
    assert rows(
        store,
        "SELECT DISTINCT cited_work_id, self_citation FROM statements "
        "WHERE ref_id = 'bib1' AND citing_work_id != ?",
        saved_b.work_id,
    ) == [(saved_b.work_id, 1)]
    assert rows(store, "SELECT match_method FROM refs WHERE ref_id = 'bib2'") == [("identity",)]
    assert store.stats()["works"] == works_before - 1  # the orphaned stub is gone
    assert store.resolve() == summary


def json_value(value: Any) -> Any:
    """A JSON column as Python: SQLite hands back text, PostgreSQL jsonb decoded values."""
    return json.loads(value) if isinstance(value, str) else value


def test_duplicated_reference_entry_gives_one_statement_per_sentence(store: Store) -> None:
    # The reference list holds the same DOI twice, and one sentence cites both entries.
    doc, _ = article("10.5555/a", [ref("bib1", doi="10.5555/x"), ref("bib2", doi="10.5555/X")])
    text = "Earlier work measured the effect [1] and so did a later erratum [2]."
    first, second = Span(33, 36), Span(64, 67)
    sts = [
        Statement(
            ref_id,
            text,
            "",
            "",
            [own],
            [other],
            "Introduction",
            SectionType.INTRODUCTION,
            paragraph=0,
            sentence=0,
        )
        for ref_id, own, other in (("bib1", first, second), ("bib2", second, first))
    ]
    assert save(store, doc, sts).statements == 1
    stored = rows(store, "SELECT ref_id, callouts, other_callouts FROM statements")
    assert [(r, json_value(c), json_value(o)) for r, c, o in stored] == [
        ("bib1", [[33, 36], [64, 67]], [])
    ]
    assert store.stats()["statements"] == len(list(store.export_statements())) == 1


def test_fuzzy_link_onto_a_work_already_cited_in_the_sentence_keeps_one(store: Store) -> None:
    title = "Dynamics of membrane proteins in living cells"
    target = ref("bib1", doi="10.5555/b", title=title, authors=[Author("Lee", "M")])
    doi_less = ref("bib2", doi=None, title=title, authors=[Author("Lee", "M")])
    save(store, *article("10.5555/a", [target, doi_less]))
    assert store.stats()["statements"] == 4  # the DOI-less twin is not known to be the same yet
    cited = article("10.5555/b", [], title=title, year=2010, authors=[Author("Lee", "Min")])
    save(store, *cited, "b.xml")
    store.resolve()
    assert rows(store, "SELECT match_method FROM refs WHERE ref_id = 'bib2'") == [("fuzzy",)]
    per_sentence = rows(
        store,
        "SELECT sentence, count(*) FROM statements GROUP BY citing_work_id, sentence "
        "ORDER BY sentence",
    )
    assert per_sentence == [(0, 1), (1, 1)]


def test_self_citation_by_orcid_and_by_name(store: Store) -> None:
    refs = [
        ref("bib1", authors=[Author("Jones", "K.", "https://orcid.org/0000-0002-1825-0097")]),
        ref("bib2", authors=[Author("Other", "A"), Author("Smith", "J.")]),
        ref("bib3", authors=[Author("Smith", "Peter")]),
        ref("bib4", authors=[Author("Jonas", "K")]),
    ]
    save(store, *article("10.5555/a", refs, authors=[SMITH, Author("Jonés", "Karl", JONES.orcid)]))
    flags = dict(rows(store, "SELECT ref_id, max(self_citation) FROM statements GROUP BY ref_id"))
    assert flags == {"bib1": 1, "bib2": 1, "bib3": 0, "bib4": 0}
    exported = {e["ref_id"]: e["self_citation"] for e in store.export_statements()}
    assert exported == {"bib1": True, "bib2": True, "bib3": False, "bib4": False}


def test_labels_round_trip(store: Store) -> None:
    save(store, *article("10.5555/a", [ref("bib1", doi="10.5555/x")]))
    items = list(store.iter_statements_for_classify())
    assert len(items) == 2
    sid, text, before, _after, spans, section = items[0]
    assert section == "introduction"
    assert text[spans[0][0] : spans[0][1]] == "[bib1]" and before == "A sentence before."
    assert store.set_labels([(sid, "supporting", 0.71, "cue-1")]) == 1
    stats = store.stats()
    assert (stats["label_supporting"], stats["unlabelled"]) == (1, 1)
    assert [i[0] for i in store.iter_statements_for_classify(unlabelled_only=True)] == [items[1][0]]
    exported = {e["statement_id"]: e for e in store.export_statements()}
    assert (exported[sid]["label"], exported[sid]["confidence"]) == ("supporting", 0.71)
    assert exported[sid]["model_version"] == "cue-1"
    assert (
        store.set_labels([(items[1][0], "contrasting", 0.4, "m"), (10**9, "mentioning", 1, "m")])
        == 1
    )
    with pytest.raises(StoreError, match="unknown label 'agrees'"):
        store.set_labels([(sid, "agrees", 0.5, "x")])
    with pytest.raises(StoreError, match=r"not in \[0, 1\]"):
        store.set_labels([(sid, "mentioning", 1.5, "x")])
    assert store.stats()["label_contrasting"] == 1


def test_labels_can_be_written_while_statements_stream(store: Store) -> None:
    save(store, *article("10.5555/a", [ref("bib1", doi="10.5555/x"), ref("bib2")], sentences=5))
    seen = 0
    for statement_id, *_ in store.iter_statements_for_classify(unlabelled_only=True):
        assert store.set_labels([(statement_id, "mentioning", 0.8, "m")]) == 1
        seen += 1
    assert seen == 10
    stats = store.stats()
    assert (stats["label_mentioning"], stats["unlabelled"]) == (10, 0)


def test_full_text_search_finds_the_statement_and_forgets_replaced_ones(store: Store) -> None:
    refs = [ref("bib1", doi="10.5555/x")]
    save(store, *article("10.5555/a", refs, words="Hippocampal replay was observed"))
    query = SEARCH_SQL[is_pg(store)]
    found = rows(store, query, "hippocampal")
    assert len(found) == 2 and all("Hippocampal replay" in text for _, text in found)
    assert len(rows(store, query, "observe")) == 2  # stemmed: "observed" matches
    assert rows(store, query, "cortical") == []
    save(store, *article("10.5555/a", refs, words="Cortical oscillations were absent"))
    assert rows(store, query, "hippocampal") == []
    assert len(rows(store, query, "cortical")) == 2


def test_reader_is_read_only_and_sees_committed_state(store: Store, location: str) -> None:
    save(store, *article("10.5555/a", [ref("bib1", doi="10.5555/x")]))
    if is_pg(location):
        writer: Any = psycopg.connect(location)  # a transaction opens with the first statement
        insert = "INSERT INTO works (key, title) VALUES ('t:new', 'New')"
    else:
        writer = sqlite3.connect(location, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")
        insert = "INSERT INTO works (key, title) VALUES ('t:new', 'New')"
    with closing(writer):
        writer.execute(insert)
        assert store.stats()["works"] == 2
        with store.reader() as conn:
            assert conn.execute("SELECT count(*) FROM works").fetchone()[0] == 2
            with pytest.raises(Exception, match=r"read-?only") as raised:
                conn.execute("DELETE FROM works")
            assert isinstance(
                raised.value, sqlite3.OperationalError | getattr(psycopg, "Error", sqlite3.Error)
            )
        writer.commit()
    assert store.stats()["works"] == 3


def test_export_streams_a_snapshot_while_the_writer_goes_on(store: Store) -> None:
    save(store, *article("10.5555/a", [ref("bib1", doi="10.5555/x")], sentences=3))
    stream = store.export_statements()
    first = next(stream)
    save(store, *article("10.5555/b", [ref("bib1", doi="10.5555/x")], sentences=5), "b.xml")
    rest = list(stream)
    assert [first["citing_doi"], *(r["citing_doi"] for r in rest)] == ["10.5555/a"] * 3
    assert store.stats()["statements"] == 8


def test_bad_input_raises_and_saves_nothing(store: Store) -> None:
    doc, sts = article("10.5555/a", [ref("bib1")])
    sts[0].ref_id = "bib9"
    with pytest.raises(InputError, match=r"a\.xml: a statement cites 'bib9', which is not in the"):
        save(store, doc, sts)
    with pytest.raises(InputError, match="'bib1' appears twice"):
        save(store, *article("10.5555/a", [ref("bib1"), ref("bib1")]))
    assert store.stats()["works"] == 0


def test_schema_migrates_forward_and_refuses_newer(location: str) -> None:
    base = base_migrations(location)
    current = max(version for version, _ in base)
    with open_with(location) as store:
        assert store.schema_version() == current
        save(store, *article("10.5555/old", [], sentences=0))
    later = [*base, (current + 1, "ALTER TABLE works ADD COLUMN language TEXT;")]
    with open_with(location, later) as store:
        assert store.schema_version() == current + 1
        work = store.work_by_doi("10.5555/old")
        assert work["title"] == "Citing article" and work["language"] is None
    with pytest.raises(StoreError, match="newer than this citelens"):
        open_with(location)


def test_failed_migration_changes_nothing(location: str) -> None:
    open_with(location).close()
    base = base_migrations(location)
    current = max(version for version, _ in base)
    broken = [
        *base,
        (current + 1, "CREATE TABLE extra (x INTEGER); INSERT INTO no_such_table VALUES (1);"),
    ]
    with pytest.raises(
        StoreError, match=f"cannot migrate from schema version {current} to {current + 1}"
    ):
        open_with(location, broken)
    with open_with(location) as store:
        assert store.schema_version() == current
        probe = (
            "SELECT to_regclass('extra')"
            if is_pg(location)
            else ("SELECT name FROM sqlite_master WHERE name = 'extra'")
        )
        assert rows(store, probe) in ([(None,)], [])


# -- the same real articles give the same index on both backends ----------------------------


def processed(name: str) -> tuple[Document, list[Statement], str]:
    path = ELIFE / "interlinked-200" / name
    doc = parse_jats(path.read_bytes())
    statements = extract(doc)
    classify_statements(statements, CueBaseline())
    return doc, statements, str(path)


def build(store: Store, articles: list[tuple[Document, list[Statement], str]]) -> None:
    for doc, statements, path in articles:
        store.save_article(doc, statements, source_path=path, source_sha256="f" * 64)
    store.resolve()


def comparable(store: Store) -> list[dict[str, Any]]:
    """Exported statements without their row ids (each backend numbers rows its own way)."""
    return [{k: v for k, v in e.items() if k != "statement_id"} for e in store.export_statements()]


def work_fields(store: Store, doi: str) -> dict[str, Any]:
    work = store.work_by_doi(doi)
    assert work is not None, doi
    return {k: v for k, v in work.items() if k not in {"id", "ingested_at"}}


def assert_same_index(
    tmp_path: Path, pg_url: str, articles: list[tuple[Document, list[Statement], str]]
) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Store `articles` in both backends, resolve, and check they hold the same index."""
    with SqliteStore(tmp_path / "index.db") as lite, PostgresStore(pg_url) as server:
        build(lite, articles)
        build(server, articles)
        stats = server.stats()
        assert stats == lite.stats()
        exported = comparable(server)
        assert exported == comparable(lite)
        for doc, _, _ in articles:
            doi = doc.meta.doi or ""
            assert work_fields(server, doi) == work_fields(lite, doi)
        # Re-ingesting an article (then resolving, as an ingest does) changes nothing.
        build(server, articles[:1])
        assert server.stats() == stats
    return stats, exported


def test_real_articles_give_equal_stats_and_export_on_both_backends(
    tmp_path: Path, pg_url: str
) -> None:
    if not (ELIFE / "interlinked-200").is_dir():
        pytest.skip(f"shared eLife data not found at {ELIFE}")
    articles = [processed(name) for name in (*LINKED_FILES, *MORE_FILES)]
    stats, exported = assert_same_index(tmp_path, pg_url, articles)
    assert (stats["articles"], stats["unlabelled"]) == (6, 0)
    assert 0 < stats["statements"] <= sum(len(sts) for _, sts, _ in articles)
    assert stats["label_mentioning"] > 0
    # The citation links inside the set arrive at the full-text works, by DOI.
    cited = {(e["citing_doi"], e["cited_doi"]) for e in exported if e["match_method"] == "doi"}
    assert {
        ("10.7554/elife.00655", "10.7554/elife.00013"),
        ("10.7554/elife.00655", "10.7554/elife.00367"),
        ("10.7554/elife.00367", "10.7554/elife.00013"),
        ("10.7554/elife.01139", "10.7554/elife.01138"),
        ("10.7554/elife.01139", "10.7554/elife.00642"),
        ("10.7554/elife.01138", "10.7554/elife.00642"),
    } <= cited


@pytest.mark.slow
def test_all_interlinked_articles_give_the_same_index_on_both_backends(
    tmp_path: Path, pg_url: str
) -> None:
    folder = ELIFE / "interlinked-200"
    if not folder.is_dir():
        pytest.skip(f"shared eLife data not found at {folder}")
    articles = [processed(path.name) for path in sorted(folder.glob("*.xml"))]
    stats, _ = assert_same_index(tmp_path, pg_url, articles)
    assert stats["articles"] == len(articles) == 200
    assert stats["resolved_references"] > 0.8 * stats["references"]


# -- PostgreSQL only ---------------------------------------------------------------------------


def test_search_ranks_the_citing_sentence_above_its_neighbours_and_uses_the_index(
    pg_url: str,
) -> None:
    with PostgresStore(pg_url) as store:
        doc, near = article("10.5555/a", [ref("bib1", doi="10.5555/x")], words="Place cells")
        for st in near:
            st.before = "Hippocampal replay was seen before."
        save(store, doc, near)
        save(store, *article("10.5555/b", [ref("bib1")], words="Hippocampal replay"), "b.xml")
        ranked = rows(
            store,
            "SELECT text, ts_rank(search, q) FROM statements, "
            "plainto_tsquery('english', 'hippocampal') q WHERE search @@ q "
            "ORDER BY 2 DESC, id",
        )
        assert len(ranked) == 4
        assert [text.split()[0] for text, _ in ranked] == ["Hippocampal"] * 2 + ["Place"] * 2
        assert ranked[1][1] > ranked[2][1]
        with store.reader() as conn:
            conn.execute("SET LOCAL enable_seqscan = off")
            plan = "\n".join(
                r[0]
                for r in conn.execute(
                    "EXPLAIN SELECT id FROM statements "
                    "WHERE search @@ plainto_tsquery('english', 'hippocampal')"
                )
            )
    assert "statements_search" in plan


def test_open_store_reads_postgres_urls(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for url in (
        pg_url,
        pg_url.replace("postgresql://", "postgres://", 1),
        pg_url.replace("postgresql://", "postgresql+psycopg://", 1),
    ):
        store = open_store(url)
        try:
            assert isinstance(store, PostgresStore) and store.schema.startswith("test_")
        finally:
            store.close()
    with pytest.raises(StoreError, match="no schema of the search_path exists"):
        PostgresStore(with_search_path(PG_URL, "no_such_schema_here"))
    with pytest.raises(StoreError, match="cannot connect to PostgreSQL"):
        PostgresStore("postgresql://nobody:secret@127.0.0.1:1/test", connect_timeout=2)
    monkeypatch.setitem(sys.modules, "psycopg", None)
    monkeypatch.delitem(sys.modules, "citelens.store.postgres")
    with pytest.raises(StoreError, match=r"pip install 'citelens\[postgres\]'"):
        open_store(pg_url)


def test_connection_errors_hide_the_password() -> None:
    if psycopg is None:
        pytest.skip("psycopg is not installed")
    with pytest.raises(StoreError) as raised:
        PostgresStore("postgresql://nobody:s3cret-word@127.0.0.1:1/test", connect_timeout=2)
    assert "s3cret-word" not in str(raised.value)
    assert "postgresql://nobody@127.0.0.1:1/test" in str(raised.value)


def test_concurrent_writers_share_stub_works(pg_url: str) -> None:
    shared = [ref("bib1", title="A shared book", year=2001), ref("bib2", doi="10.5555/shared")]
    failures: list[BaseException] = []

    def ingest(prefix: str) -> None:
        try:
            with PostgresStore(pg_url) as store:
                for n in range(8):
                    save(store, *article(f"10.5555/{prefix}{n}", shared), f"{prefix}{n}.xml")
        except BaseException as exc:  # reported below: a thread cannot fail the test itself
            failures.append(exc)

    PostgresStore(pg_url).close()  # the schema exists first: the race is over stub works
    threads = [threading.Thread(target=ingest, args=(p,)) for p in ("a", "b", "c")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []
    with PostgresStore(pg_url) as store:
        stats = store.stats()
        assert (stats["articles"], stats["works"], stats["statements"]) == (24, 26, 24 * 4)
        assert rows(store, "SELECT count(DISTINCT cited_work_id) FROM refs") == [(2,)]


def test_stores_opening_a_fresh_schema_at_once_migrate_it_once(pg_url: str) -> None:
    versions: list[int] = []
    failures: list[BaseException] = []

    def open_one() -> None:
        try:
            with PostgresStore(pg_url) as store:
                versions.append(store.schema_version())
        except BaseException as exc:  # reported below: a thread cannot fail the test itself
            failures.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == [] and versions == [1] * 4


KILLED_INGEST = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from test_store_backends import article, ref
    from citelens.store.postgres import PostgresStore

    store = PostgresStore({url!r})
    refs = [ref(f"bib{{i}}", doi=f"10.5555/r{{i}}") for i in range(1, 201)]
    doc, sts = article("10.5555/a", refs, sentences=20, words="Replacement statement text")
    last_step = PostgresStore._drop_orphan_stubs

    def stall(conn, candidates):
        last_step(conn, candidates)  # every row is written; only the commit is missing
        Path({marker!r}).touch()
        time.sleep(600)

    if {stall!r}:
        PostgresStore._drop_orphan_stubs = staticmethod(stall)
    store.save_article(doc, sts, source_path="a.xml", source_sha256="1" * 64)
    print(store.stats()["statements"])
    """
)


def test_killed_ingest_leaves_article_as_before(tmp_path: Path, pg_url: str) -> None:
    with PostgresStore(pg_url) as store:
        save(store, *article("10.5555/a", [ref("bib1", doi="10.5555/x")], words="Original"))
        before = store.stats()
    marker = tmp_path / "in-transaction"
    script = KILLED_INGEST.format(
        tests=str(Path(__file__).parent), url=pg_url, marker=str(marker), stall=True
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "ingest never reached the end of its transaction"
            time.sleep(0.05)
        with PostgresStore(pg_url) as store:
            assert store.stats() == before  # readers do not wait for the open transaction
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    with PostgresStore(pg_url) as store:
        assert store.stats() == before
        assert rows(store, "SELECT count(*) FROM statements WHERE text LIKE 'Replacement%'") == [
            (0,)
        ]
    # The dead writer's lock went with its connection: the next ingest runs to the end.
    finished = subprocess.run(
        [sys.executable, "-c", script.replace("if True:", "if False:")],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert int(finished.stdout.strip()) == 200 * 20
    with PostgresStore(pg_url) as store:
        assert rows(store, "SELECT count(*) FROM statements WHERE text LIKE 'Original%'") == [(0,)]


def test_cli_ingest_and_stats_on_postgres(tmp_path: Path, pg_url: str) -> None:
    if not (ELIFE / "interlinked-200").is_dir():
        pytest.skip(f"shared eLife data not found at {ELIFE}")
    from citelens.cli import cli

    paths = [str(ELIFE / "interlinked-200" / name) for name in LINKED_FILES]
    runner = CliRunner()
    shown = {}
    for db in (pg_url, str(tmp_path / "index.db")):
        ingest = ["--db", db, "ingest", "--classifier", "baseline", "--no-progress", *paths]
        ingested = runner.invoke(cli, ingest)
        assert ingested.exit_code == 0, ingested.output
        assert "failures: 0" in ingested.output
        stats = runner.invoke(cli, ["--db", db, "stats", "--json"])
        assert stats.exit_code == 0, stats.output
        shown[db] = json.loads(stats.output)
        again = runner.invoke(cli, ingest)
        assert again.exit_code == 0 and "3 unchanged, skipped" in again.output
    on_server = shown[pg_url]
    assert on_server == shown[str(tmp_path / "index.db")]
    assert (on_server["articles"], on_server["unlabelled"]) == (3, 0)
    assert on_server["statements"] > 100
