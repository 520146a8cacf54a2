"""The cue-phrase baseline and load_classifier honour the Classifier contract."""

from __future__ import annotations

import pytest

from citelens.classify import ClassifyInput, load_classifier
from citelens.errors import ModelError
from citelens.model import Label


def test_baseline_labels_cues_per_target() -> None:
    clf = load_classifier("baseline")
    items = [
        ClassifyInput("Our results are consistent with those of Smith et al. [3]."),
        ClassifyInput("In contrast to earlier reports [4], we found no effect."),
        ClassifyInput("Cells were cultured as described [5]."),
    ]
    labels = [p.label for p in clf.predict(items)]
    assert labels == [Label.SUPPORTING, Label.CONTRASTING, Label.MENTIONING]


def test_baseline_cue_far_from_target_is_ignored() -> None:
    text = "Cells were stained with the dye of [1]. " + "x " * 150 + "Unlike [2], we saw growth."
    start = text.index("[1]")
    pred = load_classifier("baseline").predict([ClassifyInput(text, target=(start, start + 3))])
    assert pred[0].label is Label.MENTIONING


def test_confidence_in_unit_interval_and_version_set() -> None:
    clf = load_classifier("baseline")
    assert clf.version
    preds = clf.predict([ClassifyInput("Unlike [2], we saw growth."), ClassifyInput("See [1].")])
    assert len(preds) == 2
    assert all(0.0 <= p.confidence <= 1.0 for p in preds)


def test_unknown_classifier_name_raises_model_error() -> None:
    with pytest.raises(ModelError, match="unknown classifier"):
        load_classifier("nope")


def test_negated_agreement_is_contrasting() -> None:
    clf = load_classifier("baseline")
    items = [
        ClassifyInput("These results are not consistent with previous reports [3]."),
        ClassifyInput("These results are inconsistent with previous reports [3]."),
        ClassifyInput("These results are consistent with previous reports [3]."),
    ]
    labels = [p.label for p in clf.predict(items)]
    assert labels == [Label.CONTRASTING, Label.CONTRASTING, Label.SUPPORTING]
