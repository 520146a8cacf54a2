"""Labelled citation statements -> the shipped lexical model, calibrated, with its scores.

Clinical statements (closest to our task) are scored by article-grouped cross-validation; the
other corpora join the training side only, down-weighted. Offsets and the temperature are fitted
on held-out folds; MultiCite's test split and ACL-ARC are scored by models that never saw them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from citelens.classify.calibration import fit_temperature, softmax, tune_offsets
from citelens.classify.data import LabeledContext, load_source
from citelens.classify.lexical import LexicalModel, fit_lexical
from citelens.classify.metrics import (
    LABEL_INDEX,
    LABELS,
    Evaluation,
    evaluate_predictions,
    grouped_folds,
)


@dataclass(frozen=True, slots=True)
class TrainConfig:
    labeled_dir: Path
    # Athar's set is left out: adding it lowered clinical grouped-CV macro-F1 (0.670 without,
    # 0.659 with); its "positive" is mostly praise, not agreement (docs/classifier.md).
    auxiliary: tuple[str, ...] = ("multicite", "acl-arc")
    # Weight of an auxiliary statement relative to a clinical one (0.1 beat 0.3 and 0 in
    # clinical grouped CV; see docs/classifier.md).
    auxiliary_weight: float = 0.1
    regularisation: float = 4.0  # inverse L2 strength (scikit-learn's C)
    # Character 2-5-grams seen in this many texts join the word n-grams as a second block;
    # None leaves them out.
    char_min_df: int | None = None
    # The neighbour sentences' word n-grams as a block scaled by this; None leaves them out.
    context_weight: float | None = None
    folds: int = 5
    seed: int = 0
    limit: int | None = None  # only the first N statements of each corpus (tests, quick runs)
    held_out: bool = True  # also score MultiCite test and ACL-ARC (two extra fits)


@dataclass(slots=True)
class TrainReport:
    model: LexicalModel
    clinical_cv: Evaluation
    held_out: dict[str, Evaluation] = field(default_factory=dict)
    used: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def labels_of(records: Sequence[LabeledContext]) -> np.ndarray:
    return np.array([LABEL_INDEX[r.label] for r in records], dtype=int)


def _score(model: LexicalModel, records: Sequence[LabeledContext]) -> Evaluation:
    p = model.probabilities([r.item for r in records])
    return evaluate_predictions(
        [r.label for r in records], [LABELS[c] for c in p.argmax(axis=1)], p.max(axis=1)
    )


def train(config: TrainConfig, log: Callable[[str], None] = lambda _: None) -> TrainReport:
    """Cross-validate on clinical, score the held-out sets, then fit the model to ship."""
    started = time.perf_counter()
    clinical = load_source(config.labeled_dir, "clinical")[: config.limit]
    auxiliary = {name: load_source(config.labeled_dir, name)[: config.limit]
                 for name in config.auxiliary}
    used = {"clinical": len(clinical)} | {name: len(r) for name, r in auxiliary.items()}
    log("training statements: " + ", ".join(f"{k} {v}" for k, v in used.items()))
    gold = labels_of(clinical)

    def fit(main: Sequence[LabeledContext], keep: Callable[[LabeledContext], bool]) -> LexicalModel:
        extra = [r for name in config.auxiliary for r in auxiliary[name] if keep(r)]
        records = [*main, *extra]
        weights = np.concatenate([np.ones(len(main)), np.full(len(extra), config.auxiliary_weight)])
        return fit_lexical([r.item for r in records], labels_of(records), weights,
                           config.regularisation, seed=config.seed, char_min_df=config.char_min_df,
                           context_weight=config.context_weight)

    def everything(_: LabeledContext) -> bool:
        return True

    folds = grouped_folds([r.group for r in clinical], config.folds, config.seed)
    out_of_fold = np.zeros((len(clinical), len(LABELS)))
    for f in range(config.folds):
        train_rows = [r for r, fold in zip(clinical, folds, strict=True) if fold != f]
        held = folds == f
        out_of_fold[held] = fit(train_rows, everything).scores(
            [r.item for r, h in zip(clinical, held, strict=True) if h])
        log(f"clinical fold {f + 1}/{config.folds} done")
    # Cross-fitting: each fold's offsets and temperature come from the other folds only.
    chosen = np.zeros(len(clinical), dtype=int)
    confidence = np.zeros(len(clinical))
    for f in range(config.folds):
        held = folds == f
        offsets = tune_offsets(out_of_fold[~held], gold[~held])
        temperature = fit_temperature(out_of_fold[~held] + offsets, gold[~held])
        p = softmax((out_of_fold[held] + offsets) / temperature)
        chosen[held], confidence[held] = p.argmax(axis=1), p.max(axis=1)
    clinical_cv = evaluate_predictions(
        [r.label for r in clinical], [LABELS[c] for c in chosen], confidence)
    offsets = tune_offsets(out_of_fold, gold)
    temperature = fit_temperature(out_of_fold + offsets, gold)

    held_out: dict[str, Evaluation] = {}
    if config.held_out and "multicite" in auxiliary:
        model = fit(clinical, lambda r: not (r.source == "multicite" and r.split == "test"))
        model.offsets, model.temperature = offsets, temperature
        test = [r for r in auxiliary["multicite"] if r.split == "test"]
        held_out["multicite-test"] = _score(model, test)
        log("multicite test scored")
    if config.held_out and "acl-arc" in auxiliary:
        model = fit(clinical, lambda r: r.source != "acl-arc")
        model.offsets, model.temperature = offsets, temperature
        held_out["acl-arc"] = _score(model, auxiliary["acl-arc"])
        log("acl-arc scored")

    final = fit(clinical, everything)
    final.offsets, final.temperature = offsets, temperature
    final.meta = {
        "approach": "tfidf-1-2gram+cues logistic regression",
        "auxiliary": list(config.auxiliary),
        "auxiliary_weight": config.auxiliary_weight,
        "regularisation": config.regularisation,
        "char_min_df": config.char_min_df,
        "context_weight": config.context_weight,
        "seed": config.seed,
        "used": used,
        "clinical_cv_macro_f1": round(clinical_cv.macro_f1, 4),
        "clinical_cv_ece": round(clinical_cv.ece or 0.0, 4),
    }
    return TrainReport(final, clinical_cv, held_out, used, time.perf_counter() - started)
