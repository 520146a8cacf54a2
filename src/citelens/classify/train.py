"""Labelled citation statements -> a trained, calibrated head, with the scores it earned.

Clinical statements (closest to our task) are scored by article-grouped cross-validation; the
other corpora join the training side only. Offsets and temperature are fitted on held-out folds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from citelens.classify.data import LabeledContext, load_source
from citelens.classify.embedding import feature_matrix
from citelens.classify.encoder import Encoder, cached_encode
from citelens.classify.features import context_text, cue_matrix, marked_text
from citelens.classify.head import Head, fit_temperature, softmax, tune_offsets
from citelens.classify.metrics import (
    LABEL_INDEX,
    LABELS,
    Evaluation,
    evaluate_predictions,
    grouped_folds,
)
from citelens.errors import ModelError


@dataclass(frozen=True, slots=True)
class TrainConfig:
    labeled_dir: Path
    auxiliary: tuple[str, ...] = ("multicite", "acl-arc", "athar")
    auxiliary_weight: float = 0.3  # weight of an auxiliary statement relative to a clinical one
    blocks: tuple[str, ...] = ("marked", "cues")
    regularisation: float = 0.2  # inverse L2 strength (scikit-learn's C)
    folds: int = 5
    seed: int = 0
    cache_dir: Path | None = None
    limit: int | None = None  # use only the first N clinical statements (tests, quick runs)


@dataclass(slots=True)
class TrainReport:
    head: Head
    clinical_cv: Evaluation
    held_out: dict[str, Evaluation] = field(default_factory=dict)
    used: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def labels_of(records: Sequence[LabeledContext]) -> np.ndarray:
    return np.array([LABEL_INDEX[r.label] for r in records], dtype=int)


def fit_linear(
    features: np.ndarray, gold: np.ndarray, weights: np.ndarray, regularisation: float, seed: int
) -> Head:
    """A multinomial logistic regression on standardised features, classes balanced by weight."""
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError as error:
        raise ModelError("training needs scikit-learn: pip install 'citelens[model]'") from error
    present = np.unique(gold)
    if len(present) < len(LABELS):
        raise ModelError(f"training data lacks a class: only {[LABELS[c].value for c in present]}")
    # Balance classes by their weighted mass so rare contrasting statements count as much.
    mass = np.array([weights[gold == c].sum() for c in range(len(LABELS))])
    balanced = weights * (mass.sum() / (len(LABELS) * mass))[gold]
    mean = features.mean(axis=0)
    scale = features.std(axis=0) + 1e-6
    model = LogisticRegression(C=regularisation, max_iter=3000, random_state=seed)
    model.fit((features - mean) / scale, gold, sample_weight=balanced)
    return Head(mean, scale, model.coef_.copy(), model.intercept_.copy())


class FeatureBank:
    """Feature rows of labelled records, embedding through the on-disk cache."""

    def __init__(self, blocks: Sequence[str], cache_dir: Path | None) -> None:
        self.blocks = list(blocks)
        self.cache_dir = cache_dir
        self._encoder: Encoder | None = None

    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = Encoder()
        return self._encoder

    def rows(self, records: Sequence[LabeledContext]) -> np.ndarray:
        items = [r.item for r in records]
        if self.cache_dir is None:
            encoder = self.encoder() if any(b != "cues" for b in self.blocks) else None
            return feature_matrix(items, self.blocks, encoder)
        parts = []
        text_of: dict[str, Callable] = {"marked": marked_text, "context": context_text}
        for block in self.blocks:
            if block == "cues":
                parts.append(cue_matrix(items))
            else:
                texts = [text_of[block](item) for item in items]
                parts.append(cached_encode(self.encoder(), texts, self.cache_dir))
        return np.hstack(parts).astype(np.float64)


def _evaluate(head: Head, features: np.ndarray, gold: np.ndarray) -> Evaluation:
    probabilities = head.probabilities(features)
    chosen = probabilities.argmax(axis=1)
    return evaluate_predictions(
        [LABELS[g] for g in gold], [LABELS[c] for c in chosen], probabilities.max(axis=1)
    )


def train(config: TrainConfig, log: Callable[[str], None] = lambda _: None) -> TrainReport:
    """Cross-validate on clinical, score on MultiCite test and ACL-ARC, then fit the final head."""
    started = time.perf_counter()
    clinical = load_source(config.labeled_dir, "clinical")
    if config.limit is not None:
        clinical = clinical[: config.limit]
    auxiliary = {name: load_source(config.labeled_dir, name) for name in config.auxiliary}
    bank = FeatureBank(config.blocks, config.cache_dir)
    x_clin, y_clin = bank.rows(clinical), labels_of(clinical)
    x_aux = {name: bank.rows(recs) for name, recs in auxiliary.items()}
    y_aux = {name: labels_of(recs) for name, recs in auxiliary.items()}
    used = {"clinical": len(clinical)} | {name: len(r) for name, r in auxiliary.items()}
    log("training statements: " + ", ".join(f"{k} {v}" for k, v in used.items()))

    def fit(x_main: np.ndarray, y_main: np.ndarray, skip: str = "",
            exclude: dict[str, np.ndarray] | None = None) -> Head:
        xs, ys, ws = [x_main], [y_main], [np.ones(len(y_main))]
        for name in config.auxiliary:
            if name == skip:
                continue
            keep = np.ones(len(y_aux[name]), bool) if exclude is None or name not in exclude \
                else ~exclude[name]
            xs.append(x_aux[name][keep])
            ys.append(y_aux[name][keep])
            ws.append(np.full(int(keep.sum()), config.auxiliary_weight))
        return fit_linear(np.vstack(xs), np.concatenate(ys), np.concatenate(ws),
                          config.regularisation, config.seed)

    folds = grouped_folds([r.group for r in clinical], config.folds, config.seed)
    out_of_fold = np.zeros((len(clinical), len(LABELS)))
    for f in range(config.folds):
        held = folds == f
        out_of_fold[held] = fit(x_clin[~held], y_clin[~held]).logits(x_clin[held])
        log(f"fold {f + 1}/{config.folds} done")
    # Cross-fitting: each fold's offsets and temperature come from the other folds only.
    chosen = np.zeros(len(clinical), dtype=int)
    confidence = np.zeros(len(clinical))
    for f in range(config.folds):
        held = folds == f
        offsets = tune_offsets(out_of_fold[~held], y_clin[~held])
        temperature = fit_temperature(out_of_fold[~held] + offsets, y_clin[~held])
        p = softmax((out_of_fold[held] + offsets) / temperature)
        chosen[held], confidence[held] = p.argmax(axis=1), p.max(axis=1)
    clinical_cv = evaluate_predictions(
        [LABELS[g] for g in y_clin], [LABELS[c] for c in chosen], confidence
    )
    offsets = tune_offsets(out_of_fold, y_clin)
    temperature = fit_temperature(out_of_fold + offsets, y_clin)

    held_out: dict[str, Evaluation] = {}
    if "multicite" in auxiliary:
        test = np.array([r.split == "test" for r in auxiliary["multicite"]])
        head = fit(x_clin, y_clin, exclude={"multicite": test})
        head.offsets, head.temperature = offsets, temperature
        held_out["multicite-test"] = _evaluate(head, x_aux["multicite"][test],
                                               y_aux["multicite"][test])
        log("multicite test scored")
    if "acl-arc" in auxiliary:
        head = fit(x_clin, y_clin, skip="acl-arc")
        head.offsets, head.temperature = offsets, temperature
        held_out["acl-arc"] = _evaluate(head, x_aux["acl-arc"], y_aux["acl-arc"])
        log("acl-arc scored")

    final = fit(x_clin, y_clin)
    final.offsets, final.temperature = offsets, temperature
    final.meta = {
        "blocks": list(config.blocks),
        "auxiliary": list(config.auxiliary),
        "auxiliary_weight": config.auxiliary_weight,
        "regularisation": config.regularisation,
        "seed": config.seed,
        "used": used,
        "clinical_cv_macro_f1": round(clinical_cv.macro_f1, 4),
        "clinical_cv_ece": round(clinical_cv.ece or 0.0, 4),
    }
    return TrainReport(final, clinical_cv, held_out, used, time.perf_counter() - started)
