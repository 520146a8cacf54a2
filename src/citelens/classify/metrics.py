"""Gold and predicted labels (with confidences) -> per-class scores, confusion matrix and ECE.

Also the article-grouped fold assignment that every cross-validation here uses, so that no
citing article is ever on both sides of a split. Pure numpy; no model dependency.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from citelens.model import Label

LABELS: tuple[Label, ...] = (Label.SUPPORTING, Label.MENTIONING, Label.CONTRASTING)
LABEL_INDEX = {label: i for i, label in enumerate(LABELS)}


@dataclass(frozen=True, slots=True)
class ClassScores:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True, slots=True)
class Evaluation:
    per_class: dict[Label, ClassScores]
    macro_f1: float
    confusion: list[list[int]]  # rows gold, columns predicted, in LABELS order
    ece: float | None  # None when no confidences were given
    n: int


def evaluate_predictions(
    gold: Sequence[Label], predicted: Sequence[Label], confidence: Sequence[float] | None = None
) -> Evaluation:
    """Scores of `predicted` against `gold`; ECE when the confidences of `predicted` are given."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold labels but {len(predicted)} predictions")
    if not gold:
        raise ValueError("no labelled statements to evaluate")
    g = np.array([LABEL_INDEX[Label(x)] for x in gold])
    p = np.array([LABEL_INDEX[Label(x)] for x in predicted])
    confusion = np.zeros((len(LABELS), len(LABELS)), dtype=int)
    np.add.at(confusion, (g, p), 1)
    per_class = {}
    for i, label in enumerate(LABELS):
        tp = confusion[i, i]
        precision = tp / confusion[:, i].sum() if confusion[:, i].sum() else 0.0
        recall = tp / confusion[i, :].sum() if confusion[i, :].sum() else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = ClassScores(float(precision), float(recall), float(f1),
                                       int(confusion[i, :].sum()))
    macro = float(np.mean([s.f1 for s in per_class.values()]))
    ece = None
    if confidence is not None:
        ece = expected_calibration_error(np.asarray(confidence, dtype=float), g == p)
    return Evaluation(per_class, macro, confusion.tolist(), ece, len(g))


def expected_calibration_error(
    confidence: np.ndarray, correct: np.ndarray, bins: int = 10
) -> float:
    """ECE over equal-width confidence bins: the gap between confidence and accuracy, weighted."""
    if confidence.size == 0:
        raise ValueError("no confidences to calibrate")
    if np.any((confidence < 0) | (confidence > 1)):
        raise ValueError("confidences must lie in [0, 1]")
    # Bin i holds (i/bins, (i+1)/bins]; a confidence of exactly 0 goes to the first bin.
    which = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(confidence[mask].mean() - correct[mask].mean())
    return float(total / confidence.size)


def grouped_folds(groups: Sequence[str], k: int, seed: int = 0) -> np.ndarray:
    """Fold number (0..k-1) per record, every record of one group in one fold.

    Groups are ordered by a seeded hash and dealt largest-first to the emptiest fold, so folds
    are balanced in size and the assignment depends only on the group names and the seed.
    """
    if k < 2:
        raise ValueError("grouped cross-validation needs at least 2 folds")
    sizes: dict[str, int] = {}
    for group in groups:
        sizes[group] = sizes.get(group, 0) + 1
    if len(sizes) < k:
        raise ValueError(f"{len(sizes)} articles cannot fill {k} folds")

    def key(group: str) -> tuple[int, str]:
        digest = hashlib.sha256(f"{seed}:{group}".encode()).hexdigest()
        return (-sizes[group], digest)

    load = [0] * k
    fold_of: dict[str, int] = {}
    for group in sorted(sizes, key=key):
        fold = min(range(k), key=lambda f: (load[f], f))
        fold_of[group] = fold
        load[fold] += sizes[group]
    return np.array([fold_of[g] for g in groups], dtype=int)


def format_evaluation(result: Evaluation) -> str:
    """A plain-text report: per-class table, macro-F1, confusion matrix and ECE."""
    lines = [f"{'class':<12}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
    for label, s in result.per_class.items():
        lines.append(
            f"{label.value:<12}{s.precision:>10.3f}{s.recall:>10.3f}{s.f1:>10.3f}{s.support:>10d}"
        )
    lines.append(f"macro-F1 {result.macro_f1:.3f} over {result.n} statements")
    lines.append("confusion (rows gold, columns predicted): " + " ".join(x.value for x in LABELS))
    for label, row in zip(LABELS, result.confusion, strict=True):
        lines.append(f"{label.value:<12}" + "".join(f"{c:>8d}" for c in row))
    if result.ece is not None:
        lines.append(f"expected calibration error {result.ece:.3f}")
    return "\n".join(lines)
