"""Report queries over a hand-made index: tallies, facets, filters, ordering, search, summary."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from tests.webfixtures import TARGET_DOI, XSS, build_small_index

from citelens import report
from citelens.errors import NotFound, QueryError


@pytest.fixture()
def conn(tmp_path: Path) -> sqlite3.Connection:
    path = build_small_index(tmp_path / "index.db")
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    yield connection
    connection.close()


def test_report_counts_each_sentence_once(conn: sqlite3.Connection) -> None:
    r = report.build_report(conn, TARGET_DOI)
    # 7 rows cite the target; one sentence is stored twice through a duplicated bib entry.
    assert r["statements"] == 6
    assert r["citing_publications"] == 3
    assert (r["supporting"], r["mentioning"], r["contrasting"]) == (2, 3, 1)
    assert r["references"] == 3
    assert r["sections"]["introduction"]["statements"] == 2
    assert r["sections"]["results"]["supporting"] == 2
    assert r["sections"]["conclusion"]["statements"] == 0
    assert r["authors"] == ["Ada Lovelace", "Alan Turing"]
    facets = {f["value"]: f["count"] for f in r["facets"]["relationship"]}
    assert facets == {"independent": 4, "self": 2}


def test_report_accepts_doi_forms_and_rejects_unknown(conn: sqlite3.Connection) -> None:
    assert report.build_report(conn, "https://doi.org/10.1234/TARGET.1")["doi"] == TARGET_DOI
    with pytest.raises(NotFound, match=r"10\.1234/nope"):
        report.build_report(conn, "10.1234/nope")
    # A cited-only work has a report but no reference count.
    assert report.build_report(conn, "10.1234/cited.e")["references"] is None


def test_statement_pages_never_repeat(conn: sqlite3.Connection) -> None:
    seen = []
    for page in (1, 2, 3):
        result = report.list_statements(conn, TARGET_DOI, page=page, page_size=2)
        assert result["total"] == 6
        seen += [item["id"] for item in result["items"]]
    assert len(seen) == len(set(seen)) == 6
    texts = [i["text"] for i in report.list_statements(conn, TARGET_DOI, page_size=100)["items"]]
    assert len(texts) == len(set(texts))


def test_filters_combine_and_facets_count_other_filters(conn: sqlite3.Connection) -> None:
    result = report.list_statements(
        conn, TARGET_DOI, {"type": "supporting", "section": ["results"], "year_from": 2015}
    )
    assert result["total"] == 1
    assert result["items"][0]["citing"]["doi"] == "10.1234/citer.d"
    type_counts = {o["value"]: o["count"] for o in result["facets"]["type"]}
    # type facet ignores its own filter: results sections from 2015 on hold one of each kind
    assert type_counts == {"supporting": 1, "mentioning": 0, "contrasting": 0}
    years = {o["value"]: o["count"] for o in result["facets"]["year"]}
    assert years == {2014: 1, 2018: 1}
    authors = {o["value"] for o in report.build_report(conn, TARGET_DOI)["facets"]["author"]}
    assert {"Barbara McClintock", "Ada Lovelace", "Carl Woese"} <= authors
    by_author = report.list_statements(conn, TARGET_DOI, {"author": "Carl Woese"})
    assert by_author["total"] == 2
    self_only = report.list_statements(conn, TARGET_DOI, {"relationship": "self"})
    assert {i["citing"]["doi"] for i in self_only["items"]} == {"10.1234/citer.c"}
    journal = report.list_statements(conn, TARGET_DOI, {"journal": "bioRxiv"})
    assert journal["total"] == 2
    preprints = report.list_statements(conn, TARGET_DOI, {"publication_type": "preprint"})
    assert preprints["total"] == 2


def test_orderings(conn: sqlite3.Connection) -> None:
    relevance = report.list_statements(conn, TARGET_DOI, page_size=100)["items"]
    assert [i["label"] for i in relevance[:3]] == ["supporting", "contrasting", "supporting"]
    assert relevance[0]["confidence"] == pytest.approx(0.71)
    newest = report.list_statements(conn, TARGET_DOI, sort="newest", page_size=100)["items"]
    years = [i["citing"]["year"] for i in newest]
    assert years == sorted(years, reverse=True)
    oldest = report.list_statements(conn, TARGET_DOI, sort="oldest", page_size=100)["items"]
    assert [i["citing"]["year"] for i in oldest] == sorted(years)
    with pytest.raises(QueryError):
        report.list_statements(conn, TARGET_DOI, sort="random")


def test_search_ranks_and_highlights(conn: sqlite3.Connection) -> None:
    result = report.list_statements(conn, TARGET_DOI, {"q": "blastema"})
    assert result["total"] == 2
    item = result["items"][0]
    spans = item["highlights"]["text"]
    assert spans and all(item["text"][s:e].lower() == "blastema" for s, e in spans)
    # porter stemming: "hearts" matches "heart"
    assert report.list_statements(conn, TARGET_DOI, {"q": "heart"})["total"] == 2


@pytest.mark.parametrize("q", ['"unbalanced', "AND OR", "fins AND", "text:", "NEAR(", "x'; --"])
def test_malformed_queries_fall_back_to_words(conn: sqlite3.Connection, q: str) -> None:
    result = report.list_statements(conn, TARGET_DOI, {"q": q})
    assert result["total"] >= 0
    assert result["fts_query"] is not None


@pytest.mark.parametrize("q", ["*", "   ", '""', "((("])
def test_queries_without_words_are_query_errors(conn: sqlite3.Connection, q: str) -> None:
    with pytest.raises(QueryError):
        report.list_statements(conn, TARGET_DOI, {"q": q})


def test_bad_filters_and_pages_are_query_errors(conn: sqlite3.Connection) -> None:
    for bad in ({"type": "angry"}, {"section": "preface"}, {"year_from": "soon"}, {"color": 1}):
        with pytest.raises(QueryError):
            report.list_statements(conn, TARGET_DOI, bad)
    with pytest.raises(QueryError):
        report.list_statements(conn, TARGET_DOI, page_size=101)
    with pytest.raises(QueryError):
        report.list_statements(conn, TARGET_DOI, page=0)


def test_search_across_index_and_find_works(conn: sqlite3.Connection) -> None:
    found = report.search_statements(conn, "Noether")
    assert found["total"] == 1
    assert found["items"][0]["cited"]["doi"] == "10.1234/cited.e"
    works = report.find_works(conn, "regeneration")
    assert [w["doi"] for w in works] == [TARGET_DOI, "10.1234/citer.c"]
    assert report.find_works(conn, "zebrafish fin")[0]["statements"] == 6
    assert report.find_works(conn, "doi:10.1234/TARGET.1")[0]["doi"] == TARGET_DOI
    assert report.find_works(conn, "100%_") == []
    counts = report.index_counts(conn)
    assert counts == {"articles": 4, "works": 5, "references": 7, "statements": 8}


def test_references_of_tallies_own_statements(conn: sqlite3.Connection) -> None:
    refs = report.references_of(conn, TARGET_DOI)
    assert refs["references"] == 3
    first = refs["items"][0]
    assert first["doi"] == "10.1234/cited.e" and first["statements"] == 1
    assert first["mentioning"] == 1 and first["cited_by_statements"] == 1


def test_segments_mark_callouts_and_matches_without_markup() -> None:
    text = "A <b> cites Smith (2001) here."
    segments = report.mark_segments(text, [[12, 24]], [(0, 1), (50, 60)])
    assert "".join(s["text"] for s in segments) == text
    assert [s["text"] for s in segments if s["callout"]] == ["Smith (2001)"]
    assert [s["text"] for s in segments if s["match"]] == ["A"]
    assert report.split_marked("a \x02bc\x03 d") == ("a bc d", [(2, 4)])


def test_summary_says_the_numbers(conn: sqlite3.Connection) -> None:
    text = report.build_report(conn, TARGET_DOI)["summary"]
    assert "3 publications" in text and "6 citation statements" in text
    assert "2 statements support it (mostly in Results)" in text
    assert "1 statement contrasts it" in text
    assert XSS not in text


def test_cached_report_sees_new_statements(tmp_path: Path) -> None:
    path = build_small_index(tmp_path / "index.db")
    reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    assert report.build_report(reader, TARGET_DOI)["statements"] == 6
    writer = sqlite3.connect(path)
    writer.execute(
        "INSERT INTO statements (citing_work_id, ref_row_id, cited_work_id, ref_id, paragraph,"
        " sentence, section_type, text, callouts, label, confidence, citing_year)"
        " VALUES (4, 30, 1, 'bib1', 9, 9, 'discussion', 'Unlike Lovelace (2012).', '[]',"
        " 'contrasting', 0.9, 2018)"
    )
    writer.commit()
    writer.close()
    again = report.build_report(reader, TARGET_DOI)
    assert (again["statements"], again["contrasting"]) == (7, 2)
    reader.close()


FILTER_CASES = [
    {},
    {"type": ["mentioning"]},
    {"type": ["supporting", "contrasting"], "relationship": "independent"},
    {"section": ["introduction", "results"], "year_to": 2016},
    {"author": ["Ada Lovelace"], "type": ["mentioning"]},
    {"journal": ["eLife", "Cell"], "publication_type": ["research-article"]},
    {"year_from": 2015, "relationship": "self"},
]


@pytest.mark.parametrize("filters", FILTER_CASES)
def test_facet_counts_match_brute_force(conn: sqlite3.Connection, filters: dict) -> None:
    """Each option's count equals the total obtained by choosing that option alone."""
    result = report.list_statements(conn, TARGET_DOI, filters, page_size=100)
    assert result["total"] == len(result["items"])
    for name, options in result["facets"].items():
        for option in options:
            if name == "year":
                narrowed = {**filters, "year_from": option["value"], "year_to": option["value"]}
            else:
                narrowed = {**filters, name: [option["value"]]}
            expected = report.list_statements(conn, TARGET_DOI, narrowed)["total"]
            assert option["count"] == expected, (name, option)


