"""Loaders of the labelled corpora map labels as the data README says and keep offsets exact."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from citelens.classify.data import (
    REUSE_WORDING,
    SOURCES,
    load_source,
    multicite_label,
    parse_acl_arc,
    parse_athar,
    parse_clinical,
    parse_scicite,
    reuse_statements,
    strip_cite_tags,
)
from citelens.errors import InputError
from citelens.model import Label


def test_clinical_marker_becomes_the_target_span() -> None:
    line = json.dumps({"doc_id": "7", "citation_id": "C1", "marker": "[ 12,16-21]",
                       "label": "NEGATIVE", "sentence": "Unlike earlier trials [ 12,16-21] , we"})
    (record,) = parse_clinical([line])
    start, end = record.item.target
    assert record.item.text[start:end] == "[ 12,16-21]"
    assert record.label is Label.CONTRASTING and record.group == "clinical:7"


def test_clinical_marker_missing_names_the_line() -> None:
    line = json.dumps({"doc_id": "7", "marker": "[9]", "label": "NEUTRAL", "sentence": "No."})
    with pytest.raises(InputError, match="clinical:2"):
        list(parse_clinical(["", line]))


@pytest.mark.parametrize(
    ("intents", "label"),
    [
        ("similarities uses", Label.SUPPORTING),
        ("differences extends", Label.CONTRASTING),
        ("background motivation", Label.MENTIONING),
        ("differences similarities", None),
    ],
)
def test_multicite_mapping(intents: str, label: Label | None) -> None:
    assert multicite_label(intents) is label


def test_strip_cite_tags_gives_the_first_callout_span() -> None:
    text, span = strip_cite_tags("As in <cite>Smith (2010)</cite> and <cite>this work</cite>.")
    assert text == "As in Smith (2010) and this work."
    assert span is not None and text[span[0] : span[1]] == "Smith (2010)"


def test_acl_arc_and_athar_mappings() -> None:
    rows = [
        {"citing_paper": "P1", "label": "Compares-Results", "cite_text": "A, 1999",
         "sentence_approx": "Ours beats (A, 1999)."},
        {"citing_paper": "P1", "label": "Unknown", "cite_text": "B", "sentence_approx": "B."},
        {"citing_paper": "P2", "label": "Uses-Tool", "cite_text": "C", "sentence_approx": "C."},
    ]
    records = list(parse_acl_arc(json.dumps(r) for r in rows))
    assert [r.label for r in records] == [Label.SUPPORTING, Label.MENTIONING]
    athar = list(parse_athar(["A00\tB00\tn\tThis fails unlike (X, 2000).\n", "bad line\n"]))
    assert len(athar) == 1 and athar[0].label is Label.CONTRASTING


def test_real_corpora_counts_and_spans(shared_data: Path) -> None:
    labeled = shared_data / "labeled"
    counts = {}
    for source in SOURCES:
        records = load_source(labeled, source)
        counts[source] = Counter(r.label for r in records)
        for r in records:
            if r.item.target is not None:
                start, end = r.item.target
                assert 0 <= start < end <= len(r.item.text)
    # The sizes the data README gives: 3,304 clinical; MultiCite 11,251 less 65 with both
    # directions and rows without a citing sentence.
    assert sum(counts["clinical"].values()) == 3304
    assert counts["clinical"][Label.CONTRASTING] == 233
    assert 11000 < sum(counts["multicite"].values()) < 11251
    assert counts["acl-arc"][Label.SUPPORTING] == 49
    assert counts["acl-arc"][Label.CONTRASTING] == 41
    assert sum(counts["athar"].values()) == 8736


def test_scicite_kinds_filter_and_reuse_wording() -> None:
    rows = [json.dumps({"string": text, "label": label, "citeStart": 0, "citeEnd": 3,
                        "citingPaperId": "p"}) for text, label in (
        ("[5] Cells were cultured as described previously.", "method"),
        ("[6] gave the same result as ours.", "result"),
        ("[7] is a review.", "background"),
    )]
    assert len(list(parse_scicite(rows, "train"))) == 2  # results are never mentions
    only = list(parse_scicite(rows, "train", kinds=("method",)))
    assert [r.item.text[:3] for r in only] == ["[5]"]
    assert all(r.label is Label.MENTIONING for r in only)
    for worded in ("the same antibody as", "Similar to the protocol of", "as previously described",
                   "as in [3]", "As reported"):
        assert REUSE_WORDING.search(worded), worded
    for plain in ("we used the antibody of", "as shown here", "assimilated"):
        assert not REUSE_WORDING.search(plain), plain


def test_reuse_statements_are_scicite_training_method_citations(shared_data: Path) -> None:
    reuse = reuse_statements(shared_data / "labeled")
    assert 200 < len(reuse) < 400  # 305 on 2026-12-07
    assert all(r.split == "train" and r.label is Label.MENTIONING for r in reuse)
    assert all(REUSE_WORDING.search(r.item.text) for r in reuse)
    method_texts = set()
    with (shared_data / "labeled" / "scicite" / "train.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if row["label"] == "method":
                method_texts.add(row["string"])
    assert {r.item.text for r in reuse} <= method_texts
