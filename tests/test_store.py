"""SqliteStore on real files in tmp_path: save, replace, link, self-citation, FTS, readers,
migrations, and a real SIGKILL in the middle of an ingest. Behaviour every backend shares is
also held in tests/test_store_backends.py, which runs on this store too."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from citelens.errors import InputError, StoreError
from citelens.model import (
    Author,
    BibEntry,
    Document,
    Label,
    Paragraph,
    SectionType,
    Span,
    Statement,
    WorkMeta,
)
from citelens.store import Store, open_store
from citelens.store.sqlite import MIGRATIONS, SCHEMA_VERSION, SqliteStore

SMITH = Author("Smith", "John")
JONES = Author("Jones", "Kate", "0000-0002-1825-0097")


def ref(
    ref_id: str,
    *,
    doi: str | None = None,
    pmid: str | None = None,
    title: str | None = "A study of things",
    year: int | None = 2010,
    authors: Sequence[Author] = (Author("Other", "Ann"),),
) -> BibEntry:
    return BibEntry(
        ref_id=ref_id,
        order=int(ref_id.removeprefix("bib")) if ref_id.startswith("bib") else 0,
        authors=list(authors),
        title=title,
        source="Journal of Tests",
        year=year,
        doi=doi,
        pmid=pmid,
        raw=f"{authors[0].family if authors else ''} {year} {title} Journal of Tests",
    )


def article(
    doi: str | None,
    refs: Sequence[BibEntry],
    *,
    title: str | None = "Citing article",
    year: int = 2016,
    authors: Sequence[Author] = (SMITH,),
    sentences: int = 2,
    words: str = "Earlier work measured the effect",
    pmid: str | None = None,
) -> tuple[Document, list[Statement]]:
    """A citing article whose every sentence cites every reference once."""
    statements = []
    for sentence in range(sentences):
        for ref_entry in refs:
            callout = f"[{ref_entry.ref_id}]"
            text = f"{words} number {sentence} {callout}."
            start = text.index(callout)
            statements.append(
                Statement(
                    ref_id=ref_entry.ref_id,
                    text=text,
                    before="A sentence before.",
                    after="A sentence after.",
                    callouts=[Span(start, start + len(callout))],
                    other_callouts=[],
                    section_title="Introduction",
                    section_type=SectionType.INTRODUCTION,
                    paragraph=0,
                    sentence=sentence,
                )
            )
    meta = WorkMeta(
        doi=doi,
        pmid=pmid,
        title=title,
        year=year,
        journal="eLife",
        publication_type="research-article",
        authors=list(authors),
    )
    paragraph = Paragraph(
        " ".join(s.text for s in statements), [], "Introduction", SectionType.INTRODUCTION
    )
    return Document(meta, [paragraph], list(refs), "jats"), statements


def save(store: Store, doc: Document, statements: list[Statement], name: str = "a.xml") -> Any:
    return store.save_article(doc, statements, source_path=name, source_sha256="0" * 64)


@pytest.fixture
def store(tmp_path: Path):
    with SqliteStore(tmp_path / "index.db") as opened:
        yield opened


def rows(store: SqliteStore, sql: str, *params: object) -> list[tuple]:
    with store.reader() as conn:
        return [tuple(r) for r in conn.execute(sql, params)]


def test_save_and_read_back(store: SqliteStore) -> None:
    doc, sts = article(
        "10.5555/a", [ref("bib1", doi="10.5555/x"), ref("bib2", title="Other thing")]
    )
    saved = save(store, doc, sts)
    assert (saved.statements, saved.references, saved.replaced) == (4, 2, False)
    assert saved.key == "doi:10.5555/a"
    stats = store.stats()
    assert stats["articles"] == 1
    assert stats["works"] == 3  # the article and two cited works
    assert stats["references"] == 2
    assert stats["resolved_references"] == 1  # only the DOI one; the other has identity only
    assert stats["statements"] == 4
    assert stats["unlabelled"] == 4
    exported = list(store.export_statements())
    assert len(exported) == 4
    first = exported[0]
    assert first["citing_doi"] == "10.5555/a"
    assert first["cited_doi"] == "10.5555/x"
    assert first["cited_key"] == "doi:10.5555/x"
    assert first["match_method"] == "doi"
    assert first["section_type"] == "introduction"
    start, end = first["callouts"][0]
    assert first["text"][start:end] == "[bib1]"
    no_doi = [e for e in exported if e["ref_id"] == "bib2"]
    assert {e["cited_doi"] for e in no_doi} == {None}
    assert {e["match_method"] for e in no_doi} == {"identity"}
    assert no_doi[0]["cited_key"].startswith("t:")
    work = store.work_by_doi("https://doi.org/10.5555/A")
    assert (
        work is not None and work["has_full_text"] == 1 and work["authors"][0]["family"] == "Smith"
    )
    assert store.work_by_doi("10.5555/nothing") is None
    denorm = rows(store, "SELECT DISTINCT citing_year, citing_type, citing_journal FROM statements")
    assert denorm == [(2016, "research-article", "eLife")]


def test_stub_becomes_the_full_text_work(store: SqliteStore) -> None:
    doc_a, sts_a = article("10.5555/a", [ref("bib1", doi="10.5555/b")])
    saved_a = save(store, doc_a, sts_a)
    stub_id = store.work_by_doi("10.5555/b")["id"]
    doc_b, sts_b = article("10.5555/b", [ref("bib1", doi="10.5555/z")], title="Cited article")
    saved_b = save(store, doc_b, sts_b, "b.xml")
    assert saved_b.work_id == stub_id and not saved_b.replaced
    assert store.work_by_doi("10.5555/b")["title"] == "Cited article"
    assert rows(
        store,
        "SELECT DISTINCT cited_work_id FROM statements WHERE citing_work_id = ?",
        saved_a.work_id,
    ) == [(stub_id,)]


def test_pmid_links_and_pmid_stub_merges_into_article(store: SqliteStore) -> None:
    doc_a, sts_a = article("10.5555/a", [ref("bib1", pmid="123")])
    save(store, doc_a, sts_a)
    assert rows(store, "SELECT key FROM works WHERE has_full_text = 0") == [("pmid:123",)]
    doc_b, sts_b = article("10.5555/b", [], pmid="123", sentences=0)
    saved_b = save(store, doc_b, sts_b, "b.xml")
    assert rows(store, "SELECT DISTINCT cited_work_id FROM refs WHERE match_method = 'pmid'") == [
        (saved_b.work_id,)
    ]
    assert store.stats()["works"] == 2
    doc_c, sts_c = article("10.5555/c", [ref("bib1", pmid="123")])
    save(store, doc_c, sts_c, "c.xml")
    assert rows(store, "SELECT count(DISTINCT cited_work_id) FROM refs") == [(1,)]


def test_articles_sharing_a_wrong_pmid_stay_apart(store: SqliteStore) -> None:
    first = save(store, *article("10.5555/a", [ref("bib1")], pmid="42"))
    second = save(store, *article("10.5555/b", [ref("bib1")], pmid="42"), "b.xml")
    assert first.work_id != second.work_id and not second.replaced
    assert store.work_by_doi("10.5555/a")["source_path"] == "a.xml"
    assert store.stats()["articles"] == 2


def test_self_citation_by_orcid_and_by_name(store: SqliteStore) -> None:
    refs = [
        ref("bib1", authors=[Author("Jones", "K.", "https://orcid.org/0000-0002-1825-0097")]),
        ref("bib2", authors=[Author("Other", "A"), Author("Smith", "J.")]),
        ref("bib3", authors=[Author("Smith", "Peter")]),  # same family, other initial
        ref("bib4", authors=[Author("Jonas", "K")]),
    ]
    doc, sts = article(
        "10.5555/a", refs, authors=[SMITH, Author("Jonés", "Karl", "0000-0002-1825-0097")]
    )
    save(store, doc, sts)
    flags = dict(rows(store, "SELECT ref_id, max(self_citation) FROM statements GROUP BY ref_id"))
    assert flags == {"bib1": 1, "bib2": 1, "bib3": 0, "bib4": 0}


def test_fuzzy_resolution_links_doi_less_reference_to_indexed_article(store: SqliteStore) -> None:
    target_title = "Dynamics of membrane proteins in living cells"
    # A cites the work without a DOI, as printed: year off by one, a typo, first author only.
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
    before = rows(store, "SELECT self_citation FROM statements WHERE ref_id = 'bib1'")
    assert before == [(0,), (0,)]
    # The cited article is indexed later, with a DOI and its full author list (Kim is second).
    doc_b, sts_b = article(
        "10.5555/b",
        [ref("bib1", doi="10.5555/q")],
        title=target_title,
        year=2015,
        authors=[Author("Lee", "Min"), Author("Kim", "Soo")],
    )
    saved_b = save(store, doc_b, sts_b, "b.xml")
    works_before = store.stats()["works"]
    summary = store.resolve()
    assert summary.by_method.get("fuzzy") == 1
    linked = rows(
        store,
        "SELECT cited_work_id, match_method, match_score FROM refs "
        "WHERE ref_id = 'bib1' AND citing_work_id != ?",
        saved_b.work_id,
    )
    assert linked[0][:2] == (saved_b.work_id, "fuzzy") and 90 <= linked[0][2] < 100
    assert rows(
        store,
        "SELECT DISTINCT cited_work_id, self_citation FROM statements "
        "WHERE ref_id = 'bib1' AND citing_work_id != ?",
        saved_b.work_id,
    ) == [(saved_b.work_id, 1)]
    assert rows(store, "SELECT match_method FROM refs WHERE ref_id = 'bib2'") == [("identity",)]
    assert store.stats()["works"] == works_before - 1  # the orphaned stub is gone
    assert store.resolve() == summary  # idempotent


def test_fts_finds_statement_and_forgets_replaced_ones(store: SqliteStore) -> None:
    refs = [ref("bib1", doi="10.5555/x")]
    save(store, *article("10.5555/a", refs, words="Hippocampal replay was observed"))
    query = (
        "SELECT s.id, s.text FROM statements_fts JOIN statements s "
        "ON s.id = statements_fts.rowid WHERE statements_fts MATCH ?"
    )
    found = rows(store, query, "hippocampal")
    assert len(found) == 2 and all("Hippocampal" in text for _, text in found)
    assert len(rows(store, query, "observe")) == 2  # porter stemming
    save(store, *article("10.5555/a", refs, words="Cortical oscillations were absent"))
    assert rows(store, query, "hippocampal") == []
    assert len(rows(store, query, "cortical")) == 2
    # The external-content index agrees with its table row for row.
    store._conn.execute("INSERT INTO statements_fts(statements_fts) VALUES ('integrity-check')")


def test_reader_sees_old_state_during_open_write(store: SqliteStore, tmp_path: Path) -> None:
    save(store, *article("10.5555/a", [ref("bib1", doi="10.5555/x")]))
    writer = sqlite3.connect(tmp_path / "index.db", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO works (key, title) VALUES ('t:new', 'New')")
    with store.reader() as conn:
        assert conn.execute("SELECT count(*) FROM works").fetchone()[0] == 2
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            conn.execute("DELETE FROM works")
    writer.execute("COMMIT")
    writer.close()
    with store.reader() as conn:
        assert conn.execute("SELECT count(*) FROM works").fetchone()[0] == 3


def test_v1_database_opens_and_migrates(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    raw = sqlite3.connect(path)
    raw.executescript(MIGRATIONS[0][1])
    raw.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    raw.execute(
        "INSERT INTO works (key, doi, title) VALUES ('doi:10.5555/old', '10.5555/old', 'Old')"
    )
    raw.commit()
    raw.close()
    with SqliteStore(path) as store:
        assert store.schema_version() == SCHEMA_VERSION == 2
        assert store.work_by_doi("10.5555/old")["title"] == "Old"
        assert rows(store, "SELECT count(*) FROM report_counts") == [(0,)]
    v3 = [*MIGRATIONS, (3, "ALTER TABLE works ADD COLUMN language TEXT;")]
    with SqliteStore(path, migrations=v3) as store:
        assert store.schema_version() == 3
        assert store.work_by_doi("10.5555/old")["language"] is None
    with pytest.raises(StoreError, match="newer than this citelens"):
        SqliteStore(path)


def test_failed_migration_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "index.db"
    SqliteStore(path).close()
    step = SCHEMA_VERSION + 1
    broken = [*MIGRATIONS, (step, "CREATE TABLE extra (x); INSERT INTO no_such_table VALUES (1);")]
    with pytest.raises(
        StoreError, match=f"cannot migrate from schema version {SCHEMA_VERSION} to {step}"
    ):
        SqliteStore(path, migrations=broken)
    with SqliteStore(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert rows(store, "SELECT name FROM sqlite_master WHERE name = 'extra'") == []


def test_bad_input_raises_and_saves_nothing(store: SqliteStore, tmp_path: Path) -> None:
    doc, sts = article("10.5555/a", [ref("bib1")])
    sts[0].ref_id = "bib9"
    with pytest.raises(InputError, match=r"a\.xml: a statement cites 'bib9', which is not in the"):
        save(store, doc, sts)
    twice = [ref("bib1"), ref("bib1")]
    with pytest.raises(InputError, match="'bib1' appears twice"):
        save(store, *article("10.5555/a", twice))
    assert store.stats()["works"] == 0
    not_db = tmp_path / "notes.txt"
    not_db.write_text("this is not a database at all, " * 100)
    with pytest.raises(StoreError, match="cannot open as a citelens index"):
        SqliteStore(not_db)
    with pytest.raises(StoreError, match="does not exist"):
        SqliteStore(tmp_path / "missing" / "index.db")


def test_labels_round_trip(store: SqliteStore) -> None:
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
    assert (
        exported[sid]["label"],
        exported[sid]["confidence"],
        exported[sid]["model_version"],
    ) == (
        Label.SUPPORTING.value,
        0.71,
        "cue-1",
    )
    with pytest.raises(StoreError, match="unknown label 'agrees'"):
        store.set_labels([(sid, "agrees", 0.5, "x")])
    with pytest.raises(StoreError, match="not in \\[0, 1\\]"):
        store.set_labels([(sid, "mentioning", 1.5, "x")])


def test_article_without_any_identity_is_keyed_by_its_bytes(store: SqliteStore) -> None:
    doc, sts = article(None, [ref("bib1")], title=None)
    saved = store.save_article(doc, sts, source_path="x.xml", source_sha256="ab" * 32)
    assert saved.key == "sha:" + "ab" * 32


def test_open_store_picks_backend_from_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(str(tmp_path / "plain.db"))
    assert isinstance(store, SqliteStore)
    store.close()
    store = open_store(f"sqlite:///{tmp_path / 'url.db'}")  # four slashes: absolute
    assert isinstance(store, SqliteStore) and store.path == tmp_path / "url.db"
    store.close()
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///relative.db")
    assert store.path.resolve() == tmp_path / "relative.db"
    store.close()
    # Port 1 answers nobody: the server backend is picked, and says it cannot connect.
    with pytest.raises(StoreError, match="cannot connect to PostgreSQL"):
        open_store("postgresql://nobody@127.0.0.1:1/test")
    with pytest.raises(StoreError, match="unknown store scheme 'mysql'"):
        open_store("mysql://localhost/db")


KILLED_INGEST = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from test_store import article, ref
    from citelens.store.sqlite import SqliteStore

    store = SqliteStore({db!r})
    store._conn.execute("PRAGMA cache_size = 20")  # spill uncommitted pages into the WAL
    refs = [ref(f"bib{{i}}", doi=f"10.5555/r{{i}}") for i in range(400)]
    doc, sts = article("10.5555/a", refs, sentences=60, words="Replacement statement text")
    calls = 0

    def stall() -> int:
        global calls
        calls += 1
        if calls >= 3000 and store._conn.in_transaction:
            Path({marker!r}).touch()
            time.sleep(600)
        return 0

    if {stall!r}:
        store._conn.set_progress_handler(stall, 1000)
    store.save_article(doc, sts, source_path="a.xml", source_sha256="1" * 64)
    print(store.stats()["statements"])
    """
)


