"""Combine the lexical model's out-of-fold clinical scores with fine-tuned encoder logits.

Usage: python benchmarks/stack_experiment.py FT_DIR [FT_DIR ...]

Lexical out-of-fold scores come from the shipped recipe (`citelens train`'s folds, MultiCite and
ACL-ARC x0.1) and are cached in var/lexical-oof.npy. Each FT_DIR holds fold{F}.npy logits written
by benchmarks/finetune_minilm.py. For mixing weights w, the combined score is
lexical + w * mean(encoder logits); offsets and temperature are cross-fitted per fold exactly as
`citelens train` does. Prints macro-F1, per-class F1 and ECE per w, over the folds present.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from citelens.classify.calibration import fit_temperature, softmax, tune_offsets
from citelens.classify.data import load_source
from citelens.classify.lexical import fit_lexical
from citelens.classify.metrics import LABELS, evaluate_predictions, grouped_folds
from citelens.classify.train import labels_of

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "labeled"
CACHE = Path("var/lexical-oof.npy")


def lexical_oof(clinical, folds) -> np.ndarray:  # type: ignore[no-untyped-def]
    if CACHE.is_file():
        return np.load(CACHE)
    aux = [r for name in ("multicite", "acl-arc") for r in load_source(DATA, name)]
    out = np.zeros((len(clinical), 3))
    for f in range(5):
        main = [r for r, k in zip(clinical, folds, strict=True) if k != f]
        records = main + aux
        weights = np.concatenate([np.ones(len(main)), np.full(len(aux), 0.1)])
        model = fit_lexical([r.item for r in records], labels_of(records), weights, 4.0)
        held = folds == f
        out[held] = model.scores([r.item for r, h in zip(clinical, held, strict=True) if h])
        print(f"lexical fold {f} done", flush=True)
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    np.save(CACHE, out)
    return out


def crossfit(scores: np.ndarray, gold: np.ndarray, folds: np.ndarray, present: list[int]):  # type: ignore[no-untyped-def]
    mask = np.isin(folds, present)
    chosen = np.zeros(len(gold), dtype=int)
    confidence = np.zeros(len(gold))
    for f in present:
        held = folds == f
        fit_rows = mask & ~held
        if len(present) == 1:
            fit_rows = held  # one fold only: in-sample offsets (optimistic), flagged in output
        offsets = tune_offsets(scores[fit_rows], gold[fit_rows])
        temperature = fit_temperature(scores[fit_rows] + offsets, gold[fit_rows])
        p = softmax((scores[held] + offsets) / temperature)
        chosen[held], confidence[held] = p.argmax(1), p.max(1)
    return evaluate_predictions([LABELS[g] for g in gold[mask]],
                                [LABELS[c] for c in chosen[mask]], confidence[mask])


def main(dirs: list[str]) -> None:
    clinical = load_source(DATA, "clinical")
    gold = labels_of(clinical)
    folds = grouped_folds([r.group for r in clinical], 5, 0)
    lex = lexical_oof(clinical, folds)
    enc = np.zeros_like(lex)
    present: list[int] | None = None
    for d in dirs:
        got = []
        for f in range(5):
            path = Path(d) / f"fold{f}.npy"
            if path.is_file():
                rows = np.load(Path(d) / f"fold{f}-rows.npy")
                enc[rows] += np.load(path) / len(dirs)
                got.append(f)
        present = got if present is None else [f for f in present if f in got]
    present = present or []
    print(f"folds with encoder logits: {present}")
    for w in (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 1000.0):
        scores = lex + w * enc if w < 1000 else enc
        ev = crossfit(scores, gold, folds, present)
        f1 = " / ".join(f"{ev.per_class[label].f1:.3f}" for label in LABELS)
        print(f"w={w:>6}: macro-F1 {ev.macro_f1:.3f}  F1 sup/men/con {f1}  ECE {ev.ece:.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
