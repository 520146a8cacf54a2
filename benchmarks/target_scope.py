"""Does reading the target's own clause beside the whole sentence help? Clinical grouped CV.

Usage: python benchmarks/target_scope.py [--seed 0] [--threads 1] [--out var/scope.npz]
       [--models var/scope-models] [--from var/scope.npz] [--rescore] [--limit N]

Trains the shipped recipe per clinical fold exactly as `citelens train` does (lexical model,
MultiCite pretraining, the encoder's clinical fit; --seed is the encoder's seed) and scores each
held-out statement twice: the whole sentence, and, where classify/scope.py finds one, the
target's clause alone (with the conjunction that opens it, and without). Each view is calibrated
with the offsets and temperature fitted on the other folds' whole-sentence scores and run
through the lexical first pass, as the shipped classifier does; the two are then merged with
`merge_views` at several weights. Prints macro-F1 over all statements and accuracy on the
statements that have a second view, and on the 15 whose sentence gives another callout another
gold label. --from re-prints the table of a saved run. Each fold's two models are kept under
--models, so --rescore can score the views again (after a change to classify/scope.py) without
training anything.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
from harness import elapsed_log, saved_arrays

from citelens.classify.base import ClassifyInput
from citelens.classify.combined import combine
from citelens.classify.data import load_source
from citelens.classify.finetune import (
    EncoderScorer,
    FinetuneConfig,
    fit_adapter,
    load_adapter,
    save_adapter,
)
from citelens.classify.lexical import LexicalModel, load_model, save_model
from citelens.classify.metrics import LABELS, grouped_folds
from citelens.classify.scope import merge_views, scoped
from citelens.classify.train import (
    TrainConfig,
    calibrated_views,
    encoder_mentions,
    evaluate_probabilities,
    first_pass_choice,
    labels_of,
    lexical_fit,
    pretrain_adapter,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "labeled"
_OPENING_WORD = re.compile(r"^(?:but|whereas|while|although|though|however|yet)\b[\s,]*", re.I)
WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
VIEWS = ("whole", "clause", "bare")


def without_conjunction(item: ClassifyInput) -> ClassifyInput:
    """The clause without the conjunction that opens it ("but contradict [2]" -> "contradict
    [2]"); the target's span moves with the cut."""
    cut = _OPENING_WORD.match(item.text)
    if item.target is None or cut is None or cut.end() > item.target[0]:
        return item
    n = cut.end()
    return replace(item, text=item.text[n:], target=(item.target[0] - n, item.target[1] - n))


def calibrated(scores: dict[str, np.ndarray], gold: np.ndarray, folds: np.ndarray,
               first_pass: float, mix: float) -> dict[str, np.ndarray]:
    """Per view, what the shipped classifier outputs: lexical probabilities where their
    confidence reaches first_pass, the combined ones elsewhere; calibration fitted on the other
    folds' whole-sentence scores."""
    lexical = calibrated_views(scores["lexical-whole"],
                               [scores[f"lexical-{view}"] for view in VIEWS], gold, folds)
    mixed = calibrated_views(
        combine(scores["lexical-whole"], scores["encoder-whole"], mix),
        [combine(scores[f"lexical-{view}"], scores[f"encoder-{view}"], mix) for view in VIEWS],
        gold, folds)
    return {view: first_pass_choice(lexical_p, mixed_p, first_pass)[0]
            for view, lexical_p, mixed_p in zip(VIEWS, lexical, mixed, strict=True)}


def report(saved: dict[str, np.ndarray], config: TrainConfig) -> None:
    gold, folds, has = saved["gold"], saved["fold"], saved["scoped"].astype(bool)
    differing = saved["differing"].astype(bool)
    assert config.encoder is not None
    views = calibrated(saved, gold, folds, config.first_pass, config.mix)
    print(f"{len(gold)} statements, {has.sum()} with a clause of their own, "
          f"{differing.sum()} whose sentence gives another callout another label")
    print("view                weight  macro-F1  F1 sup / men / con  ECE    acc (scoped)  "
          "acc (differing)")
    for view in ("clause", "bare"):
        for weight in WEIGHTS:
            p = views["whole"].copy()
            p[has] = merge_views(views["whole"][has], views[view][has], weight)
            chosen = p.argmax(axis=1)
            e = evaluate_probabilities(p, gold)
            f1 = " / ".join(f"{e.per_class[label].f1:.3f}" for label in LABELS)
            print(f"{view:18s}  {weight:5.2f}  {e.macro_f1:.3f}     {f1}  {e.ece or 0:.3f}  "
                  f"{(chosen[has] == gold[has]).mean():.3f}         "
                  f"{(chosen[differing] == gold[differing]).mean():.3f}")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("var/scope.npz"))
    parser.add_argument("--from", dest="saved", type=Path, default=None)
    parser.add_argument("--models", type=Path, default=Path("var/scope-models"))
    parser.add_argument("--rescore", action="store_true",
                        help="score the views with the fold models kept under --models")
    parser.add_argument("--limit", type=int, default=None, help="a quick run (as train's)")
    args = parser.parse_args(argv)
    config = TrainConfig(DATA, held_out=False, limit=args.limit,
                         encoder=FinetuneConfig(seed=args.seed, threads=args.threads))
    if args.saved is not None:
        report(saved_arrays(args.saved), config)
        return
    log = elapsed_log()

    assert config.encoder is not None
    clinical = load_source(DATA, "clinical")[: args.limit]
    auxiliary = [r for name in config.auxiliary for r in load_source(DATA, name)[: args.limit]]
    items = [r.item for r in clinical]
    gold = labels_of(clinical)
    clause = [scoped(item) for item in items]
    has = np.array([c is not None for c in clause])
    views = {"whole": items, "clause": [c or i for c, i in zip(clause, items, strict=True)]}
    views["bare"] = [without_conjunction(c) for c in views["clause"]]
    labels_by_text: dict[str, set[int]] = {}
    for item, g in zip(items, gold, strict=True):
        labels_by_text.setdefault(item.text, set()).add(int(g))
    differing = np.array([len(labels_by_text[item.text]) > 1 for item in items])
    folds = grouped_folds([r.group for r in clinical], config.folds, config.seed)
    pretrained = None
    if not args.rescore:
        used: dict[str, int] = {}
        mentions, more = encoder_mentions(config, used, log)
        pretrained = pretrain_adapter(config, more, used, log)
    saved: dict[str, np.ndarray] = {"gold": gold, "fold": folds, "scoped": has,
                                    "differing": differing}
    for f in range(config.folds):
        lexical_path = args.models / f"lexical-{f}.npz"
        encoder_path = args.models / f"encoder-{f}.npz"
        if args.rescore:
            lexical: LexicalModel = load_model(lexical_path)
            with np.load(encoder_path) as data:
                adapter = load_adapter(data)
        else:
            rows = [r for r, fold in zip(clinical, folds, strict=True) if fold != f]
            lexical = lexical_fit(config, rows, auxiliary)
            encoder_rows = [*rows, *mentions]
            adapter = fit_adapter([r.item for r in encoder_rows], labels_of(encoder_rows),
                                  config.encoder, log, init=pretrained)
            args.models.mkdir(parents=True, exist_ok=True)
            save_model(lexical, lexical_path)
            save_adapter(adapter, encoder_path)
        scorer = EncoderScorer(adapter, threads=args.threads)
        held = np.flatnonzero(folds == f)
        for view, listed in views.items():
            scored = held if view == "whole" else held[has[held]]
            batch = [listed[i] for i in scored]
            for kind, values in (("lexical", lexical.scores(batch)),
                                 ("encoder", scorer.logits(batch))):
                key = f"{kind}-{view}"
                if key not in saved:
                    saved[key] = np.zeros((len(clinical), len(LABELS)))
                if view != "whole":  # a statement without a clause of its own: the whole
                    alone = held[~has[held]]
                    saved[key][alone] = saved[f"{kind}-whole"][alone]
                saved[key][scored] = values
        log(f"fold {f + 1}/{config.folds} done")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(args.out, **saved)
    report(saved, config)


if __name__ == "__main__":
    main(sys.argv[1:])