def test_cache_follows_in_place_updates_and_survives_other_commits(tmp_path: Path) -> None:
    path = build_small_index(tmp_path / "index.db")
    reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    first = report.build_report(reader, TARGET_DOI)
    table = report._paper_table(reader, 1)
    writer = sqlite3.connect(path)
    # A commit about another paper keeps the target's table...
    writer.execute("UPDATE statements SET label = 'supporting' WHERE cited_work_id = 5")
    writer.commit()
    assert report._paper_table(reader, 1) is table
    # ...a classifier run relabelling one of its statements in place does not.
    writer.execute(
        "UPDATE statements SET label = 'contrasting' WHERE cited_work_id = 1 AND label ="
        " 'supporting' AND confidence < 0.6"
    )
    writer.commit()
    writer.close()
    again = report.build_report(reader, TARGET_DOI)
    assert (again["supporting"], again["contrasting"]) == (
        first["supporting"] - 1,
        first["contrasting"] + 1,
    )
    reader.close()


def test_scores_align_with_table_rows() -> None:
    rows = [
        (sid, 1, sid, 0, 7, "mentioning", "results", 2014, None, None, 0, 0.5) for sid in (5, 3, 9)
    ]
    table = report.build_table(rows, (np.zeros(0, np.int64), np.zeros(0, np.int32)), [])
    scores = report._scores(table, np.array([9, 5, 42]), np.array([-1.0, -2.0, -3.0]))
    assert list(table.ids) == [5, 3, 9]
    assert scores.tolist() == [-2.0, float("inf"), -1.0]
    ordered = report.order_positions(table, np.arange(3), "relevance", scores)
    assert [int(table.ids[i]) for i in ordered] == [5, 9, 3]


