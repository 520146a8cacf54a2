"""Report tallies kept by triggers: equal to a recount from the statements after every kind of
write, and the reports they serve equal to the reports computed from the statements' table."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from tests.webfixtures import TARGET_DOI, build_small_index, real_index

from citelens import report
from citelens.store.sqlite import SqliteStore

LABELS = ("supporting", "mentioning", "contrasting")


def recount(conn: sqlite3.Connection) -> Counter[tuple[Any, ...]]:
    """Every tally recomputed in Python from statements and the works' author JSON."""
    authors = {
        wid: set(report.author_names(js))
        for wid, js in conn.execute("SELECT id, authors FROM works WHERE has_full_text = 1")
    }
    counts: Counter[tuple[Any, ...]] = Counter()
    sentences: Counter[tuple[Any, ...]] = Counter()
    for cited, citing, para, sent, label, section, year, ptype, journal, self_cit in conn.execute(
        "SELECT cited_work_id, citing_work_id, paragraph, sentence, label, section_type,"
        " citing_year, citing_type, citing_journal, self_citation FROM statements"
        " WHERE cited_work_id IS NOT NULL"
    ):
        label = label if label in LABELS else "unclassified"
        counts[cited, "section", f"{section}/{label}"] += 1
        counts[cited, "year", year or 0] += 1
        counts[cited, "publication_type", ptype or "unknown"] += 1
        counts[cited, "self", self_cit] += 1
        counts[cited, "journal", journal or ""] += 1
        for name in authors.get(citing, ()):
            counts[cited, "author", name] += 1
        sentences[cited, citing, para, sent] += 1
    for (cited, *_), n in sentences.items():
        if n > 1:
            counts[cited, "duplicates", ""] += n - 1
    return counts


def stored(conn: sqlite3.Connection) -> Counter[tuple[Any, ...]]:
    names = dict(conn.execute("SELECT id, name FROM author_names"))
    out: Counter[tuple[Any, ...]] = Counter()
    for cited, facet, value, n in conn.execute(
        "SELECT cited_work_id, facet, value, n FROM report_counts WHERE n != 0"
    ):
        out[cited, facet, names[value] if facet == "author" else value] = n
    return out


def test_tallies_follow_inserts_deletes_updates_and_duplicates(tmp_path: Path) -> None:
    path = build_small_index(tmp_path / "index.db")
    SqliteStore(path).close()  # adds the tallies to the finished file: the backfill
    conn = sqlite3.connect(path)
    assert stored(conn) == recount(conn)
    assert stored(conn)[1, "duplicates", ""] == 1
    steps = [
        # a classifier relabels; resolve repoints a statement and flags a self-citation
        "UPDATE statements SET label = 'contrasting', confidence = 0.5 WHERE id = 3",
        "UPDATE statements SET cited_work_id = 5, self_citation = 1 WHERE id = 7",
        # a third row for a duplicated sentence, then the first of them deleted
        "INSERT INTO refs (id, citing_work_id, ref_id, ord, cited_work_id) VALUES"
        " (12, 2, 'bib3', 2, 1)",
        "INSERT INTO statements (citing_work_id, ref_row_id, cited_work_id, ref_id, paragraph,"
        " sentence, section_type, text, callouts, citing_year) VALUES (2, 12, 1, 'bib3', 0, 1,"
        " 'introduction', 'Zebrafish regrow fins (Lovelace 2012).', '[]', 2014)",
        "DELETE FROM statements WHERE id = 1",
        # a citing article re-ingested: its statements go, its authors change, new ones come
        "DELETE FROM statements WHERE citing_work_id = 4",
        "UPDATE works SET authors = '[{\"family\": \"Franklin\", \"given\": \"Rosalind\"}]'"
        " WHERE id = 4",
        "INSERT INTO statements (citing_work_id, ref_row_id, cited_work_id, ref_id, paragraph,"
        " sentence, section_type, text, callouts, label, citing_year, citing_journal) VALUES"
        " (4, 30, 1, 'bib1', 1, 0, 'methods', 'As in Lovelace (2012).', '[]', 'mentioning',"
        " 2018, 'bioRxiv')",
        "DELETE FROM statements WHERE citing_work_id = 2",
    ]
    for sql in steps:
        conn.execute(sql)
        conn.commit()
        assert stored(conn) == recount(conn), sql
    assert stored(conn)[1, "author", "Rosalind Franklin"] == 1
    assert stored(conn)[1, "duplicates", ""] == 0


def test_counted_report_equals_table_report_on_the_hand_made_index(tmp_path: Path) -> None:
    path = build_small_index(tmp_path / "index.db")
    SqliteStore(path).close()
    with sqlite3.connect(path) as writer:
        # Without the duplicated row the tallies can serve the target's report.
        writer.execute("DELETE FROM statements WHERE ref_row_id = 11")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    assert report._counted_numbers(conn, 1) is not None
    r = report.build_report(conn, TARGET_DOI)
    assert (r["statements"], r["citing_publications"], r["supporting"]) == (6, 3, 2)
    assert_same_report(conn, 1)


def table_numbers(conn: sqlite3.Connection, work_id: int) -> tuple[Any, Any]:
    rows = conn.execute(report._FACET_SQL + " WHERE s.cited_work_id = ?", (work_id,)).fetchall()
    table = report._table_of(conn, rows)
    facets = report.filter_and_facet(table, report.StatementFilters())[1]
    return table, (report.tally(table), facets)


def assert_same_report(conn: sqlite3.Connection, work_id: int) -> None:
    table, expected = table_numbers(conn, work_id)
    counted = report._counted_numbers(conn, work_id)
    assert counted == expected, work_id
    work = conn.execute(
        "SELECT id, doi, title, year, journal, publication_type, authors, has_full_text, notices"
        " FROM works WHERE id = ?",
        (work_id,),
    ).fetchone()
    for sort in report.SORTS:
        for page in (1, 2):
            fast = report._counted_page(conn, work, counted, sort, page, 7)
            slow = report._statements_of(
                conn, work, table, report.StatementFilters(), sort, page, 7
            )
            assert [i["id"] for i in fast["items"]] == [i["id"] for i in slow["items"]], sort
            assert fast["total"] == slow["total"] and fast["pages"] == slow["pages"]


def test_real_index_tallies_and_reports(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    source = real_index(tmp_path_factory)
    path = tmp_path / "copy.db"
    with sqlite3.connect(source) as src, sqlite3.connect(path) as dst:
        src.backup(dst)
    conn = sqlite3.connect(path)
    # Written by the triggers while the pipeline ingested the articles.
    assert stored(conn) == recount(conn)
    cited = [
        row[0]
        for row in conn.execute(
            "SELECT cited_work_id FROM statements GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 12"
        )
    ]
    for work_id in cited:
        assert_same_report(conn, work_id)
    # Re-ingesting an article replaces its statements: the tallies follow.
    from tests.webfixtures import INTERLINKED

    from citelens.pipeline import ingest

    files = sorted(INTERLINKED.glob("*.xml"))[:3]
    store = SqliteStore(path)
    try:
        ingest(files, store, classifier="default", progress=False)
    finally:
        store.close()
    assert stored(conn) == recount(conn)
