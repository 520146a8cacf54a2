"""Mix the lexical model's out-of-fold clinical scores with fine-tuned encoder logits.

Usage: python benchmarks/stack_experiment.py SCORES.npz [FT_DIR | OTHER_SCORES.npz ...]

SCORES.npz is written by `citelens train --lexical-only --scores-out SCORES.npz` (the shipped
recipe's out-of-fold lexical scores, folds and gold labels). Each FT_DIR holds fold{F}.npy
logits written by benchmarks/finetune_minilm.py (their mean is used); without FT_DIRs the
encoder's out-of-fold logits saved in SCORES.npz by `citelens train --scores-out` are used.
OTHER_SCORES.npz: more `citelens train --scores-out` files (same folds) whose encoder logits are
averaged with SCORES.npz's: an ensemble of encoders.
For mixing weights w, the score is lexical + w * encoder (w = 1000: the encoder alone), and
offsets and temperature are fitted per fold on the other folds present, as `citelens train`
does; with a single fold they are fitted on that fold itself (in-sample, so optimistic: compare
rows, not against 5-fold CV). Prints macro-F1, per-class F1 and ECE per w.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from citelens.classify.calibration import fit_temperature, softmax, tune_offsets
from citelens.classify.metrics import LABELS, Evaluation, evaluate_predictions
from citelens.classify.train import crossfit


def in_sample(scores: np.ndarray, gold: np.ndarray) -> Evaluation:
    offsets = tune_offsets(scores, gold)
    p = softmax((scores + offsets) / fit_temperature(scores + offsets, gold))
    return evaluate_predictions([LABELS[g] for g in gold], [LABELS[c] for c in p.argmax(1)],
                                p.max(1))


def main(scores_path: str, dirs: list[str]) -> None:
    saved = np.load(scores_path)
    lexical, folds, gold = saved["lexical"], saved["fold"], saved["gold"]
    others = [d for d in dirs if d.endswith(".npz")]
    dirs = [d for d in dirs if not d.endswith(".npz")]
    encoder = saved["encoder"] if not dirs and "encoder" in saved.files else np.zeros_like(lexical)
    for other in others:
        again = np.load(other)
        if not np.array_equal(again["fold"], folds):
            sys.exit(f"{other}: other folds than {scores_path}")
        encoder = encoder + again["encoder"]
    encoder = encoder / (1 + len(others))
    present = set(range(int(folds.max()) + 1))
    for d in dirs:
        got = {f for f in present if (Path(d) / f"fold{f}.npy").is_file()}
        for f in got:
            rows = np.load(Path(d) / f"fold{f}-rows.npy")
            encoder[rows] += np.load(Path(d) / f"fold{f}.npy") / len(dirs)
        present &= got
    print(f"folds with encoder logits: {sorted(present)}")
    keep = np.isin(folds, sorted(present))
    for w in (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 1000.0):
        scores = (lexical + w * encoder if w < 1000 else encoder)[keep]
        ev = (in_sample(scores, gold[keep]) if len(present) == 1
              else crossfit(scores, gold[keep], folds[keep])[0])
        f1 = " / ".join(f"{ev.per_class[label].f1:.3f}" for label in LABELS)
        print(f"w={w:>6}: macro-F1 {ev.macro_f1:.3f}  F1 sup/men/con {f1}  ECE {ev.ece:.3f}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:])
