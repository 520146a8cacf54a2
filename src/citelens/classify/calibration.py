"""Held-out class scores -> decision offsets and a temperature: how citelens calibrates.

Offsets move decisions toward the rare classes (tuned for macro-F1 on held-out folds); the
temperature then makes the probability of the chosen label match how often it is right.
"""

from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def tune_offsets(
    logits: np.ndarray, gold: np.ndarray, grid: np.ndarray | None = None, rounds: int = 2
) -> np.ndarray:
    """Per-class offsets (class 1, mentioning, held at 0) that maximise macro-F1 on `gold`.

    Coordinate ascent over a grid: cheap, deterministic, and enough for three classes.
    """
    if grid is None:
        grid = np.round(np.arange(-3.0, 3.01, 0.1), 2)
    offsets = np.zeros(logits.shape[1])
    best = macro_f1(gold, (logits + offsets).argmax(axis=1), logits.shape[1])
    for _ in range(rounds):
        for c in (0, 2):
            for value in grid:
                trial = offsets.copy()
                trial[c] = value
                score = macro_f1(gold, (logits + trial).argmax(axis=1), logits.shape[1])
                # Ties go to the smaller shift: less distortion of the learnt scores.
                if score > best + 1e-12 or (
                    abs(score - best) <= 1e-12 and abs(value) < abs(offsets[c])
                ):
                    best, offsets = score, trial
    return offsets


def fit_temperature(logits: np.ndarray, gold: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood of `gold` (grid, then refine)."""

    def nll(t: float) -> float:
        p = softmax(logits / t)
        return float(-np.mean(np.log(p[np.arange(len(gold)), gold] + 1e-12)))

    grid = np.exp(np.linspace(np.log(0.2), np.log(10.0), 81))
    best = min(grid, key=nll)
    fine = np.linspace(best * 0.9, best * 1.1, 41)
    return float(min(fine, key=nll))


def macro_f1(gold: np.ndarray, predicted: np.ndarray, k: int = 3) -> float:
    scores = []
    for c in range(k):
        tp = np.sum((predicted == c) & (gold == c))
        fp = np.sum((predicted == c) & (gold != c))
        fn = np.sum((predicted != c) & (gold == c))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(scores))
