"""Labelled citation statements -> the shipped lexical model, calibrated, with its scores.

Clinical statements (closest to our task) are scored by article-grouped cross-validation; the
other corpora join the training side only, down-weighted. Offsets and the temperature are fitted
on held-out folds; MultiCite's test split and ACL-ARC are scored by models that never saw them.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
import time
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from importlib import metadata
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from citelens.classify.base import ClassifyInput
from citelens.classify.calibration import fit_temperature, softmax, tune_offsets
from citelens.classify.combined import CombinedModel, combine, first_pass_probabilities
from citelens.classify.data import LabeledContext, load_source, reuse_statements
from citelens.classify.domain import MaskedConfig, adapt_encoder, corpus_sentences
from citelens.classify.finetune import (
    Adapter,
    EncoderScorer,
    FinetuneConfig,
    average_adapters,
    fit_adapter,
    load_adapter,
    save_adapter,
    truncate_adapter,
)
from citelens.classify.lexical import LexicalModel, fit_lexical
from citelens.classify.metrics import (
    LABEL_INDEX,
    LABELS,
    Evaluation,
    evaluate_predictions,
    grouped_folds,
)
from citelens.classify.scope import CLAUSE_WEIGHT, merge_views, scoped, with_clause_views
from citelens.classify.section_prior import estimate_factors, scicite_rows, shift_to_sections
from citelens.classify.usage import use_sections
from citelens.errors import ModelError

# Mentions the encoder also learns from: SciCite's method and background citations from its
# training split, this many (seeded sample; 0 for none). Clinical statements come from
# discussion sections: trained on them alone the encoder read eLife methods sentences
# ("prepared as previously described [TARGET]") as supporting and labelled 4.9% of eLife
# statements contrasting; 300 brought that to 1.4% at the same clinical CV (0.697 against
# 0.694), 1,000 cost clinical CV (0.673) (docs/classifier.md).
ENCODER_MENTIONS = 300


# The encoder's clinical-stage fits averaged into the shipped adapter (TrainConfig.encoder_soup).
# Clinical CV (benchmarks/seed_soup.py, one pretrained adapter): seeds 0 / 1 / 2 alone 0.702 /
# 0.703 / 0.715; soup of seeds 0-1 0.712, of 0-2 0.716 (their logits averaged, three encoder
# passes: 0.714); docs/classifier.md. A fourth seed added nothing (tenth session, train's own
# fits cut to rank 16: seeds 0-2 0.726, seeds 0-3 0.724).
ENCODER_SOUP = 3

# The soup's weight update (rank 16 x ENCODER_SOUP) is cut to this rank by truncated SVD
# (finetune.truncate_adapter; TrainConfig.encoder_soup_rank): the file shrinks from 2.9 to
# 1.0 MB. Clinical CV of the soup of seeds 0-2 (benchmarks/seed_soup.py, ninth session):
# uncut 0.725, rank 32 0.726, 24 0.729, 16 0.730; docs/classifier.md.
ENCODER_SOUP_RANK = 16


# The pretraining fit's stall guard (see pretrain_adapter): a share of the prior loss above which
# it learned next to nothing.
PRETRAIN_STALLED_LOSS_RATIO = 0.9


@dataclass(frozen=True, slots=True)
class TrainConfig:
    labeled_dir: Path
    # Athar's set is left out: adding it lowered clinical grouped-CV macro-F1 (0.670 without,
    # 0.659 with); its "positive" is mostly praise, not agreement (docs/classifier.md).
    auxiliary: tuple[str, ...] = ("multicite", "acl-arc")
    # Weight of an auxiliary statement relative to a clinical one (0.1 beat 0.3 and 0 in
    # clinical grouped CV; see docs/classifier.md).
    auxiliary_weight: float = 0.1
    regularisation: float = 4.0  # inverse L2 strength (scikit-learn's C)
    # Character 2-5-grams seen in this many texts join the word n-grams as a second block;
    # None leaves them out.
    char_min_df: int | None = None
    # The neighbour sentences' word n-grams as a block scaled by this; None leaves them out.
    context_weight: float | None = None
    folds: int = 5
    seed: int = 0
    limit: int | None = None  # only the first N statements of each corpus (tests, quick runs)
    held_out: bool = True  # also score MultiCite test and ACL-ARC (two extra fits)
    # The fine-tuned encoder (LoRA adapters on all-MiniLM-L6-v2) trained on clinical statements
    # and mixed into the lexical scores; None trains the lexical model alone.
    encoder: FinetuneConfig | None = None
    # Mentions the encoder also learns from (see ENCODER_MENTIONS).
    encoder_mentions: int = ENCODER_MENTIONS
    # Weight of the encoder's logits against the lexical scores: 1.0 was chosen on clinical
    # fold 0 alone, and 0.25-2.0 scored within 0.01 of it over all five folds since
    # (docs/classifier.md).
    mix: float = 1.0
    # Statements whose lexical confidence reaches this skip the encoder. 0.85 scored as well as
    # encoding everything in clinical CV (0.699 against 0.695) and sends 41% of clinical and
    # 37% of eLife statements to the encoder (0.9: 57% and 54%); benchmarks/first_pass.py.
    first_pass: float = 0.85
    # Before it learns from clinical statements the encoder is trained on other labelled sets
    # (an intermediate task): "multicite" (its train and dev splits; the test split stays held
    # out). Empty: the encoder starts from scratch. With 2,000 SciCite mentions added, clinical
    # CV 0.699 -> 0.703, MultiCite test 0.514 -> 0.585, ACL-ARC 0.479 -> 0.499; without them
    # the one run tried stalled (docs/classifier.md).
    encoder_pretrain: tuple[str, ...] = ("multicite",)
    pretrain_epochs: int = 2
    # SciCite method / background mentions added to the pretraining statements (none of them
    # among the encoder's own mentions).
    pretrain_mentions: int = 2000
    # Before any labelled data, the encoder's adapters learn to predict masked words of the
    # citing sentences in these sections of this many articles of the eLife corpus
    # (classify/domain.py: domain-adaptive pretraining); 0 leaves the stage out.
    masked_articles: int = 0
    masked_sections: tuple[str, ...] = ("discussion", "results")
    masked_epochs: int = 1
    # SciCite method citations worded like agreement ("the same antibody as [7]", "as described
    # previously [5]"; data.reuse_statements) join both models' training data as mentions (the
    # lexical model's at full weight): using a method or material is not support.
    reuse_mentions: bool = False
    # The encoder's clinical stage is fitted this many times from the one pretrained adapter,
    # with encoder seeds seed, seed + 1, ..., and the fits' weight updates averaged into one
    # adapter (a "model soup": finetune.average_adapters(exact=True); scoring costs one
    # encoder pass whatever the number).
    encoder_soup: int = ENCODER_SOUP
    # The soup's update cut to this rank (truncated SVD) to keep the file small; None keeps
    # every factor (the fits' rank times encoder_soup).
    encoder_soup_rank: int | None = ENCODER_SOUP_RANK
    # The encoder's clinical-stage fits (folds x soup, and the final ones) run in this many
    # worker processes at once, each with one math thread; 1 runs them here, one after another.
    # A fit gives the same weights either way (fits are seeded and independent).
    jobs: int = 1
    # Where each encoder fit is also kept as soon as it is made (pretrained.npz, and
    # s{seed}-f{fold}.npz / s{seed}-ffinal.npz for each clinical-stage fit:
    # benchmarks/seed_soup.py's layout, so its `score` and `ship` can reuse a run's fits and add
    # seeds to its soup), with run.json saying what they were fitted from. A run given the folder
    # of an interrupted run with the same settings reads the fits kept there instead of fitting
    # them again; None keeps none.
    fits_dir: Path | None = None


# The record of what a fits folder's fits were fitted from (TrainConfig.fits_dir).
FITS_RUN_FILE = "run.json"


@dataclass(slots=True)
class TrainReport:
    model: LexicalModel
    clinical_cv: Evaluation  # of what ships: the combined model when there is an encoder
    combined: CombinedModel | None = None
    lexical_cv: Evaluation | None = None
    encoded_share: float = 1.0  # share of clinical statements the first pass sent to the encoder
    # Out-of-fold clinical scores (lexical scores, encoder logits; rows in clinical file order)
    # and the fold of each statement, for analysis.
    out_of_fold: dict[str, np.ndarray] = field(default_factory=dict)
    held_out: dict[str, Evaluation] = field(default_factory=dict)
    used: dict[str, int] = field(default_factory=dict)
    # Per section type: SciCite citations, their share of result comparisons, the factor
    # (classify/section_prior.py); written beside the lexical model.
    section_prior: dict[str, dict[str, float]] = field(default_factory=dict)
    seconds: float = 0.0


# What a trained model's numbers depend on beyond the seed: the same seed reproduces a model
# bit for bit only with these versions on the same kind of CPU (the shipped recipe rerun on
# another machine image scored 0.697 clinical CV against 0.703; docs/classifier.md).
BUILD_LIBRARIES = ("numpy", "scikit-learn", "torch", "transformers", "tokenizers")


def build_environment() -> dict[str, str]:
    """The versions of BUILD_LIBRARIES installed here (absent ones left out), Python, and the
    CPU (its model name where /proc/cpuinfo tells it)."""
    found: dict[str, str] = {}
    for name in BUILD_LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle
                        if line.startswith("model name")), cpu)
    except OSError:
        pass
    return found | {"python": platform.python_version(), "machine": platform.machine(),
                    "cpu": cpu}


def labels_of(records: Sequence[LabeledContext]) -> np.ndarray:
    return np.array([LABEL_INDEX[r.label] for r in records], dtype=int)


def _score(model: LexicalModel, records: Sequence[LabeledContext],
           factors: dict[str, float]) -> Evaluation:
    def probabilities(batch: Sequence[ClassifyInput]) -> np.ndarray:
        return shift_to_sections(model.probabilities(batch), use_sections(batch), factors)

    p = with_clause_views([r.item for r in records], probabilities, CLAUSE_WEIGHT)
    return evaluate_predictions(
        [r.label for r in records], [LABELS[c] for c in p.argmax(axis=1)], p.max(axis=1)
    )


def lexical_fit(config: TrainConfig, main: Sequence[LabeledContext],
                extra: Sequence[LabeledContext]) -> LexicalModel:
    """The lexical model as `train` fits it: `main` at weight 1, `extra` (other corpora) at
    `config.auxiliary_weight`."""
    records = [*main, *extra]
    weights = np.concatenate([np.ones(len(main)), np.full(len(extra), config.auxiliary_weight)])
    return fit_lexical([r.item for r in records], labels_of(records), weights,
                       config.regularisation, seed=config.seed, char_min_df=config.char_min_df,
                       context_weight=config.context_weight)


def train(config: TrainConfig, log: Callable[[str], None] = lambda _: None) -> TrainReport:
    """Cross-validate on clinical, score the held-out sets, then fit the model to ship."""
    started = time.perf_counter()
    clinical = load_source(config.labeled_dir, "clinical")[: config.limit]
    auxiliary = {name: load_source(config.labeled_dir, name)[: config.limit]
                 for name in config.auxiliary}
    used = {"clinical": len(clinical)} | {name: len(r) for name, r in auxiliary.items()}
    log("training statements: " + ", ".join(f"{k} {v}" for k, v in used.items()))
    gold = labels_of(clinical)
    mentions, pretrain_mentions = encoder_mentions(config, used, log)
    reuse = reuse_mentions(config, mentions, used, log)
    mentions = [*mentions, *reuse]
    kept = None if config.fits_dir is None else claim_fits_dir(config, log)
    if kept is not None and (kept / "pretrained.npz").exists():
        # With the pretraining's statement counts, so the model records what a whole run would.
        pretrained: Adapter | None = read_fit(kept / "pretrained.npz", used)
        log(f"pretrained adapter read from {kept / 'pretrained.npz'}")
    else:
        adapted = masked_pretraining(config, used, log)
        pretrained = pretrain_adapter(config, pretrain_mentions, used, log, init=adapted)
        if kept is not None and pretrained is not None:
            keep_fit(pretrained, kept / "pretrained.npz", pretraining_counts(used))
    section_prior = estimate_factors(scicite_rows(config.labeled_dir, "train"))
    log("section prior (factor on supporting / contrasting): " + ", ".join(
        f"{kind} {entry['factor']:.3f}" for kind, entry in section_prior.items()))

    def fit(main: Sequence[LabeledContext], keep: Callable[[LabeledContext], bool]) -> LexicalModel:
        return lexical_fit(config, [*main, *reuse],
                           [r for name in config.auxiliary for r in auxiliary[name] if keep(r)])

    def everything(_: LabeledContext) -> bool:
        return True

    try:
        folds = grouped_folds([r.group for r in clinical], config.folds, config.seed)
    except ValueError as error:
        raise ModelError(f"clinical statements: {error} (a larger --limit?)") from error
    items = [r.item for r in clinical]
    # A statement whose target has a clause of its own is also scored by that clause, as the
    # shipped classifiers do (classify/scope.py); elsewhere the clause rows stay unused.
    clauses = [scoped(item) for item in items]
    has_clause = np.array([c is not None for c in clauses], dtype=bool)
    soups: list[Adapter] = []
    if config.encoder is not None:
        # Every clinical-stage fit at once (folds, then the final one), so they can run side
        # by side.
        soups = fit_soups(config, [
            [*[r for r, fold in zip(clinical, folds, strict=True) if fold != f], *mentions]
            for f in range(config.folds)] + [[*clinical, *mentions]], pretrained, log,
            names=[*map(str, range(config.folds)), "final"])
    out_of_fold = np.zeros((len(clinical), len(LABELS)))
    encoder_oof = np.zeros((len(clinical), len(LABELS)))
    clause_oof = np.zeros((len(clinical), len(LABELS)))
    clause_encoder_oof = np.zeros((len(clinical), len(LABELS)))
    for f in range(config.folds):
        train_rows = [r for r, fold in zip(clinical, folds, strict=True) if fold != f]
        held = np.flatnonzero(folds == f)
        in_clause = held[has_clause[held]]
        clause_batch = [c for i in in_clause if (c := clauses[i]) is not None]
        lexical = fit(train_rows, everything)
        out_of_fold[held] = lexical.scores([items[i] for i in held])
        clause_oof[in_clause] = lexical.scores(clause_batch)
        if config.encoder is not None:
            fold_scorer = EncoderScorer(soups[f])
            encoder_oof[held] = fold_scorer.logits([items[i] for i in held])
            clause_encoder_oof[in_clause] = fold_scorer.logits(clause_batch)
        log(f"clinical fold {f + 1}/{config.folds} done")

    def merged(whole: np.ndarray, clause: np.ndarray) -> np.ndarray:
        p = whole.copy()
        p[has_clause] = merge_views(whole[has_clause], clause[has_clause], CLAUSE_WEIGHT)
        return p

    # As the shipped classifiers do, a statement worded as use takes the methods section's
    # prior (classify/usage.py); the others have no section and stay as they are.
    factors = {kind: entry["factor"] for kind, entry in section_prior.items()}
    whole_sections = use_sections(items)
    clause_sections = use_sections([c or item for c, item in zip(clauses, items, strict=True)])

    def shifted(whole: np.ndarray, clause: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (shift_to_sections(whole, whole_sections, factors),
                shift_to_sections(clause, clause_sections, factors))

    lexical_whole_p, lexical_clause_p = shifted(*calibrated_views(
        out_of_fold, [out_of_fold, clause_oof], gold, folds))
    lexical_p = merged(lexical_whole_p, lexical_clause_p)
    lexical_cv = evaluate_probabilities(lexical_p, gold)
    offsets = tune_offsets(out_of_fold, gold)
    temperature = fit_temperature(out_of_fold + offsets, gold)
    combined: CombinedModel | None = None
    clinical_cv, encoded_share = lexical_cv, 0.0
    if config.encoder is not None:
        mixed = combine(out_of_fold, encoder_oof, config.mix)
        mixed_clause = combine(clause_oof, clause_encoder_oof, config.mix)
        mixed_p, mixed_clause_p = shifted(*calibrated_views(mixed, [mixed, mixed_clause],
                                                            gold, folds))
        everyone = evaluate_probabilities(merged(mixed_p, mixed_clause_p), gold)
        log(f"lexical + encoder on every statement: clinical CV macro-F1 "
            f"{everyone.macro_f1:.3f}, ECE {everyone.ece or 0.0:.3f}")
        whole_p, sure = first_pass_choice(lexical_whole_p, mixed_p, config.first_pass)
        clause_p, _ = first_pass_choice(lexical_clause_p, mixed_clause_p, config.first_pass)
        clinical_cv = evaluate_probabilities(merged(whole_p, clause_p), gold)
        encoded_share = float(1.0 - sure.mean())
        mixed_offsets = tune_offsets(mixed, gold)
        mixed_temperature = fit_temperature(mixed + mixed_offsets, gold)

    final = fit(clinical, everything)
    final.offsets, final.temperature = offsets, temperature
    scorer = None
    if config.encoder is not None:
        scorer = EncoderScorer(soups[-1])
        combined = CombinedModel(soups[-1], config.mix, mixed_offsets, mixed_temperature,
                                 config.first_pass, lexical_digest="")
        log("encoder fitted on all clinical statements")

    def score_held_out(model: LexicalModel, records: Sequence[LabeledContext]) -> Evaluation:
        model.offsets, model.temperature = offsets, temperature
        if combined is None or scorer is None:
            return _score(model, records, factors)
        def shipped(batch: Sequence[ClassifyInput]) -> np.ndarray:
            assert combined is not None and scorer is not None
            return first_pass_probabilities(
                model.scores(batch), (offsets, temperature),
                lambda rows: scorer.logits([batch[i] for i in rows]), combined,
                use_sections(batch), factors)[0]

        p = with_clause_views([r.item for r in records], shipped, CLAUSE_WEIGHT)
        return evaluate_predictions([r.label for r in records],
                                    [LABELS[c] for c in p.argmax(axis=1)], p.max(axis=1))

    # The encoder is trained on clinical statements only, so it never sees these sets either.
    held_out: dict[str, Evaluation] = {}
    if config.held_out and "multicite" in auxiliary:
        model = fit(clinical, lambda r: not (r.source == "multicite" and r.split == "test"))
        test = [r for r in auxiliary["multicite"] if r.split == "test"]
        if test:  # a --limit can keep only training-split statements
            held_out["multicite-test"] = score_held_out(model, test)
            log("multicite test scored")
    if config.held_out and auxiliary.get("acl-arc"):
        model = fit(clinical, lambda r: r.source != "acl-arc")
        held_out["acl-arc"] = score_held_out(model, auxiliary["acl-arc"])
        log("acl-arc scored")

    final.meta = {
        "approach": "tfidf-1-2gram+cues logistic regression",
        "auxiliary": list(config.auxiliary),
        "auxiliary_weight": config.auxiliary_weight,
        "regularisation": config.regularisation,
        "char_min_df": config.char_min_df,
        "context_weight": config.context_weight,
        "seed": config.seed,
        "used": used,
        "clinical_cv_macro_f1": round(lexical_cv.macro_f1, 4),
        "clinical_cv_ece": round(lexical_cv.ece or 0.0, 4),
        "built_with": build_environment(),
    }
    if combined is not None and config.encoder is not None:
        combined.meta = {
            "approach": "lexical scores + mix * all-MiniLM-L6-v2 LoRA logits",
            "encoder": {k: getattr(config.encoder, k) for k in (
                "rank", "alpha", "epochs", "batch_size", "learning_rate", "class_power",
                "seed")} | {"soup": config.encoder_soup,
                            "soup_rank": combined.adapter.rank},
            "encoder_training": f"clinical {len(clinical)}, scicite mentions {len(mentions)}",
            "encoder_pretraining": pretraining_counts(used),
            "mix": config.mix,
            "first_pass": config.first_pass,
            "clinical_cv_macro_f1": round(clinical_cv.macro_f1, 4),
            "clinical_cv_ece": round(clinical_cv.ece or 0.0, 4),
            "clinical_encoded_share": round(encoded_share, 4),
            "built_with": build_environment(),
        }
    return TrainReport(final, clinical_cv, combined=combined, lexical_cv=lexical_cv,
                       encoded_share=encoded_share, held_out=held_out, used=used,
                       section_prior=section_prior,
                       seconds=time.perf_counter() - started,
                       out_of_fold={"lexical": out_of_fold, "encoder": encoder_oof,
                                    "fold": folds, "gold": gold,
                                    "lexical_clause": clause_oof,
                                    "encoder_clause": clause_encoder_oof,
                                    "has_clause": has_clause})


def fit_soup(config: TrainConfig, records: Sequence[LabeledContext], init: Adapter | None,
             log: Callable[[str], None]) -> Adapter:
    """The encoder's clinical-stage adapter: `config.encoder_soup` fits from `init`, encoder
    seeds counting up from the configured one, their weight updates averaged (one fit: itself)
    and cut to `config.encoder_soup_rank`."""
    return fit_soups(config, [records], init, log)[0]


def fit_soups(config: TrainConfig, sets: Sequence[Sequence[LabeledContext]],
              init: Adapter | None, log: Callable[[str], None],
              names: Sequence[str] | None = None) -> list[Adapter]:
    """`fit_soup` of each of `sets`, with all their fits run `config.jobs` at a time; with
    `config.fits_dir`, each fit is kept there under its set's name from `names` as soon as it
    is made, and a fit already kept there is read instead of made (see claim_fits_dir)."""
    assert config.encoder is not None
    if config.encoder_soup < 1:
        raise ModelError("encoder_soup must be at least 1")
    if config.jobs < 1:
        raise ModelError("jobs must be at least 1")
    tasks = [([r.item for r in records], labels_of(records),
              replace(config.encoder, seed=config.encoder.seed + k))
             for records in sets for k in range(config.encoder_soup)]
    set_names = list(names) if names else [str(s) for s in range(len(sets))]
    paths: list[Path | None] = [
        None if config.fits_dir is None
        else config.fits_dir / f"s{finetune.seed}-f{set_names[n // config.encoder_soup]}.npz"
        for n, (_, _, finetune) in enumerate(tasks)]
    fits: list[Adapter | None] = [
        read_fit(path) if path is not None and path.exists() else None for path in paths]
    if any(fit is not None for fit in fits):
        log(f"{sum(fit is not None for fit in fits)} of {len(tasks)} encoder fits read from "
            f"{config.fits_dir} (kept by an earlier run with these settings)")
    todo = [n for n, fit in enumerate(fits) if fit is None]

    def done(n: int, adapter: Adapter) -> None:
        fits[n] = adapter
        if (path := paths[n]) is not None:  # kept at once: a killed run loses only the rest
            keep_fit(adapter, path)

    if config.jobs == 1:
        for n in todo:
            items, gold, finetune = tasks[n]
            done(n, fit_adapter(items, gold, finetune, log, init=init))
    else:
        log(f"{len(todo)} encoder fits, {config.jobs} at a time (one math thread each)")
        # Spawned, not forked: a fork of a process whose math library already started its
        # threads can hang.
        with ProcessPoolExecutor(config.jobs, mp_context=get_context("spawn")) as pool:
            running = {pool.submit(_fit_task, (
                tasks[n][0], tasks[n][1], replace(tasks[n][2], threads=1), init,
                f"fit {n + 1}/{len(tasks)} (seed {tasks[n][2].seed})")): n for n in todo}
            for future in as_completed(running):
                done(running[future], future.result())
    made = [fit for fit in fits if fit is not None]
    assert len(made) == len(tasks)
    return [soup_of(made[s * config.encoder_soup : (s + 1) * config.encoder_soup],
                    config.encoder_soup_rank) for s in range(len(sets))]


def soup_of(fits: Sequence[Adapter], rank: int | None) -> Adapter:
    """One adapter of several fits: their weight updates averaged exactly and cut to `rank`
    (None, or a rank at or above the soup's, keeps every factor); one fit is itself."""
    if len(fits) == 1:
        return fits[0]
    soup = average_adapters(fits, exact=True)
    return soup if rank is None or rank >= soup.rank else truncate_adapter(soup, rank)


def fits_fingerprint(config: TrainConfig) -> dict[str, object]:
    """What the kept fits of a run depend on: its training settings (not where its files go,
    how many fits run at once, or the held-out scoring), the labelled files' contents and the
    libraries and CPU that computed them. JSON-shaped."""
    settings = asdict(config)
    for name in ("labeled_dir", "held_out", "jobs", "fits_dir"):
        settings.pop(name)
    if settings["encoder"] is not None:
        settings["encoder"].pop("threads")
    digest = hashlib.sha256()
    for path in sorted(p for p in config.labeled_dir.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(config.labeled_dir)).encode() + b"\0")
        digest.update(path.read_bytes())
    found = {"settings": settings, "labeled_data": digest.hexdigest(),
             "built_with": build_environment()}
    return json.loads(json.dumps(found))  # tuples as lists, as they read back


