"""Approaches compared on the clinical set -> one line of scores each (the docs table).

Every approach gets the same article-grouped 5-fold cross-validation with cross-fitted offsets
and temperature (each fold's from the other folds). Embeddings are cached in var/cache.

    python benchmarks/classify_approaches.py
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from citelens.classify import load_classifier
from citelens.classify.calibration import fit_temperature, softmax, tune_offsets
from citelens.classify.data import load_source
from citelens.classify.encoder import Encoder, cached_encode
from citelens.classify.features import cue_matrix, marked_text
from citelens.classify.lexical import fit_lexical
from citelens.classify.metrics import LABELS, evaluate_predictions, grouped_folds
from citelens.classify.train import labels_of

REPO = Path(__file__).resolve().parents[1]
LABELED = REPO / ".." / "shared" / "data" / "labeled"
CACHE = REPO / "var" / "cache"


def scored(name: str, gold: np.ndarray, folds: np.ndarray, oof: np.ndarray) -> None:
    chosen = np.zeros(len(gold), dtype=int)
    confidence = np.zeros(len(gold))
    for f in np.unique(folds):
        held = folds == f
        offsets = tune_offsets(oof[~held], gold[~held])
        temperature = fit_temperature(oof[~held] + offsets, gold[~held])
        p = softmax((oof[held] + offsets) / temperature)
        chosen[held], confidence[held] = p.argmax(axis=1), p.max(axis=1)
    result = evaluate_predictions([LABELS[g] for g in gold], [LABELS[c] for c in chosen],
                                  confidence)
    per_class = " ".join(f"{s.f1:.3f}" for s in result.per_class.values())
    print(f"| {name} | {result.macro_f1:.3f} | {per_class.replace(' ', ' | ')} | "
          f"{result.ece:.3f} |", flush=True)


def dense_oof(x: np.ndarray, gold: np.ndarray, folds: np.ndarray, c: float) -> np.ndarray:
    oof = np.zeros((len(gold), len(LABELS)))
    for f in np.unique(folds):
        held = folds == f
        mean, scale = x[~held].mean(axis=0), x[~held].std(axis=0) + 1e-6
        model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
        model.fit((x[~held] - mean) / scale, gold[~held])
        oof[held] = model.decision_function((x[held] - mean) / scale)
    return oof


def main() -> None:
    clinical = load_source(LABELED, "clinical")
    auxiliary = [r for s in ("multicite", "acl-arc", "athar") for r in load_source(LABELED, s)]
    gold = labels_of(clinical)
    folds = grouped_folds([r.group for r in clinical], 5)
    items = [r.item for r in clinical]
    print("| approach | macro-F1 | F1 supporting | F1 mentioning | F1 contrasting | ECE |")
    print("|---|---|---|---|---|---|")

    baseline = load_classifier("baseline").predict(items)
    result = evaluate_predictions([r.label for r in clinical], [p.label for p in baseline],
                                  [p.confidence for p in baseline])
    per_class = " | ".join(f"{s.f1:.3f}" for s in result.per_class.values())
    print(f"| cue-phrase rules (baseline) | {result.macro_f1:.3f} | {per_class} | "
          f"{result.ece:.3f} |")

    cues = cue_matrix(items).astype(np.float64)
    scored("cue features, logistic regression", gold, folds, dense_oof(cues, gold, folds, 0.1))
    encoder = Encoder()
    raw = cached_encode(encoder, [i.text for i in items], CACHE).astype(np.float64)
    marked = cached_encode(encoder, [marked_text(i) for i in items], CACHE).astype(np.float64)
    scored("MiniLM frozen, sentence", gold, folds, dense_oof(raw, gold, folds, 0.1))
    scored("MiniLM frozen, target marked", gold, folds, dense_oof(marked, gold, folds, 0.1))
    scored("MiniLM frozen, target marked + cues", gold, folds,
           dense_oof(np.hstack([marked, cues]), gold, folds, 0.1))

    def lexical(extra: list, weight: float) -> Callable[[], np.ndarray]:
        def run() -> np.ndarray:
            oof = np.zeros((len(gold), len(LABELS)))
            for f in np.unique(folds):
                held = folds == f
                records = [r for r, h in zip(clinical, held, strict=True) if not h] + extra
                w = np.concatenate([np.ones(int((~held).sum())), np.full(len(extra), weight)])
                model = fit_lexical([r.item for r in records], labels_of(records), w, 4.0)
                oof[held] = model.scores([i for i, h in zip(items, held, strict=True) if h])
            return oof
        return run

    scored("TF-IDF 1-2 grams + cues, clinical only", gold, folds, lexical([], 0.0)())
    scored("TF-IDF 1-2 grams + cues, + other corpora x0.3", gold, folds,
           lexical(auxiliary, 0.3)())
    scored("TF-IDF 1-2 grams + cues, + other corpora x0.1 (shipped)", gold, folds,
           lexical(auxiliary, 0.1)())


if __name__ == "__main__":
    main()
