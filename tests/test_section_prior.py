"""The section prior: estimated from SciCite's per-section intents, applied by Bayes' rule to
the classifiers' probabilities, carried from ingest, the store and the classify CLI."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from citelens.classify import ClassifyInput
from citelens.classify.base import Prediction
from citelens.classify.data import load_source
from citelens.classify.lexical import LexicalClassifier
from citelens.classify.metrics import LABEL_INDEX
from citelens.classify.section_prior import (
    CALIBRATION_COMPARING,
    DEFAULT_SECTION_PRIOR,
    estimate_factors,
    load_factors,
    save_prior,
    scicite_rows,
    shift_to_sections,
)
from citelens.cli import cli
from citelens.errors import ModelError
from citelens.model import Label

FIXTURE = Path(__file__).parent / "fixtures" / "jats" / "numbered.xml"


def _item(text: str, callout: str, section: str | None = None) -> ClassifyInput:
    start = text.index(callout)
    return ClassifyInput(text, target=(start, start + len(callout)), section=section)


# Read as agreement without a section (see the strict xfail in test_classify_encoder.py).
REUSE = [_item("We used the same antibody as in a previous study [7].", "[7]"),
         _item("Antibodies were the same as in [7].", "[7]"),
         _item("Cells were cultured as described previously [5].", "[5]"),
         _item("As in [15], cells were fixed.", "[15]")]


def test_factors_are_each_section_s_share_of_comparisons_over_the_discussion_s() -> None:
    rows = ([("Discussion", "result")] * 40 + [("Discussion", "background")] * 60
            + [("Materials and methods", "result")] * 2 + [("Methods", "method")] * 98
            + [("Results", "result")] * 10 + [("Results", "background")] * 90
            + [("Acknowledgements", "background")] * 100 + [("Intro", "result")] * 5)
    table = estimate_factors(rows, min_citations=100)
    assert table["discussion"]["factor"] == 1.0
    assert table["methods"] == {"citations": 100, "result_share": 0.02, "factor": 0.05}
    assert table["results"]["factor"] == 0.25
    # Too few to estimate ("Intro": 5), and headings that name no section type: no factor.
    assert set(table) == {"discussion", "methods", "results"}
    with pytest.raises(ModelError, match="too few discussion-section citations"):
        estimate_factors(rows[40:], min_citations=100)


def test_shift_is_bayes_rule_and_leaves_unknown_sections_alone() -> None:
    p = np.array([[0.6, 0.3, 0.1], [0.6, 0.3, 0.1], [0.6, 0.3, 0.1], [0.2, 0.5, 0.3]])
    out = shift_to_sections(p, ["methods", None, "discussion", "methods"],
                            {"methods": 0.05, "discussion": 1.0})
    assert np.allclose(out.sum(axis=1), 1.0)
    assert np.array_equal(out[1], p[1]) and np.array_equal(out[2], p[2])
    # p'(y) proportional to p(y) * prior'(y) / prior(y): comparisons x k, mentioning x
    # (1 - k c) / (1 - c).
    c = CALIBRATION_COMPARING
    expected = p[0] * np.array([0.05, (1 - 0.05 * c) / (1 - c), 0.05])
    assert np.allclose(out[0], expected / expected.sum())
    assert out[0].argmax() == LABEL_INDEX[Label.MENTIONING] and out[3, 2] < p[3, 2]


def test_calibration_share_is_the_clinical_sets(shared_data: Path) -> None:
    gold = [r.label for r in load_source(shared_data / "labeled", "clinical")]
    comparing = sum(label is not Label.MENTIONING for label in gold) / len(gold)
    assert comparing == pytest.approx(CALIBRATION_COMPARING)


def test_shipped_prior_is_what_scicite_s_train_split_gives(shared_data: Path,
                                                             tmp_path: Path) -> None:
    table = estimate_factors(scicite_rows(shared_data / "labeled", "train"))
    save_prior(table, tmp_path / "section_prior.json")
    assert load_factors(tmp_path / "section_prior.json") == load_factors(DEFAULT_SECTION_PRIOR)
    factors = load_factors()
    assert factors["discussion"] == 1.0 and factors["methods"] < 0.1
    assert load_factors(tmp_path / "absent.json") == {}
    (tmp_path / "bad.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ModelError, match="not a citelens section prior"):
        load_factors(tmp_path / "bad.json")


def test_reuse_in_a_methods_section_is_mentioning() -> None:
    from citelens.classify import load_classifier

    for name in ("lexical", "default"):
        classifier = load_classifier(name)
        in_methods = [ClassifyInput(i.text, target=i.target, section="methods") for i in REUSE]
        assert [p.label for p in classifier.predict(in_methods)] == [Label.MENTIONING] * 4
        # Agreement in a discussion keeps its label; the prior is in the model version.
        agree = _item("Our results are consistent with those of Smith et al. [3].", "[3]",
                      "discussion")
        assert classifier.predict([agree])[0].label is Label.SUPPORTING
        assert "+sp" in classifier.version


def test_lexical_model_without_a_prior_file_is_unshifted(tmp_path: Path) -> None:
    from citelens.classify.lexical import DEFAULT_MODEL

    (tmp_path / "default.npz").write_bytes(DEFAULT_MODEL.read_bytes())
    bare = LexicalClassifier(tmp_path / "default.npz")
    assert bare.factors == {} and "+sp" not in bare.version
    in_methods = [ClassifyInput(i.text, target=i.target, section="methods") for i in REUSE]
    plain = LexicalClassifier().model.probabilities(in_methods)
    assert [p.confidence for p in bare.predict(in_methods)] == pytest.approx(plain.max(axis=1))


def test_classify_cli_reads_the_section_and_names_a_bad_one() -> None:
    lines = [
        json.dumps({"id": "m", "text": "As in [15], cells were fixed.", "target": "[15]",
                    "section": "Methods"}),
        json.dumps({"id": "x", "text": "As in [15], cells were fixed.", "section": "appendix"}),
        json.dumps({"id": "n", "text": "As in [15], cells were fixed.", "section": 3}),
    ]
    result = CliRunner().invoke(cli, ["classify", "--classifier", "lexical"],
                                input="\n".join(lines) + "\n")
    assert result.exit_code == 1
    (record,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert record["id"] == "m" and record["label"] == "mentioning"
    assert "line 2: \"section\" 'appendix' is not one of introduction, methods" in result.stderr
    assert 'line 3: "section" must be a string' in result.stderr


class Recording:
    """A classifier that remembers what it was asked: the contract ingest and reclassify meet."""

    version = "recording-1"

    def __init__(self) -> None:
        self.seen: list[ClassifyInput] = []

    def predict(self, items: Sequence[ClassifyInput]) -> list[Prediction]:
        self.seen.extend(items)
        return [Prediction(Label.MENTIONING, 0.5) for _ in items]


def test_ingest_and_reclassify_pass_each_statement_s_section(tmp_db: Path) -> None:
    from citelens.classify.commands import reclassify_store
    from citelens.extract import extract
    from citelens.parse.jats import parse_jats
    from citelens.pipeline import classify_statements
    from citelens.store import open_store

    statements = extract(parse_jats(FIXTURE.read_bytes()))
    recording = Recording()
    classify_statements(statements, recording)
    assert [i.section for i in recording.seen] == [s.section_type.value for s in statements]
    assert {i.section for i in recording.seen} >= {"introduction"}
    ingest = CliRunner().invoke(cli, ["--db", str(tmp_db), "ingest", "--classifier", "baseline",
                                      "--no-progress", str(FIXTURE)])
    assert ingest.exit_code == 0, ingest.output
    store = open_store(str(tmp_db))
    try:
        again = Recording()
        assert reclassify_store(store, again) == len(statements)
    finally:
        store.close()
    assert sorted(i.section or "" for i in again.seen) == sorted(
        s.section_type.value for s in statements)
