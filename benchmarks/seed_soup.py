"""Do encoders fitted with several seeds from one pretrained adapter, averaged, beat one?

Usage:
  python benchmarks/seed_soup.py fit --seed S [--dir var/soup] [--final] [--only 0 1 final]
                                     [--threads 1] [--residual] [--pretrain-seed 0]
  python benchmarks/seed_soup.py bases [--dir var/resid] [--final] [--only 0 1 final]
  python benchmarks/seed_soup.py score --seeds 0 1 [--dir var/soup] [--out var/soup/scores.npz]
                                       [--soup-rank 32 16]
  python benchmarks/seed_soup.py score --seeds 2 202 --soups 0+1 0+1+2 0+1+202 [--dir ...]
  python benchmarks/seed_soup.py score --from var/soup/scores.npz [--ensembles 0,100 0+1,100]
                                       [--bootstrap 1000]
  python benchmarks/seed_soup.py ship --seeds 0 1 [--dir var/soup] [--from var/soup/scores.npz]
                                      [--encoder-out PATH] [--soup-rank 16]
  python benchmarks/seed_soup.py held-out [--encoder-out PATH]

`fit` trains the clinical stage of the shipped encoder recipe on each clinical fold (article-
grouped, as `citelens train`), with encoder seed S, from one MultiCite-pretrained adapter (the
shipped pretraining, seed 0; the first `fit` to start makes it, later ones wait for the file),
and keeps each fold's adapter under --dir. `--final` also fits on every clinical statement (what
would ship). Two `fit`s with different seeds run side by side on the two cores.

`score` scores each held-out statement (whole sentence and, where classify/scope.py finds one,
the target's clause) with each seed's fold encoder, with their logits averaged (an ensemble: one
encoder pass per seed) and with the "soup": one adapter whose weight update is the mean of the
seeds' updates (finetune.average_adapters(exact=True); one encoder pass, as one seed costs).
Every variant is calibrated per fold on the other folds, run through the lexical first pass and
merged with its clause view, as the shipped classifier does; prints macro-F1, per-class F1 and
ECE of each.

`--soups` scores named soups instead of the soup of all `--seeds`: each given as its seeds
joined by "+", each cut to the shipped rank (train.ENCODER_SOUP_RANK). `--ensembles` adds
ensembles (mean logits, one encoder pass per member) of seeds or named soups joined by ",".
`--bootstrap N` prints each variant's macro-F1 spread over N resamples of whole articles.

`fit --pretrain-seed N` starts the fits from a pretraining with encoder seed N (same data; 0 is
the shipped one), kept in its own --dir; fits of two pretrainings can be scored together by
linking one's files into the other's folder under other seed numbers (s100-f0.npz, ...).

`ship` writes the encoder model of the soup of the seeds' `--final` fits, calibrated (offsets,
temperature) on the soup's out-of-fold clinical scores from `score`, exactly as `citelens
train --encoder-soup N` calibrates its own, for the shipped lexical model.

`held-out` scores MultiCite's test split and ACL-ARC as `citelens train` does: with a lexical
model refitted without the set (and calibrated as the shipped one), the encoder model (the
shipped one, or --encoder-out), first pass, clause views and use rule.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from harness import elapsed_log, saved_arrays

from citelens.classify.combined import combine
from citelens.classify.data import load_source
from citelens.classify.finetune import (
    Adapter,
    EncoderScorer,
    FinetuneConfig,
    fit_adapter,
)
from citelens.classify.metrics import LABELS, grouped_folds
from citelens.classify.scope import CLAUSE_WEIGHT, merge_views, scoped
from citelens.classify.section_prior import (
    DEFAULT_SECTION_PRIOR,
    load_factors,
    shift_to_sections,
)
from citelens.classify.train import (
    ENCODER_SOUP_RANK,
    TrainConfig,
    calibrated_views,
    encoder_mentions,
    evaluate_probabilities,
    first_pass_choice,
    keep_fit,
    labels_of,
    lexical_fit,
    pretrain_adapter,
    read_fit,
    soup_of,
)
from citelens.classify.usage import USE_SECTION, describes_use

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "labeled"


def pretrained_adapter(config: TrainConfig, folder: Path, log, seed: int = 0) -> Adapter:
    """The pretraining with encoder seed `seed` (0: the shipped one), made once and shared by
    every seed's fits under `folder`; another seed's has a file of its own, so it is never
    taken for the shipped one."""
    stem = "pretrained" if seed == 0 else f"pretrained-s{seed}"
    path, claim = folder / f"{stem}.npz", folder / f"{stem}.claimed"
    folder.mkdir(parents=True, exist_ok=True)
    if path.exists():  # from an earlier fit, or kept by `citelens train --fits-dir`
        log("pretrained adapter read from " + str(path))
        return read_fit(path)
    try:
        claim.touch(exist_ok=False)
    except FileExistsError:
        while not path.exists():
            time.sleep(20)
        log("pretrained adapter read from " + str(path))
        return read_fit(path)
    assert config.encoder is not None
    pretraining = TrainConfig(config.labeled_dir, held_out=False, limit=config.limit,
                              encoder=FinetuneConfig(seed=seed, threads=config.encoder.threads))
    _, more = encoder_mentions(pretraining, {}, log)
    adapter = pretrain_adapter(pretraining, more, {}, log)
    assert adapter is not None
    keep_fit(adapter, path)  # whole or not at all: another process may wait for it
    return adapter


def fit(args: argparse.Namespace, bases_only: bool = False) -> None:
    log = elapsed_log()
    config = TrainConfig(DATA, held_out=False, limit=args.limit,
                         encoder=FinetuneConfig(seed=args.seed, threads=args.threads))
    assert config.encoder is not None
    clinical = load_source(DATA, "clinical")[: args.limit]
    mentions, _ = encoder_mentions(config, {}, log)
    pretrained = None if bases_only else pretrained_adapter(config, args.dir, log,
                                                            args.pretrain_seed)
    folds = grouped_folds([r.group for r in clinical], config.folds, config.seed)
    jobs = [(f, [r for r, fold in zip(clinical, folds, strict=True) if fold != f])
            for f in range(config.folds)]
    if args.final:
        jobs.append(("final", list(clinical)))
    if args.only:  # a share of the fits, so two processes can split one seed's
        jobs = [(name, rows) for name, rows in jobs if str(name) in args.only]
    residual = args.residual or bases_only
    auxiliary = [r for name in config.auxiliary for r in load_source(DATA, name)[: args.limit]
                 ] if residual else []
    for name, rows in jobs:
        path = args.dir / f"s{args.seed}-f{name}.npz"
        if path.exists():
            continue
        encoder_rows = [*rows, *mentions]
        base = None
        if residual:
            base = residual_base(config, rows, mentions, auxiliary, args.dir / f"base-f{name}.npy")
            log(f"fold {name}: lexical base scores ready")
        if bases_only:
            continue
        adapter = fit_adapter([r.item for r in encoder_rows], labels_of(encoder_rows),
                              config.encoder, log, init=pretrained, base=base)
        keep_fit(adapter, path)
        log(f"seed {args.seed}, fold {name} done")


def residual_base(config: TrainConfig, rows: list, mentions: list, auxiliary: list,
                  path: Path) -> np.ndarray:
    """Lexical scores for the encoder's training rows, none from a model that saw the row:
    clinical rows by inner article-grouped folds, the mentions by the lexical model of all
    `rows` (it never sees SciCite). Cached at `path` (shared by the seeds)."""
    if path.exists():
        return np.load(path)
    inner = grouped_folds([r.group for r in rows], config.folds, config.seed)
    base = np.zeros((len(rows) + len(mentions), len(LABELS)))
    for k in range(config.folds):
        model = lexical_fit(config, [r for r, g in zip(rows, inner, strict=True) if g != k],
                            auxiliary)
        held = np.flatnonzero(inner == k)
        base[held] = model.scores([rows[i].item for i in held])
    if mentions:
        base[len(rows):] = lexical_fit(config, rows, auxiliary).scores(
            [r.item for r in mentions])
    partial = path.with_suffix(".partial.npy")
    np.save(partial, base)
    partial.replace(path)
    return base


def score(args: argparse.Namespace) -> None:
    log = elapsed_log()
    config = TrainConfig(DATA, held_out=False, limit=args.limit,
                         encoder=FinetuneConfig(threads=args.threads))
    clinical = load_source(DATA, "clinical")[: args.limit]
    auxiliary = [r for name in config.auxiliary for r in load_source(DATA, name)[: args.limit]]
    items = [r.item for r in clinical]
    gold = labels_of(clinical)
    clauses = [scoped(item) for item in items]
    has = np.array([c is not None for c in clauses])
    folds = grouped_folds([r.group for r in clinical], config.folds, config.seed)
    cuts = [f"soup-r{r}" for r in args.soup_rank or []]
    named = [f"soup {spec}" for spec in args.soups or []]
    names = [f"seed{s}" for s in args.seeds] + (named or ["soup", *cuts])
    saved: dict[str, np.ndarray] = {
        "gold": gold, "fold": folds, "scoped": has,
        "use-whole": np.array([describes_use(item.text) for item in items]),
        "use-clause": np.array([describes_use((c or item).text)
                                for c, item in zip(clauses, items, strict=True)])}
    for key in ["lexical", *names]:
        for view in ("whole", "clause"):
            saved[f"{key}-{view}"] = np.zeros((len(clinical), len(LABELS)))
    for f in range(config.folds):
        rows = [r for r, fold in zip(clinical, folds, strict=True) if fold != f]
        lexical = lexical_fit(config, rows, auxiliary)
        wanted = {*map(str, args.seeds), *(s for spec in args.soups or [] for s in spec.split("+"))}
        fits = {s: read_fit(args.dir / f"s{s}-f{f}.npz") for s in wanted}
        adapters = [fits[str(s)] for s in args.seeds]
        if args.soups:
            soups = [soup_of([fits[s] for s in spec.split("+")], ENCODER_SOUP_RANK)
                     for spec in args.soups]
        else:
            soups = [soup_of(adapters, None),
                     *(soup_of(adapters, r) for r in args.soup_rank or [])]
        models = dict(zip(names, [*adapters, *soups], strict=True))
        held = np.flatnonzero(folds == f)
        in_clause = held[has[held]]
        batches = {"whole": (held, [items[i] for i in held]),
                   "clause": (in_clause, [c for i in in_clause if (c := clauses[i]) is not None])}
        for view, (rows_of, batch) in batches.items():
            saved[f"lexical-{view}"][rows_of] = lexical.scores(batch)
        for name, adapter in models.items():
            scorer = EncoderScorer(adapter, threads=args.threads)
            for view, (rows_of, batch) in batches.items():
                saved[f"{name}-{view}"][rows_of] = scorer.logits(batch)
        log(f"fold {f + 1}/{config.folds} scored")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **saved)
    report(saved, config, args.ensembles, args.bootstrap)


def soup_cuts(saved: dict[str, np.ndarray]) -> list[str]:
    """The names of the cut soups (soup-rR) among saved scores, highest rank first."""
    names = {k[: -len("-whole")] for k in saved if k.startswith("soup-r") and k.endswith("-whole")}
    return sorted(names, key=lambda name: -int(name[len("soup-r"):]))


def named_soups(saved: dict[str, np.ndarray]) -> list[str]:
    """"soup" and the `--soups` ones ("soup 0+1") among saved scores."""
    return [k[: -len("-whole")] for k in saved
            if k.endswith("-whole") and (k == "soup-whole" or k.startswith("soup "))]


def member(spec: str) -> str:
    """The saved scores' name of an ensemble member: a seed ("0") or a named soup ("0+1")."""
    return f"soup {spec}" if "+" in spec else f"seed{spec}"


