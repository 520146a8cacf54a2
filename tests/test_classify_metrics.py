"""Scores, calibration error, grouped folds and the offset / temperature calibration."""

from __future__ import annotations

import numpy as np
import pytest

from citelens.classify.calibration import fit_temperature, macro_f1, softmax, tune_offsets
from citelens.classify.metrics import (
    evaluate_predictions,
    expected_calibration_error,
    format_evaluation,
    grouped_folds,
)
from citelens.model import Label

S, M, C = Label.SUPPORTING, Label.MENTIONING, Label.CONTRASTING


def test_per_class_scores_and_confusion_by_hand() -> None:
    gold = [S, S, M, M, M, C]
    pred = [S, M, M, M, C, C]
    result = evaluate_predictions(gold, pred)
    assert result.per_class[S].precision == 1.0 and result.per_class[S].recall == 0.5
    assert result.per_class[C].precision == 0.5 and result.per_class[C].recall == 1.0
    assert result.per_class[M].f1 == pytest.approx(2 / 3)
    assert result.macro_f1 == pytest.approx((2 / 3 + 2 / 3 + 2 / 3) / 3)
    assert result.confusion == [[1, 1, 0], [0, 2, 1], [0, 0, 1]]
    assert result.ece is None
    assert "macro-F1 0.667" in format_evaluation(result)


def test_ece_is_zero_when_confidence_matches_accuracy_and_large_when_not() -> None:
    correct = np.array([1, 1, 1, 0] * 25, dtype=bool)
    assert expected_calibration_error(np.full(100, 0.75), correct) == pytest.approx(0.0)
    assert expected_calibration_error(np.full(100, 1.0), correct) == pytest.approx(0.25)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        expected_calibration_error(np.array([1.2]), np.array([True]))


def test_grouped_folds_keep_each_article_in_one_fold_and_are_deterministic() -> None:
    rng = np.random.default_rng(1)
    groups = [f"a{int(g)}" for g in rng.integers(0, 40, size=500)]
    folds = grouped_folds(groups, 5, seed=3)
    assert grouped_folds(groups, 5, seed=3).tolist() == folds.tolist()
    for group in set(groups):
        assert len({f for g, f in zip(groups, folds, strict=True) if g == group}) == 1
    sizes = np.bincount(folds, minlength=5)
    assert sizes.min() > 0.5 * sizes.max()
    with pytest.raises(ValueError, match="cannot fill"):
        grouped_folds(["x", "y"], 3)


def test_tune_offsets_recovers_the_rare_class() -> None:
    rng = np.random.default_rng(0)
    gold = rng.choice(3, size=2000, p=[0.15, 0.8, 0.05])
    logits = rng.normal(size=(2000, 3))
    logits[np.arange(2000), gold] += 1.5
    logits[:, 1] += 2.0  # a head biased toward mentioning
    before = macro_f1(gold, logits.argmax(axis=1))
    offsets = tune_offsets(logits, gold)
    assert offsets[1] == 0.0
    assert macro_f1(gold, (logits + offsets).argmax(axis=1)) > before + 0.05
    assert offsets[0] > 0 and offsets[2] > 0


def test_fit_temperature_undoes_overconfidence() -> None:
    rng = np.random.default_rng(0)
    true_logits = rng.normal(size=(4000, 3)) * 1.5
    p = softmax(true_logits)
    gold = np.array([rng.choice(3, p=row) for row in p])
    temperature = fit_temperature(true_logits * 3.0, gold)
    assert temperature == pytest.approx(3.0, rel=0.15)
    calibrated = softmax(true_logits * 3.0 / temperature)
    ece = expected_calibration_error(calibrated.max(axis=1), calibrated.argmax(axis=1) == gold)
    assert ece < 0.03