def test_killed_ingest_leaves_article_as_before(tmp_path: Path) -> None:
    db = tmp_path / "index.db"
    marker = tmp_path / "in-transaction"
    with SqliteStore(db) as store:
        save(
            store, *article("10.5555/a", [ref("bib1", doi="10.5555/x")], words="Original statement")
        )
        before = store.stats()
    wal = Path(f"{db}-wal")
    wal_before = wal.stat().st_size if wal.exists() else 0
    script = KILLED_INGEST.format(
        tests=str(Path(__file__).parent), db=str(db), marker=str(marker), stall=True
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, "ingest never reached the middle of its transaction"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert wal.stat().st_size > wal_before  # uncommitted pages had reached the disk
    with SqliteStore(db) as store:
        assert rows(store, "PRAGMA integrity_check") == [("ok",)]
        assert store.stats() == before
        assert rows(store, "SELECT count(*) FROM statements WHERE text LIKE 'Replacement%'") == [
            (0,)
        ]
    finished = subprocess.run(
        [sys.executable, "-c", script.replace("if True:", "if False:")],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    assert int(finished.stdout.strip()) == 400 * 60
    with SqliteStore(db) as store:
        assert store.stats()["articles"] == 1
        assert rows(store, "SELECT count(*) FROM statements WHERE text LIKE 'Original%'") == [(0,)]
