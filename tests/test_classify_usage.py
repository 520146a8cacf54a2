"""Statements of use (classify/usage.py): the methods prior for wording of reuse, wherever the
statement stands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from citelens.classify.base import ClassifyInput
from citelens.classify.lexical import LexicalClassifier
from citelens.classify.section_prior import shift_to_sections
from citelens.classify.usage import USE_SECTION, describes_use, use_sections

SCICITE = Path(__file__).resolve().parents[2] / "shared" / "data" / "labeled" / "scicite"

USE = [
    "Cells were cultured as described previously [5].",
    "We used the same antibody as in a previous study [7].",
    "Antibodies were the same as in [7].",
    "As in [15], cells were fixed.",
    "RNA was extracted according to the protocol of Smith et al. (2001).",
    "The plasmid was a kind gift from Dr. Lee [3].",
    "Mice were purchased from Jackson Laboratory [2].",
    "Scores were computed using the algorithm of [9].",
    "The questionnaire was adapted from [4].",
]
NOT_USE = [
    # Comparisons worded near use.
    "Our results are consistent with those obtained using the method of [5].",
    "Using the same protocol as [8], we found a higher rate than [8].",
    "As in [15], we observed no effect of the drug.",
    "The rate fell within the range reported using the old scoring system [12].",
    "Although other authors [12] have used a clinical score, it cannot be considered "
    "appropriate here.",
    # Background.
    "Frataxin interacts with the Fe-S cluster components [6].",
    "This pathway has been well described previously [22].",
]


@pytest.mark.parametrize("text", USE)
def test_wording_of_use_is_found(text: str) -> None:
    assert describes_use(text)


@pytest.mark.parametrize("text", NOT_USE)
def test_findings_comparisons_and_background_are_not_use(text: str) -> None:
    assert not describes_use(text)


def test_a_statement_of_use_takes_the_methods_prior_wherever_it_stands() -> None:
    items = [ClassifyInput(USE[0], section="discussion"), ClassifyInput(USE[1]),
             ClassifyInput(NOT_USE[0], section="discussion"), ClassifyInput(NOT_USE[1])]
    assert use_sections(items) == [USE_SECTION, USE_SECTION, "discussion", None]
    assert use_sections(items, enabled=False) == ["discussion", None, "discussion", None]
    # What that does to probabilities: the methods factor on the comparing classes.
    p = np.array([[0.9, 0.08, 0.02]] * 4)
    shifted = shift_to_sections(p, use_sections(items), {USE_SECTION: 0.021, "discussion": 1.0})
    assert shifted[0].argmax() == shifted[1].argmax() == 1
    assert np.array_equal(shifted[2:], p[2:])


def test_the_lexical_classifier_applies_the_rule_and_names_it_in_its_version() -> None:
    on, off = LexicalClassifier(), LexicalClassifier(use_rule=False)
    assert on.version.endswith("+use1") and not off.version.endswith("+use1")
    items = [ClassifyInput(text) for text in USE]
    assert {p.label.value for p in on.predict(items)} == {"mentioning"}
    # Statements without wording of use are scored exactly as before.
    plain = [ClassifyInput(text) for text in NOT_USE]
    assert [(p.label, p.confidence) for p in on.predict(plain)] == \
        [(p.label, p.confidence) for p in off.predict(plain)]


def test_rates_on_scicite_citations_by_intent() -> None:
    """Real data: the rule finds many of SciCite's method citations and almost none of the
    citations that compare results (figures in the module docstring)."""
    found: dict[str, list[bool]] = {}
    for split in ("train", "test"):
        with (SCICITE / f"{split}.jsonl").open(encoding="utf-8") as handle:
            for line in handle:
                row = json.loads(line)
                found.setdefault(row["label"], []).append(describes_use(row["string"]))
    share = {label: float(np.mean(hits)) for label, hits in found.items()}
    assert share["method"] > 0.15
    assert share["background"] < 0.02
    assert sum(found["result"]) <= 2
