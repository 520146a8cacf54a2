"""Does the encoder gain from biomedical statements labelled by a teacher (self-training)?

Usage:
  python benchmarks/self_train.py pool --db var/elife.db [--out var/st/pool.jsonl]
  python benchmarks/self_train.py label --seed 0 | --seeds 0 1 ... [--dir var/st]
                                      [--per-class 400 600 200] [--soft-pick 600 400 1000]
                                      [--only 0 1]
  python benchmarks/self_train.py fit --seed 0 [--teachers 0 [1 ...]] [--soft] [--as N]
                                      [--dir var/st] [--only 0 1] [--threads 1]
  then: python benchmarks/seed_soup.py score --seeds 0 100 --dir var/st

`pool` takes the discussion and results statements of an index (`citelens ingest` of eLife's
interlinked-200 articles: no labels needed, any classifier) as unlabelled in-domain
statements: the sentence and its target callout, no section (the clinical statements have
none).

`label` labels the pool, per clinical fold, with that fold's teacher: the lexical model fitted
without the fold plus the encoder `seed_soup.py fit --seed S` kept for it (s<S>-f<k>.npz),
or with several `--seeds` their soup cut to rank 16 (as `citelens train` makes what ships),
combined as the shipped classifier combines them. Of each class it keeps the statements the
teacher is surest of (`--per-class` supporting, mentioning, contrasting); for soft targets
(`fit --soft`) it keeps instead the statements most likely supporting, most likely
contrasting and a random draw of the rest (`--soft-pick`), each with the teacher's
probabilities (the geometric mean of its two halves' distributions). No teacher saw its
fold's held-out statements, so the cross-validation stays honest.

`fit` trains the clinical stage again per fold, from the same pretrained adapter and with the
same seed, on the fold's clinical statements + SciCite mentions + the fold's teacher-labelled
statements, and keeps the fit as s<100+S>-f<k>.npz, so `seed_soup.py score --seeds S 100+S`
prints the plain and the self-trained encoder side by side.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

import numpy as np
from harness import elapsed_log
from seed_soup import DATA, pretrained_adapter

from citelens.classify.base import ClassifyInput
from citelens.classify.calibration import softmax
from citelens.classify.combined import combine
from citelens.classify.data import load_source
from citelens.classify.finetune import EncoderScorer, FinetuneConfig, fit_adapter
from citelens.classify.metrics import LABELS, grouped_folds
from citelens.classify.train import (
    TrainConfig,
    encoder_mentions,
    keep_fit,
    labels_of,
    lexical_fit,
    read_fit,
    soup_of,
)


def pool(args: argparse.Namespace) -> None:
    """Distinct (sentence, first callout) pairs of discussion and results statements."""
    connection = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
    rows = connection.execute(
        "SELECT text, callouts FROM statements WHERE section_type IN ('discussion', 'results')"
        " ORDER BY id").fetchall()
    seen: set[tuple[str, int, int]] = set()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as out:
        for text, callouts in rows:
            spans = json.loads(callouts)
            if not spans:
                continue
            key = (text, spans[0][0], spans[0][1])
            if key in seen:
                continue
            seen.add(key)
            out.write(json.dumps({"text": text, "target": spans[0][:2]}) + "\n")
    print(f"{len(seen)} statements from {len(rows)} rows -> {args.out}")


def read_pool(path: Path) -> list[ClassifyInput]:
    with path.open(encoding="utf-8") as lines:
        return [ClassifyInput(row["text"], target=tuple(row["target"]))
                for row in map(json.loads, lines)]


def picked(p: np.ndarray, per_class: list[int]) -> np.ndarray:
    """Row indices: of each class, the rows labelled with it that are surest, up to its count."""
    chosen = []
    label = p.argmax(axis=1)
    for c, wanted in enumerate(per_class):
        rows = np.flatnonzero(label == c)
        chosen.append(rows[np.argsort(-p[rows, c], kind="stable")][:wanted])
    return np.sort(np.concatenate(chosen))


def picked_soft(p: np.ndarray, counts: list[int], rng: np.random.Generator) -> np.ndarray:
    """Row indices: the rows most likely supporting, then the rows most likely contrasting,
    then a random draw of the others (`counts` of each)."""
    sup = np.argsort(-p[:, 0], kind="stable")[: counts[0]]
    rest = np.setdiff1d(np.arange(len(p)), sup)
    con = rest[np.argsort(-p[rest, 2], kind="stable")][: counts[1]]
    rest = np.setdiff1d(rest, con)
    drawn = rng.choice(rest, size=min(counts[2], len(rest)), replace=False)
    return np.sort(np.concatenate([sup, con, drawn]))


def teacher_name(seeds: list[int]) -> str:
    return "s" + "+".join(map(str, seeds))


def label(args: argparse.Namespace) -> None:
    log = elapsed_log()
    config = TrainConfig(DATA, held_out=False)
    seeds = args.seeds or [args.seed]
    items = read_pool(args.pool)
    clinical = load_source(DATA, "clinical")
    auxiliary = [r for name in config.auxiliary for r in load_source(DATA, name)]
    folds = grouped_folds([r.group for r in clinical], config.folds, config.seed)
    for f in range(config.folds):
        if args.only and str(f) not in args.only:
            continue
        rows = [r for r, fold in zip(clinical, folds, strict=True) if fold != f]
        lexical = lexical_fit(config, rows, auxiliary)
        fits = [read_fit(args.dir / f"s{seed}-f{f}.npz") for seed in seeds]
        teacher = fits[0] if len(fits) == 1 else soup_of(fits, config.encoder_soup_rank)
        scorer = EncoderScorer(teacher, threads=args.threads)
        scores = combine(lexical.scores(items), scorer.logits(items), config.mix)
        p = softmax(scores)
        keep = picked(p, args.per_class)
        # Soft targets: the geometric mean of the lexical model's and the encoder's
        # distributions (their summed scores at temperature 2). Fitting a temperature would
        # take labelled statements that neither fold model saw, which only nested folds give.
        soft_p = softmax(scores / 2.0)
        soft_rows = picked_soft(soft_p, args.soft_pick, np.random.default_rng(f))
        shares = np.bincount(p.argmax(axis=1), minlength=3) / len(items)
        kept = np.bincount(p[keep].argmax(axis=1), minlength=3)
        log(f"fold {f}: teacher labels {np.round(shares, 3).tolist()} of {len(items)}; kept "
            f"{kept.tolist()}, surest-kept floor "
            + " ".join(f"{p[keep][p[keep].argmax(1) == c, c].min():.2f}" for c in range(3)
                       if kept[c]))
        log(f"fold {f}: soft targets of {len(soft_rows)}, mean teacher probabilities "
            f"{np.round(soft_p[soft_rows].mean(axis=0), 3).tolist()}")
        np.savez(args.dir / f"pseudo-{teacher_name(seeds)}-f{f}.npz", rows=keep,
                 labels=p[keep].argmax(axis=1), p=p, soft_rows=soft_rows, soft_p=soft_p)
        if f == 0:
            rng = np.random.default_rng(0)
            for c in range(3):
                mine = keep[p[keep].argmax(axis=1) == c]
                for i in rng.choice(mine, size=min(4, len(mine)), replace=False):
                    print(f"{LABELS[c].value:11s} {p[i, c]:.2f}  {items[i].text[:160]}")


def fit(args: argparse.Namespace) -> None:
    log = elapsed_log()
    config = TrainConfig(DATA, held_out=False,
                         encoder=FinetuneConfig(seed=args.seed, threads=args.threads))
    assert config.encoder is not None
    items = read_pool(args.pool)
    clinical = load_source(DATA, "clinical")
    mentions, _ = encoder_mentions(config, {}, log)
    pretrained = pretrained_adapter(config, args.dir, log)
    folds = grouped_folds([r.group for r in clinical], config.folds, config.seed)
    for f in range(config.folds):
        if args.only and str(f) not in args.only:
            continue
        path = args.dir / f"s{args.as_ if args.as_ is not None else 100 + args.seed}-f{f}.npz"
        if path.exists():
            continue
        rows = [r for r, fold in zip(clinical, folds, strict=True) if fold != f]
        teachers = args.teachers or [args.seed]
        with np.load(args.dir / f"pseudo-{teacher_name(teachers)}-f{f}.npz") as pseudo:
            if args.soft:
                extra_p = pseudo["soft_p"][pseudo["soft_rows"]]
                extra = [items[i] for i in pseudo["soft_rows"]]
                extra_gold = extra_p.argmax(axis=1)
            else:
                extra, extra_gold = [items[i] for i in pseudo["rows"]], pseudo["labels"]
        log(f"fold {f}: {len(rows)} clinical + {len(mentions)} mentions + {len(extra)} "
            f"teacher-labelled ({np.bincount(extra_gold, minlength=3).tolist()}"
            f"{', soft' if args.soft else ''})")
        known = labels_of([*rows, *mentions])
        gold = np.concatenate([known, extra_gold])
        soft = np.concatenate([np.eye(3)[known], extra_p]) if args.soft else None
        adapter = fit_adapter(
            [*(r.item for r in [*rows, *mentions]), *extra], gold,
            config.encoder, log, init=pretrained, soft=soft)
        keep_fit(adapter, path)
        log(f"self-trained seed {args.seed}, fold {f} done")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=("pool", "label", "fit"))
    parser.add_argument("--db", type=Path, default=Path("var/elife.db"))
    parser.add_argument("--out", type=Path, default=Path("var/st/pool.jsonl"))
    parser.add_argument("--pool", type=Path, default=Path("var/st/pool.jsonl"))
    parser.add_argument("--dir", type=Path, default=Path("var/st"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="label: the teacher's encoder seeds (default: --seed)")
    parser.add_argument("--teachers", type=int, nargs="+", default=None)
    parser.add_argument("--soft", action="store_true")
    parser.add_argument("--as", dest="as_", type=int, default=None)
    parser.add_argument("--soft-pick", type=int, nargs=3, default=[600, 400, 1000],
                        metavar=("SUP", "CON", "REST"))
    parser.add_argument("--per-class", type=int, nargs=3, default=[400, 600, 200],
                        metavar=("SUP", "MEN", "CON"))
    parser.add_argument("--only", nargs="+", default=None)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    {"pool": pool, "label": label, "fit": fit}[args.command](args)


if __name__ == "__main__":
    main(sys.argv[1:])
