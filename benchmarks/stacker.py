"""A learned combination of the lexical scores and the encoder logits, against the fixed mix.

Usage: python benchmarks/stacker.py SNAPSHOTS.npz [--encoder epoch5]

SNAPSHOTS.npz is written by benchmarks/encoder_snapshots.py (out-of-fold clinical lexical
scores, encoder logits per variant, folds, gold labels). The fixed mix is what ships:
lexical + 1.0 * encoder. The stacker is a multinomial logistic regression on the six scores,
fitted for each fold on the other folds' out-of-fold scores (nested, so no statement is scored
by a stacker that saw it); offsets and temperature are then fitted as for the fixed mix.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from citelens.classify.combined import combine
from citelens.classify.metrics import LABELS
from citelens.classify.train import TrainConfig, crossfit, first_pass_evaluation

# What ships: the fixed mix weight and the first pass's threshold of `citelens train`.
SHIPPED = TrainConfig(Path("."))


def stacked(lexical: np.ndarray, encoder: np.ndarray, gold: np.ndarray, folds: np.ndarray,
            c: float) -> np.ndarray:
    x = np.hstack([lexical, encoder])
    out = np.zeros_like(lexical)
    for f in np.unique(folds):
        held = folds == f
        model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
        model.fit(x[~held], gold[~held])
        out[held] = model.decision_function(x[held])
    return out


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("snapshots")
    parser.add_argument("--encoder", default="epoch5")
    args = parser.parse_args(argv)
    with np.load(args.snapshots) as data:
        lexical, folds, gold = data["lexical"], data["fold"], data["gold"]
        encoder = data[f"encoder-{args.encoder}"]
    _, lexical_p = crossfit(lexical, gold, folds)
    rows = {f"fixed mix {SHIPPED.mix}": combine(lexical, encoder, SHIPPED.mix)}
    for c in (0.01, 0.1, 1.0, 10.0):
        rows[f"stacker C={c}"] = stacked(lexical, encoder, gold, folds, c)
    for name, scores in rows.items():
        everyone, p = crossfit(scores, gold, folds)
        shipped, share = first_pass_evaluation(lexical_p, p, gold, SHIPPED.first_pass)
        f1 = " / ".join(f"{shipped.per_class[label].f1:.3f}" for label in LABELS)
        print(f"{name:16s} shipped {shipped.macro_f1:.3f} ({f1}) ECE {shipped.ece or 0:.3f}  "
              f"all encoded {everyone.macro_f1:.3f}  encoded {share:.0%}")


if __name__ == "__main__":
    main(sys.argv[1:])
