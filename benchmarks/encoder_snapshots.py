"""Score the encoder's snapshots and averages of them in clinical grouped cross-validation.

Usage: python benchmarks/encoder_snapshots.py [--seed 0] [--threads 1] [--out var/snap.npz]
       [--from var/snap.npz] [--cc30k-negatives N] [--limit N]
       [--masked-articles N [--masked-epochs N]]

Trains the shipped recipe exactly as `citelens train` does (same folds, SciCite mentions and
MultiCite pretraining; --seed is the encoder's seed, as `train --encoder-seed`) and, for each
clinical fold, keeps the adapter after each of the last three epochs. The held-out fold is then
scored by each snapshot, by the mean of the last two or three snapshots' weights (stochastic
weight averaging: of each LoRA factor, or exactly of each weight update), and by the mean of
their logits (a snapshot ensemble, which costs one encoder pass per snapshot). Each variant is
mixed with the lexical model's out-of-fold scores and scored as the shipped model is (lexical
first pass, offsets and temperature fitted on the other folds). The epoch-5 row is what
`citelens train` reports. --from re-prints the table of a saved run. --cc30k-negatives adds
that many of CC30k's LLM-labelled "Negative" contexts (failures to reproduce, criticism) to the
pretraining set as contrasting: more contrasting examples for the first stage.
--masked-articles adds a stage before everything, as `train --masked-articles`: masked-word
prediction on the citing sentences of that many eLife articles (classify/domain.py).
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
from harness import elapsed_log, saved_arrays

from citelens.classify.base import ClassifyInput
from citelens.classify.combined import combine
from citelens.classify.data import LabeledContext, load_source
from citelens.classify.finetune import (
    Adapter,
    EncoderScorer,
    FinetuneConfig,
    average_adapters,
    fit_adapter,
)
from citelens.classify.metrics import Evaluation
from citelens.classify.train import (
    TrainConfig,
    crossfit,
    encoder_mentions,
    first_pass_evaluation,
    labels_of,
    masked_pretraining,
    pretrain_adapter,
    train,
)
from citelens.model import Label

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "labeled"
KEPT = (3, 4, 5)


def cc30k_negatives(count: int) -> list[LabeledContext]:
    """A seeded sample of CC30k's LLM-extended training contexts labelled Negative
    (reproducibility-oriented sentiment: failures to reproduce, criticism), as contrasting."""
    path = DATA / "cc30k-reproducibility-sentiment" / "new_extended_train_set_llm_15000.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        texts = [row["text"] for row in csv.DictReader(handle) if row["label"] == "Negative"]
    pick = np.random.default_rng(0).permutation(len(texts))[:count]
    return [LabeledContext(ClassifyInput(texts[i]), Label.CONTRASTING, f"cc30k-{i}", "cc30k")
            for i in sorted(pick)]


def variants(snaps: dict[int, Adapter]) -> dict[str, Adapter]:
    out = {f"epoch{e}": snaps[e] for e in KEPT}
    for name, epochs in (("45", (4, 5)), ("345", (3, 4, 5))):
        chosen = [snaps[e] for e in epochs]
        out[f"swa{name}"] = average_adapters(chosen)
        out[f"swa{name}-exact"] = average_adapters(chosen, exact=True)
    return out


def row(name: str, shipped: Evaluation, everyone: Evaluation, share: float) -> str:
    f1 = " / ".join(f"{shipped.per_class[c].f1:.3f}" for c in shipped.per_class)
    return (f"{name:18s} {shipped.macro_f1:.3f}  ({f1})  ECE {shipped.ece or 0.0:.3f}  "
            f"all encoded {everyone.macro_f1:.3f}  encoded {share:.0%}")


def report(saved: dict[str, np.ndarray], config: TrainConfig) -> None:
    lexical, folds, gold = saved["lexical"], saved["fold"], saved["gold"]
    _, lexical_p = crossfit(lexical, gold, folds)
    logits = {k[len("encoder-"):]: v for k, v in saved.items() if k.startswith("encoder-")}
    logits["ensemble45"] = (logits["epoch4"] + logits["epoch5"]) / 2
    logits["ensemble345"] = (logits["epoch3"] + logits["epoch4"] + logits["epoch5"]) / 3
    print("variant            macro-F1 (sup / men / con F1)  ECE  ...")
    for name, encoder in logits.items():
        everyone, mixed_p = crossfit(combine(lexical, encoder, config.mix), gold, folds)
        shipped, share = first_pass_evaluation(lexical_p, mixed_p, gold, config.first_pass)
        print(row(name, shipped, everyone, share))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("var/snapshots.npz"))
    parser.add_argument("--from", dest="saved", type=Path, default=None)
    parser.add_argument("--limit", type=int, default=None, help="a quick run (as train's)")
    parser.add_argument("--cc30k-negatives", type=int, default=0,
                        help="add this many CC30k negative contexts (as contrasting) to the "
                             "pretraining set")
    parser.add_argument("--masked-articles", type=int, default=0,
                        help="masked-word pretraining on this many eLife articles' sentences")
    parser.add_argument("--masked-epochs", type=int, default=1)
    args = parser.parse_args(argv)
    config = TrainConfig(DATA, held_out=False, limit=args.limit,
                         encoder=FinetuneConfig(seed=args.seed, threads=args.threads),
                         masked_articles=args.masked_articles, masked_epochs=args.masked_epochs)
    if args.saved is not None:
        report(saved_arrays(args.saved), config)
        return
    log = elapsed_log()

    lexical = train(replace(config, encoder=None), log).out_of_fold
    folds, gold = lexical["fold"], lexical["gold"]
    clinical = load_source(DATA, "clinical")[: args.limit]
    used: dict[str, int] = {}
    mentions, more = encoder_mentions(config, used, log)
    if args.cc30k_negatives:
        more = more + cc30k_negatives(args.cc30k_negatives)
        log(f"pretraining adds {args.cc30k_negatives} CC30k negatives as contrasting")
    adapted = masked_pretraining(config, used, log)
    pretrained = pretrain_adapter(config, more, used, log, init=adapted)
    assert config.encoder is not None
    saved: dict[str, np.ndarray] = {"lexical": lexical["lexical"], "fold": folds, "gold": gold}
    for f in range(config.folds):
        snaps: dict[int, Adapter] = {}

        def keep(epoch: int, adapter: Adapter, snaps: dict[int, Adapter] = snaps) -> None:
            if epoch == 1:
                snaps.clear()  # a stalled fit is redone from epoch 1
            if epoch in KEPT:
                snaps[epoch] = adapter

        rows = [r for r, fold in zip(clinical, folds, strict=True) if fold != f] + mentions
        fit_adapter([r.item for r in rows], labels_of(rows), config.encoder, log,
                    init=pretrained, on_epoch=keep)
        held = np.flatnonzero(folds == f)
        items = [clinical[i].item for i in held]
        for name, adapter in variants(snaps).items():
            key = f"encoder-{name}"
            saved.setdefault(key, np.zeros((len(clinical), 3)))
            saved[key][held] = EncoderScorer(adapter, threads=args.threads).logits(items)
        log(f"fold {f + 1}/{config.folds} done")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(args.out, **saved)
    report(saved, config)


if __name__ == "__main__":
    main(sys.argv[1:])