def test_long_facets_rank_by_count_then_name_and_keep_the_chosen() -> None:
    vocab = [f"n{i:02d}" for i in range(40)]
    # The 25th largest count is tied by 20 options: every one of them can reach the top.
    assert len(report._top_candidates(vocab, np.array([3] * 20 + [1] * 20), ())) == 40
    five_then_two = np.array([5] * 25 + [2] * 15)
    assert set(report._top_candidates(vocab, five_then_two, ("n39",))) == {*vocab[:25], "n39"}
    authors = {f"Author {i:02d}": 1 for i in range(30)} | {"Zed": 5}
    facets = report.facet_options(
        report.StatementFilters(author=("Author 29",)),
        types={"supporting": 2},
        sections={},
        years={2014: 2, 2019: 1, 0: 4},
        year_selected=False,
        ptypes={},
        self_citations=(3, 1),
        authors=authors,
        journals={},
    )
    names = [o["value"] for o in facets["author"]]
    assert names[:25] == ["Zed", *(f"Author {i:02d}" for i in range(24))]
    assert facets["author"][25:] == [{"value": "Author 29", "count": 1, "selected": True}]
    assert [(o["value"], o["count"]) for o in facets["year"]] == [(2019, 1), (2014, 2)]
    assert [o["value"] for o in facets["type"]] == ["supporting", "mentioning", "contrasting"]


def test_first_view_reads_tallies_once_the_store_added_them(tmp_path: Path) -> None:
    from citelens.store.sqlite import SqliteStore

    path = build_small_index(tmp_path / "index.db")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    before = report.build_report(conn, "10.1234/cited.e")
    assert report._counted_numbers(conn, 5) is None  # an older file: no tallies yet
    SqliteStore(path).close()
    assert report._counted_numbers(conn, 5) is not None
    assert report.build_report(conn, "10.1234/cited.e") == before
    # The target's duplicated sentence keeps it on the table, which counts it once.
    assert report._counted_numbers(conn, 1) is None
    assert report.build_report(conn, TARGET_DOI)["statements"] == 6