def bootstrap(p: np.ndarray, gold: np.ndarray, groups: np.ndarray, draws: int) -> str:
    """The spread of macro-F1 over `draws` resamples of whole articles (seeded): its standard
    deviation and 95% interval, as a held-out set of as many articles might score."""
    rows = [np.flatnonzero(groups == g) for g in np.unique(groups)]
    rng = np.random.default_rng(0)
    scores = np.array([evaluate_probabilities(p[pick], gold[pick]).macro_f1
                       for pick in (np.concatenate([rows[i] for i in
                                                    rng.integers(len(rows), size=len(rows))])
                                    for _ in range(draws))])
    low, high = np.percentile(scores, [2.5, 97.5])
    return f"sd {scores.std():.3f}, 95% {low:.3f}-{high:.3f}"


def report(saved: dict[str, np.ndarray], config: TrainConfig,
           ensembles: list[str] | None = None, draws: int = 0) -> dict[str, tuple[Any, float]]:
    """Prints the table; returns each variant's evaluation and encoded share. `ensembles`:
    members joined by "," (e.g. "0,100" or "0+1,100"), their logits averaged (one encoder pass
    per member). `draws` > 0 adds each variant's article bootstrap (see `bootstrap`)."""
    gold, folds, has = saved["gold"], saved["fold"], saved["scoped"].astype(bool)
    seeds = sorted(k[: -len("-whole")] for k in saved
                   if k.startswith("seed") and k.endswith("-whole"))
    variants: dict[str, dict[str, np.ndarray]] = {
        name: {v: saved[f"{name}-{v}"] for v in ("whole", "clause")}
        for name in [*seeds, *named_soups(saved), *soup_cuts(saved)]}
    variants["ensemble (mean logits)"] = {
        v: np.mean([saved[f"{s}-{v}"] for s in seeds], axis=0) for v in ("whole", "clause")}
    for spec in ensembles or []:
        missing = [m for m in spec.split(",") if f"{member(m)}-whole" not in saved]
        if missing:
            raise SystemExit(f"--ensembles {spec}: no saved scores for {', '.join(missing)} "
                             "(score them with --seeds or --soups first)")
        variants[f"ensemble {spec}"] = {
            v: np.mean([saved[f"{member(m)}-{v}"] for m in spec.split(",")], axis=0)
            for v in ("whole", "clause")}
    lexical = {v: saved[f"lexical-{v}"] for v in ("whole", "clause")}
    for v in ("whole", "clause"):  # a statement without a clause of its own: its sentence
        for scores in [lexical, *variants.values()]:
            scores[v] = np.where(has[:, None], scores[v], scores["whole"])
    # As the shipped classifiers do, a statement worded as use takes the methods prior
    # (classify/usage.py); clinical statements have no section otherwise.
    factors = load_factors(DEFAULT_SECTION_PRIOR)

    def shifted(views: list[np.ndarray]) -> list[np.ndarray]:
        return [shift_to_sections(p, [USE_SECTION if u else None for u in saved[f"use-{v}"]],
                                  factors) for p, v in zip(views, ("whole", "clause"),
                                                           strict=True)]

    lexical_p = shifted(calibrated_views(lexical["whole"], [lexical["whole"], lexical["clause"]],
                                         gold, folds))
    print(f"{len(gold)} clinical statements, {has.sum()} with a clause of their own")
    print("encoder                  macro-F1  F1 sup / men / con   ECE    encoded  per fold")
    out: dict[str, tuple[Any, float]] = {}
    groups = (np.array([r.group for r in load_source(DATA, "clinical")][: len(gold)])
              if draws else None)
    for name, scores in variants.items():
        mixed = {v: combine(lexical[v], scores[v], config.mix) for v in ("whole", "clause")}
        mixed_p = shifted(calibrated_views(mixed["whole"], [mixed["whole"], mixed["clause"]],
                                           gold, folds))
        whole, sure = first_pass_choice(lexical_p[0], mixed_p[0], config.first_pass)
        clause, _ = first_pass_choice(lexical_p[1], mixed_p[1], config.first_pass)
        p = whole.copy()
        p[has] = merge_views(whole[has], clause[has], CLAUSE_WEIGHT)
        e = evaluate_probabilities(p, gold)
        f1 = " / ".join(f"{e.per_class[label].f1:.3f}" for label in LABELS)
        per_fold = " ".join(
            f"{evaluate_probabilities(p[folds == f], gold[folds == f]).macro_f1:.3f}"
            for f in np.unique(folds))
        print(f"{name:24s} {e.macro_f1:.3f}     {f1}  {e.ece or 0:.3f}  {1 - sure.mean():.3f}"
              f"    {per_fold}")
        if groups is not None:
            spread = bootstrap(p, gold, groups, draws)
            print(f"{'':24s} article bootstrap ({draws} draws): {spread}")
        out[name] = (e, float(1 - sure.mean()))
    return out


