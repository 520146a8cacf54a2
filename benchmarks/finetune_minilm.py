"""Fine-tune all-MiniLM-L6-v2 with LoRA adapters on clinical folds and save each fold's logits.

Usage: python benchmarks/finetune_minilm.py [--folds 0,1,2,3,4] [--epochs 5] [--rank 16]
       [--lr 2e-3] [--out var/finetune]

For each clinical fold (the article-grouped folds of `citelens train`), trains the shipped
recipe (citelens.classify.finetune.fit_adapter) on the other folds, writes the held-out fold's
logits to OUT/fold{F}.npy with the row indices in OUT/fold{F}-rows.npy, and prints macro-F1 of
their argmax. benchmarks/stack_experiment.py mixes them with the lexical model's scores.

The full fine-tuning row of docs/classifier.md (all weights trained, 4 epochs, lr 5e-5) came from
this script's first version (git history), which also trained the encoder's own weights.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from citelens.classify.calibration import macro_f1
from citelens.classify.data import load_source
from citelens.classify.finetune import EncoderScorer, FinetuneConfig, fit_adapter
from citelens.classify.metrics import grouped_folds
from citelens.classify.train import labels_of

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "labeled"


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--folds", default="0,1,2,3,4")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--class-power", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("var/finetune"))
    args = parser.parse_args(argv)
    config = FinetuneConfig(rank=args.rank, epochs=args.epochs, batch_size=args.batch,
                            learning_rate=args.lr, class_power=args.class_power, seed=args.seed)
    clinical = load_source(DATA, "clinical")
    gold = labels_of(clinical)
    folds = grouped_folds([r.group for r in clinical], 5, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    for fold in (int(f) for f in args.folds.split(",")):
        started = time.perf_counter()
        train_rows = np.flatnonzero(folds != fold)
        test_rows = np.flatnonzero(folds == fold)
        adapter = fit_adapter([clinical[i].item for i in train_rows], gold[train_rows], config,
                              lambda line, f=fold: print(f"fold {f} {line}", flush=True))
        logits = EncoderScorer(adapter).logits([clinical[i].item for i in test_rows])
        np.save(args.out / f"fold{fold}.npy", logits)
        np.save(args.out / f"fold{fold}-rows.npy", test_rows)
        print(f"fold {fold} macro-F1 (argmax) {macro_f1(gold[test_rows], logits.argmax(1)):.3f}"
              f" in {time.perf_counter() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
