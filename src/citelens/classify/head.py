"""Feature rows -> calibrated label probabilities: a linear softmax head with per-class offsets
and a temperature, all kept in one small .npz file.

Offsets move decisions toward the rare classes (tuned for macro-F1 on held-out folds); the
temperature then makes the probability of the chosen label match how often it is right.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from citelens.errors import ModelError

HEAD_FORMAT = 1


@dataclass(slots=True)
class Head:
    mean: np.ndarray  # (d,) feature centring
    scale: np.ndarray  # (d,) feature scaling
    weights: np.ndarray  # (k, d)
    bias: np.ndarray  # (k,)
    offsets: np.ndarray = field(default_factory=lambda: np.zeros(3))  # (k,) decision shift
    temperature: float = 1.0
    meta: dict[str, Any] = field(default_factory=dict)

    def logits(self, features: np.ndarray) -> np.ndarray:
        """Raw class scores with the offsets applied, before the temperature."""
        z = (features - self.mean) / self.scale
        return z @ self.weights.T + self.bias + self.offsets

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        return softmax(self.logits(features) / self.temperature)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def save_head(head: Head, path: Path) -> None:
    """Write the head as float32 arrays plus its metadata as JSON, compressed."""
    np.savez_compressed(
        path,
        format=np.array(HEAD_FORMAT),
        mean=head.mean.astype(np.float32),
        scale=head.scale.astype(np.float32),
        weights=head.weights.astype(np.float32),
        bias=head.bias.astype(np.float32),
        offsets=head.offsets.astype(np.float32),
        temperature=np.array(head.temperature, dtype=np.float64),
        meta=np.array(json.dumps(head.meta, sort_keys=True)),
    )


def load_head(path: Path) -> Head:
    """Read a head written by save_head; ModelError when the file is missing or not a head."""
    if not path.is_file():
        raise ModelError(f"model file {path} not found: run `citelens train` to build it")
    try:
        with np.load(path, allow_pickle=False) as data:
            if int(data["format"]) != HEAD_FORMAT:
                raise ModelError(f"{path}: head format {int(data['format'])}, expected "
                                 f"{HEAD_FORMAT}; retrain with `citelens train`")
            return Head(
                mean=data["mean"].astype(np.float64),
                scale=data["scale"].astype(np.float64),
                weights=data["weights"].astype(np.float64),
                bias=data["bias"].astype(np.float64),
                offsets=data["offsets"].astype(np.float64),
                temperature=float(data["temperature"]),
                meta=json.loads(str(data["meta"])),
            )
    except (KeyError, ValueError, OSError) as error:
        raise ModelError(f"{path} is not a citelens classifier head: {error}") from error


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