def ship(args: argparse.Namespace) -> None:
    from citelens.classify.calibration import fit_temperature, tune_offsets
    from citelens.classify.combined import (
        DEFAULT_ENCODER_MODEL,
        CombinedModel,
        file_digest,
        save_combined,
    )
    from citelens.classify.lexical import DEFAULT_MODEL
    from citelens.classify.train import build_environment

    config = TrainConfig(DATA, encoder=FinetuneConfig(seed=min(args.seeds)),
                         encoder_soup=len(args.seeds))
    assert config.encoder is not None
    if sorted(args.seeds) != list(range(min(args.seeds), min(args.seeds) + len(args.seeds))):
        raise SystemExit("--seeds must count up by one (as train --encoder-soup fits them)")
    saved = saved_arrays(args.saved or args.out)
    rank = args.soup_rank[0] if args.soup_rank else None
    name = "soup" if rank is None else f"soup-r{rank}"
    evaluation, encoded = report(saved, config)[name]
    gold = saved["gold"]
    mixed = combine(saved["lexical-whole"], saved[f"{name}-whole"], config.mix)
    offsets = tune_offsets(mixed, gold)
    temperature = fit_temperature(mixed + offsets, gold)
    adapter = soup_of([read_fit(args.dir / f"s{s}-ffinal.npz") for s in args.seeds], rank)
    model = CombinedModel(adapter, config.mix, offsets, temperature, config.first_pass,
                          lexical_digest=file_digest(DEFAULT_MODEL))
    model.meta = {
        "approach": "lexical scores + mix * all-MiniLM-L6-v2 LoRA logits",
        "encoder": {k: getattr(config.encoder, k) for k in (
            "rank", "alpha", "epochs", "batch_size", "learning_rate", "class_power", "seed")}
        | {"soup": config.encoder_soup, "soup_rank": adapter.rank},
        "built_by": "benchmarks/seed_soup.py fit + score + ship (the recipe of citelens train "
                    f"--encoder-soup {config.encoder_soup} --encoder-soup-rank {adapter.rank})",
        "mix": config.mix,
        "first_pass": config.first_pass,
        "clinical_cv_macro_f1": round(evaluation.macro_f1, 4),
        "clinical_cv_ece": round(evaluation.ece or 0.0, 4),
        "clinical_encoded_share": round(encoded, 4),
        "built_with": build_environment(),
    }
    out = args.encoder_out or DEFAULT_ENCODER_MODEL
    save_combined(model, out)
    print(f"wrote {out}: soup of seeds {args.seeds} (rank {adapter.rank}), offsets "
          f"{np.round(offsets, 3).tolist()}, temperature {temperature:.3f}")


