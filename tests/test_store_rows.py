"""The backend-neutral store rules of store/rows.py, checked directly, and the pipeline's
citing key checked against the key a real store saves an article under."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from citelens.errors import StoreError
from citelens.model import BibEntry, Document, SectionType, Span, Statement, WorkMeta
from citelens.pipeline import ProcessedArticle, citing_key, process
from citelens.store.rows import (
    citing_identity,
    label_counts,
    label_update,
    merge_same_work,
    plan_refs,
    rank_citing_candidates,
    resolve_summary,
    stubs_to_merge,
)
from citelens.store.sqlite import SqliteStore

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "jats"


def statement(ref_id: str, sentence: int, callout: Span) -> Statement:
    return Statement(
        ref_id=ref_id,
        text="As shown before [1, 2].",
        before="",
        after="",
        callouts=[callout],
        other_callouts=[Span(16, 17), Span(19, 20)],
        section_title="Introduction",
        section_type=SectionType.INTRODUCTION,
        paragraph=0,
        sentence=sentence,
    )


def test_citing_identity_normalises_identifiers_and_falls_back_to_the_digest() -> None:
    key, ids = citing_identity(
        WorkMeta(doi="https://doi.org/10.7554/ELIFE.00011", pmid="PMID: 123"), "abc"
    )
    assert key == "doi:10.7554/elife.00011"
    assert ids == ("10.7554/elife.00011", "123", None)
    assert citing_identity(WorkMeta(), "abc") == ("sha:abc", (None, None, None))


@pytest.mark.parametrize("name", ["numbered.xml", "no_ids.xml"])
def test_pipeline_citing_key_is_the_key_the_store_saves(name: str, tmp_path: Path) -> None:
    data = (FIXTURES / name).read_bytes()
    article = process(name, data, None)
    with SqliteStore(tmp_path / "index.db") as store:
        saved = store.save_article(
            article.document,
            article.statements,
            source_path=article.path,
            source_sha256=article.sha256,
        )
    assert citing_key(article) == saved.key


def test_pipeline_citing_key_of_an_article_without_identity_is_its_digest() -> None:
    doc = Document(WorkMeta(), [], [], "jats")
    digest = hashlib.sha256(b"x").hexdigest()
    assert citing_key(ProcessedArticle("a.xml", digest, doc, [])) == f"sha:{digest}"


def test_a_full_text_article_is_never_taken_over_by_a_shared_pmid() -> None:
    # (id, key, doi, pmid, pmcid, has_full_text)
    rows = [
        (1, "doi:10.1/other", "10.1/other", "55", None, 1),  # another article, wrong PMID
        (2, "pmid:55", None, "55", None, 0),  # a stub made from a reference by PMID
        (3, "doi:10.1/me", "10.1/me", None, None, 0),  # a stub with this article's DOI
    ]
    ranked = rank_citing_candidates(rows, "doi:10.1/me", "10.1/me", "55")
    assert [r[0] for r in ranked] == [3, 2]
    assert stubs_to_merge(ranked[1:], "10.1/me") == [2]
    assert stubs_to_merge([(4, "doi:10.1/x", "10.1/x", "55", None, 0)], "10.1/me") == []


def test_one_statement_per_sentence_and_cited_work() -> None:
    doc = Document(
        WorkMeta(title="t"),
        [],
        [BibEntry("b1", 0, raw="one"), BibEntry("b2", 1, raw="two")],
        "jats",
    )
    statements = [
        statement("b1", 0, Span(16, 17)),
        statement("b2", 0, Span(19, 20)),
        statement("b2", 1, Span(19, 20)),
    ]
    plans = plan_refs(doc, statements, "a.xml")
    plans["b1"].cited_work_id = plans["b2"].cited_work_id = 7  # a duplicated reference entry
    merged = merge_same_work(statements, plans)
    assert [(s.ref_id, s.sentence) for s in merged] == [("b1", 0), ("b2", 1)]
    assert merged[0].callouts == [Span(16, 17), Span(19, 20)]
    assert merged[0].other_callouts == []


def test_label_update_checks_label_and_confidence() -> None:
    assert label_update(3, "supporting", 1, "m1") == (3, "supporting", 1.0, "m1")
    with pytest.raises(StoreError, match="statement 3: unknown label 'agrees'"):
        label_update(3, "agrees", 0.5, "m1")
    with pytest.raises(StoreError, match=r"statement 4: confidence 1.5 not in \[0, 1\]"):
        label_update(4, "mentioning", 1.5, "m1")


def test_tallies_from_counted_rows() -> None:
    summary = resolve_summary([("doi", 5), ("fuzzy", 2), ("identity", 3), ("none", 1)])
    assert (summary.references, summary.resolved) == (11, 7)
    counts = label_counts([("supporting", 4), (None, 2), ("contrasting", 1)])
    assert counts == {
        "label_supporting": 4,
        "label_mentioning": 0,
        "label_contrasting": 1,
        "unlabelled": 2,
    }
