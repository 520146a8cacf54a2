"""The first-pass threshold: clinical macro-F1 against the share of statements encoded.

Usage: python benchmarks/first_pass.py SCORES.npz [--models DIR] [--elife N]

SCORES.npz is written by `citelens train --scores-out` (out-of-fold lexical scores and encoder
logits, folds, gold labels); DIR holds the default.npz / encoder.npz that run wrote (default: the
shipped ones). For each threshold t, statements whose calibrated lexical confidence reaches t keep
the lexical answer and the rest get the combined one, both calibrated per fold on the other
folds (as `citelens train` scores the shipped model). Prints clinical macro-F1, per-class F1,
ECE and the share encoded, and the share of N eLife-200 statements the same threshold would send
to the encoder after the section prior (which is what sets ingest speed).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from citelens.classify.combined import DEFAULT_ENCODER_MODEL, combine, load_combined
from citelens.classify.lexical import DEFAULT_MODEL, load_model
from citelens.classify.metrics import LABELS
from citelens.classify.section_prior import load_factors, prior_path, shift_to_sections
from citelens.classify.train import crossfit, first_pass_evaluation

sys.path.insert(0, str(Path(__file__).resolve().parent))
from classify import elife_statements  # benchmarks/classify.py


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scores", type=Path)
    parser.add_argument("--models", type=Path, default=None)
    parser.add_argument("--elife", type=int, default=4000)
    args = parser.parse_args()
    saved = np.load(args.scores)
    lexical, encoder, folds, gold = (saved[k] for k in ("lexical", "encoder", "fold", "gold"))
    lexical_path = args.models / "default.npz" if args.models else DEFAULT_MODEL
    encoder_path = args.models / "encoder.npz" if args.models else DEFAULT_ENCODER_MODEL
    mix = load_combined(encoder_path).mix
    lexical_p = crossfit(lexical, gold, folds)[1]
    mixed_p = crossfit(combine(lexical, encoder, mix), gold, folds)[1]
    model = load_model(lexical_path)
    elife = elife_statements(args.elife)
    # Ingest moves the lexical probabilities to each statement's section prior before the
    # first pass decides (classify/section_prior.py).
    elife_p = shift_to_sections(model.probabilities(elife), [i.section for i in elife],
                                load_factors(prior_path(lexical_path)))
    print(f"mix {mix}; {len(gold)} clinical statements, {len(elife_p)} eLife statements")
    for t in (0.0, 0.7, 0.8, 0.85, 0.88, 0.9, 0.92, 0.95, 1.01):
        ev, share = first_pass_evaluation(lexical_p, mixed_p, gold, t)
        f1 = " / ".join(f"{ev.per_class[label].f1:.3f}" for label in LABELS)
        elife_share = float((elife_p.max(axis=1) < t).mean())
        print(f"t={t:<5} clinical macro-F1 {ev.macro_f1:.3f}  F1 sup/men/con {f1}  "
              f"ECE {ev.ece:.3f}  encoded: clinical {share:.1%}, eLife {elife_share:.1%}")


if __name__ == "__main__":
    main()