def claim_fits_dir(config: TrainConfig, log: Callable[[str], None]) -> Path:
    """`config.fits_dir`, made if need be, with run.json naming what its fits are fitted from;
    a ModelError if it already holds fits of a run with other settings or data."""
    folder = config.fits_dir
    assert folder is not None
    mine = fits_fingerprint(config)
    record = folder / FITS_RUN_FILE
    if record.exists():
        try:
            theirs = json.loads(record.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ModelError(f"{record}: unreadable ({error}); give an empty folder") from error
        if not isinstance(theirs, dict):
            raise ModelError(f"{record}: not a record of a training run; give an empty folder")
        if theirs != mine:
            differ = sorted(k for k in {*mine, *theirs} if mine.get(k) != theirs.get(k))
            if "settings" in differ:
                ours, other = mine["settings"], theirs.get("settings") or {}
                assert isinstance(ours, dict) and isinstance(other, dict)
                differ[differ.index("settings")] = "settings (" + ", ".join(
                    sorted(k for k in {*ours, *other} if ours.get(k) != other.get(k))) + ")"
            raise ModelError(f"{folder}: holds the fits of another training run (its "
                             f"{'; '.join(differ)} differ); give an empty folder")
        log(f"fits kept in {folder} by an earlier run with these settings are reused")
        return folder
    if folder.exists() and any(folder.glob("*.npz")):
        raise ModelError(f"{folder}: holds fits without {FITS_RUN_FILE} (from another run?); "
                         "give an empty folder")
    folder.mkdir(parents=True, exist_ok=True)
    partial = record.with_suffix(".partial")
    partial.write_text(json.dumps(mine, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    partial.replace(record)
    return folder


def pretraining_counts(used: dict[str, int]) -> dict[str, int]:
    """The statement counts of the stages before the clinical one, of a run's `used`."""
    return {k: v for k, v in used.items() if k.startswith("pretrain")}


def read_fit(path: Path, used: dict[str, int] | None = None) -> Adapter:
    """An adapter kept by keep_fit, the statement counts kept with it added to `used`; a
    ModelError naming the file when it cannot be read."""
    try:
        with np.load(path) as data:
            if used is not None:
                used.update({k[len("used/"):]: int(data[k]) for k in data.files
                             if k.startswith("used/")})
            return load_adapter(data)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise ModelError(f"{path}: not a readable encoder fit ({error}); delete it to have it "
                         "fitted again") from error


def keep_fit(adapter: Adapter, path: Path, counts: dict[str, int] | None = None) -> None:
    """The adapter saved at `path` whole (float32: a fit continued from it starts where the
    in-memory one did) or not at all (written beside it, then renamed), with the statement
    `counts` it was fitted on when given (read back by read_fit)."""
    partial = path.with_suffix(".partial.npz")
    save_adapter(adapter, partial, exact=True,
                 extra={f"used/{k}": np.array(v) for k, v in (counts or {}).items()})
    partial.replace(path)


def _fit_task(task: tuple[list[ClassifyInput], np.ndarray, FinetuneConfig, Adapter | None, str]
              ) -> Adapter:
    """One fit in a worker process, its log lines on stderr after `name`."""
    items, gold, finetune, init, name = task

    def log(line: str) -> None:
        print(f"{name}: {line}", file=sys.stderr, flush=True)

    return fit_adapter(items, gold, finetune, log, init=init)


def reuse_mentions(config: TrainConfig, taken: Sequence[LabeledContext], used: dict[str, int],
                   log: Callable[[str], None]) -> list[LabeledContext]:
    """With `config.reuse_mentions`, SciCite's method citations worded like agreement
    (data.reuse_statements), less those already among `taken`."""
    if not config.reuse_mentions:
        return []
    seen = {(r.item.text, r.item.target) for r in taken}
    reuse = [r for r in reuse_statements(config.labeled_dir)
             if (r.item.text, r.item.target) not in seen][: config.limit]
    used["scicite reuse mentions (both models)"] = len(reuse)
    log(f"both models also learn from {len(reuse)} SciCite method citations worded like "
        "agreement, as mentions")
    return reuse


def encoder_mentions(config: TrainConfig, used: dict[str, int], log: Callable[[str], None]
                     ) -> tuple[list[LabeledContext], list[LabeledContext]]:
    """The SciCite method / background mentions (training split, seeded sample) the encoder
    learns from beside the clinical statements, and the others added to its pretraining set."""
    if config.encoder is None or not (config.encoder_mentions or config.pretrain_mentions):
        return [], []
    pool = [r for r in load_source(config.labeled_dir, "scicite") if r.split == "train"]
    pick = np.random.default_rng(config.seed).permutation(len(pool))
    wanted = min(config.encoder_mentions, config.limit or config.encoder_mentions)
    mentions = [pool[i] for i in sorted(pick[:wanted])]
    used["scicite (encoder only)"] = len(mentions)
    log(f"encoder also learns from {len(mentions)} SciCite method / background mentions")
    more = min(config.pretrain_mentions, config.limit or config.pretrain_mentions)
    return mentions, [pool[i] for i in sorted(pick[wanted : wanted + more])]


def elife_archive(labeled_dir: Path) -> Path:
    """The eLife corpus beside the labelled sets in shared/data."""
    return labeled_dir.parent / "articles" / "elife" / "elife-articles-all-1979.tar.xz"


def masked_pretraining(config: TrainConfig, used: dict[str, int],
                       log: Callable[[str], None]) -> Adapter | None:
    """The domain-adapted adapter the intermediate task starts from (None without the stage):
    masked-word prediction on unlabelled eLife citing sentences, none of them clinical."""
    if config.encoder is None or not config.masked_articles:
        return None
    sentences = corpus_sentences(elife_archive(config.labeled_dir), config.masked_articles,
                                 seed=config.seed, sections=frozenset(config.masked_sections))
    sentences = sentences[: config.limit]
    used["pretrain masked-word sentences"] = len(sentences)
    log(f"masked-word pretraining on {len(sentences)} citing sentences of "
        f"{config.masked_articles} eLife articles, {config.masked_epochs} epoch(s)")
    return adapt_encoder(sentences, config.encoder,
                         MaskedConfig(epochs=config.masked_epochs, seed=config.encoder.seed,
                                      threads=config.encoder.threads), log)


def pretrain_adapter(config: TrainConfig, mentions: Sequence[LabeledContext],
                     used: dict[str, int], log: Callable[[str], None],
                     init: Adapter | None = None) -> Adapter | None:
    """The intermediate-task adapter every clinical fit starts from (None without one),
    itself starting from `init` when given. No clinical statement is in it, so the clinical
    folds stay unseen."""
    if config.encoder is None or not config.encoder_pretrain:
        return init
    records: list[LabeledContext] = []
    for name in config.encoder_pretrain:
        if name != "multicite":
            raise ModelError(f"unknown pretraining set {name!r} (known: multicite)")
        rows = [r for r in load_source(config.labeled_dir, name) if r.split != "test"]
        records.extend(rows[: config.limit])
        used[f"pretrain {name}"] = len(rows[: config.limit])
    records.extend(mentions)
    if mentions:
        used["pretrain scicite mentions"] = len(mentions)
    log(f"encoder pretraining on {len(records)} statements, {config.pretrain_epochs} epochs")
    # The mapped intent labels are noisy: a fit that learned ends well above the clinical
    # guard's 0.6 of the prior loss (0.61 of 0.97 with 2,000 mentions), but one fit stalled at
    # 0.99 of it and every clinical fit started from it stalled too (docs/classifier.md). Only
    # that is redone.
    return fit_adapter([r.item for r in records], labels_of(records),
                       replace(config.encoder, epochs=config.pretrain_epochs,
                               stalled_loss_ratio=PRETRAIN_STALLED_LOSS_RATIO), log, init=init)


def calibrated_views(fitted: np.ndarray, views: Sequence[np.ndarray], gold: np.ndarray,
                     folds: np.ndarray) -> list[np.ndarray]:
    """Out-of-fold probabilities of each of `views` (score arrays shaped like `fitted`), with
    each fold's offsets and temperature fitted once on the other folds' `fitted` scores (a
    clause is calibrated as its sentence is)."""
    out = [np.zeros_like(view, dtype=float) for view in views]
    for f in np.unique(folds):
        held = folds == f
        offsets = tune_offsets(fitted[~held], gold[~held])
        temperature = fit_temperature(fitted[~held] + offsets, gold[~held])
        for p, view in zip(out, views, strict=True):
            p[held] = softmax((view[held] + offsets) / temperature)
    return out


def evaluate_probabilities(p: np.ndarray, gold: np.ndarray) -> Evaluation:
    """Scores of the most probable labels, with their probabilities as confidences."""
    return evaluate_predictions([LABELS[g] for g in gold], [LABELS[c] for c in p.argmax(1)],
                                p.max(axis=1))


def crossfit(scores: np.ndarray, gold: np.ndarray,
             folds: np.ndarray) -> tuple[Evaluation, np.ndarray]:
    """Out-of-fold evaluation with each fold's offsets and temperature fitted on the others;
    also returns the calibrated probabilities."""
    (p,) = calibrated_views(scores, [scores], gold, folds)
    return evaluate_probabilities(p, gold), p


def first_pass_choice(lexical_p: np.ndarray, mixed_p: np.ndarray,
                      first_pass: float) -> tuple[np.ndarray, np.ndarray]:
    """The lexical probabilities where their confidence reaches `first_pass`, the combined ones
    elsewhere; and which rows the lexical model was sure of."""
    sure = lexical_p.max(axis=1) >= first_pass
    return np.where(sure[:, None], lexical_p, mixed_p), sure


def first_pass_evaluation(lexical_p: np.ndarray, mixed_p: np.ndarray, gold: np.ndarray,
                          first_pass: float) -> tuple[Evaluation, float]:
    """Evaluation of what ships, from out-of-fold calibrated probabilities (`crossfit`) of the
    lexical scores and of the combined ones: the lexical answer where its confidence reaches
    `first_pass`, the combined one elsewhere; also returns the share sent to the encoder."""
    p, sure = first_pass_choice(lexical_p, mixed_p, first_pass)
    return evaluate_probabilities(p, gold), float(1.0 - sure.mean())