def held_out(args: argparse.Namespace) -> None:
    from citelens.classify.combined import (
        DEFAULT_ENCODER_MODEL,
        first_pass_probabilities,
        load_combined,
    )
    from citelens.classify.lexical import DEFAULT_MODEL, load_model
    from citelens.classify.metrics import evaluate_predictions
    from citelens.classify.scope import with_clause_views
    from citelens.classify.usage import use_sections

    log = elapsed_log()
    config = TrainConfig(DATA)
    shipped = load_model(DEFAULT_MODEL)
    combined = load_combined(args.encoder_out or DEFAULT_ENCODER_MODEL)
    scorer = EncoderScorer(combined.adapter, threads=args.threads)
    factors = load_factors(DEFAULT_SECTION_PRIOR)
    clinical = load_source(DATA, "clinical")
    auxiliary = {name: load_source(DATA, name) for name in config.auxiliary}
    sets = {"multicite-test": ("multicite", lambda r: r.split == "test"),
            "acl-arc": ("acl-arc", lambda r: True)}
    for name, (source, held) in sets.items():
        extra = [r for s in config.auxiliary for r in auxiliary[s]
                 if not (r.source == source and held(r))]
        lexical = lexical_fit(config, clinical, extra)
        calibration = (shipped.offsets, shipped.temperature)

        def probabilities(batch, lexical=lexical, calibration=calibration):
            return first_pass_probabilities(
                lexical.scores(batch), calibration,
                lambda rows: scorer.logits([batch[i] for i in rows]), combined,
                use_sections(batch), factors)[0]

        test = [r for r in auxiliary[source] if held(r)]
        p = with_clause_views([r.item for r in test], probabilities, CLAUSE_WEIGHT)
        e = evaluate_predictions([r.label for r in test], [LABELS[c] for c in p.argmax(1)],
                                 p.max(axis=1))
        f1 = " / ".join(f"{e.per_class[label].f1:.3f}" for label in LABELS)
        log(f"{name}: {len(test)} statements, macro-F1 {e.macro_f1:.3f} ({f1}), "
            f"ECE {e.ece or 0:.3f}")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=("fit", "bases", "score", "ship", "held-out"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--dir", type=Path, default=Path("var/soup"))
    parser.add_argument("--out", type=Path, default=Path("var/soup/scores.npz"))
    parser.add_argument("--from", dest="saved", type=Path, default=None)
    parser.add_argument("--final", action="store_true")
    parser.add_argument("--encoder-out", type=Path, default=None)
    parser.add_argument("--only", nargs="+", default=None,
                        help="fit: only these folds (0-4, final)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--pretrain-seed", type=int, default=0,
                        help="encoder seed of the pretraining the fits start from (0 ships)")
    parser.add_argument("--residual", action="store_true",
                        help="fit the encoder on what the lexical scores leave (fit)")
    parser.add_argument("--soup-rank", type=int, nargs="+", default=None,
                        help="score: also the soup cut to these ranks; ship: cut to this one")
    parser.add_argument("--soups", nargs="+", default=None, metavar="SEEDS",
                        help='soups to score, e.g. 0+1 0+1+2 (each cut to the shipped rank)')
    parser.add_argument("--ensembles", nargs="+", default=None, metavar="MEMBERS",
                        help='score: also these ensembles, members (seeds or soups) joined by '
                             '"," e.g. 0,100 0+1,100')
    parser.add_argument("--bootstrap", type=int, default=0, metavar="DRAWS",
                        help="score: also each variant's spread over resampled articles")
    parser.add_argument("--limit", type=int, default=None, help="a quick run (as train's)")
    args = parser.parse_args(argv)
    if args.command == "ship":
        ship(args)
    elif args.command == "held-out":
        held_out(args)
    elif args.saved is not None:
        report(saved_arrays(args.saved), TrainConfig(DATA), args.ensembles, args.bootstrap)
    elif args.command in ("fit", "bases"):
        fit(args, bases_only=args.command == "bases")
    else:
        score(args)


if __name__ == "__main__":
    main(sys.argv[1:])
