"""`citelens train | evaluate | classify | reclassify`: command-line arguments -> the classify
library (train.train, records.classify_lines / evaluate_lines, the store's label methods).

The CLI module registers COMMANDS; each command is a thin wrapper a test can drive.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import numpy as np

from citelens.classify import CLASSIFIER_NAMES, load_classifier
from citelens.classify.base import Classifier, ClassifyInput
from citelens.classify.metrics import format_evaluation
from citelens.classify.records import LineError, classify_lines, evaluate_lines
from citelens.classify.train import ENCODER_MENTIONS, ENCODER_SOUP, ENCODER_SOUP_RANK
from citelens.store.base import Store

REPO_ROOT = Path(__file__).resolve().parents[3]
SHARED_LABELED = REPO_ROOT / ".." / "shared" / "data" / "labeled"

classifier_option = click.option(
    "--classifier", "classifier_name", default="default", show_default=True,
    type=click.Choice(CLASSIFIER_NAMES), help="Which classifier to use.",
)
batch_option = click.option(
    "--batch-size", default=256, show_default=True, type=click.IntRange(1, 100_000),
    help="Statements classified per batch.",
)


@click.command("train")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path),
              default=SHARED_LABELED, show_default="../shared/data/labeled",
              help="The labelled corpora folder.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the lexical model [default: the shipped "
                   "classify/models/default.npz].")
@click.option("--encoder-out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the encoder model [default: encoder.npz beside the lexical "
                   "model].")
@click.option("--encoder/--lexical-only", default=True, show_default=True,
              help="Also fine-tune the encoder (LoRA on all-MiniLM-L6-v2; about 45 minutes on "
                   "2 CPU cores) or train the lexical model alone (about 5 minutes).")
@click.option("--encoder-epochs", default=5, show_default=True, type=click.IntRange(1, 50))
@click.option("--encoder-mentions", default=ENCODER_MENTIONS, show_default=True,
              type=click.IntRange(0),
              help="SciCite method / background mentions the encoder also learns from.")
@click.option("--encoder-pretrain", type=click.Choice(["multicite", "none"]),
              default="multicite", show_default=True,
              help="Train the encoder on this set first (its train and dev splits), then on "
                   "the clinical statements; none: start from scratch.")
@click.option("--pretrain-epochs", default=2, show_default=True, type=click.IntRange(1, 50))
@click.option("--pretrain-mentions", default=2000, show_default=True, type=click.IntRange(0),
              help="SciCite method / background mentions added to the pretraining set.")
@click.option("--masked-articles", default=0, show_default=True, type=click.IntRange(0),
              help="First of all, train the encoder to predict masked words of the citing "
                   "sentences (discussion and results) of this many eLife articles; 0: no such "
                   "stage.")
@click.option("--masked-epochs", default=1, show_default=True, type=click.IntRange(1, 50))
@click.option("--reuse-mentions/--no-reuse-mentions", default=False, show_default=True,
              help="Add SciCite's method citations worded like agreement (\"the same antibody "
                   "as [7]\") to both models' training data as mentions.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--encoder-seed", type=int, default=None, show_default="--seed",
              help="Seed of the encoder's fits alone (folds and samples keep --seed).")
@click.option("--encoder-soup", type=click.IntRange(1, 8), default=ENCODER_SOUP,
              show_default=True,
              help="Fit the encoder's clinical stage this many times (seeds counting up from "
                   "the encoder's) and average the fits' weight updates into one adapter.")
@click.option("--encoder-soup-rank", type=click.IntRange(1), default=ENCODER_SOUP_RANK,
              show_default=True,
              help="Cut the soup's weight update to this rank (truncated SVD; a rank at or "
                   "above the soup's keeps all of it).")
@click.option("--jobs", type=click.IntRange(1), default=1, show_default=True,
              help="Run the encoder's clinical-stage fits this many at a time, each in its own "
                   "process with one math thread (same weights as one at a time).")
@click.option("--limit", type=click.IntRange(30), default=None,
              help="Use only the first N statements of each corpus (a quick run).")
@click.option("--held-out/--no-held-out", default=True, show_default=True,
              help="Also score MultiCite test and ACL-ARC (two extra fits).")
@click.option("--fits-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also keep every encoder fit here as soon as it is made (pretrained.npz, "
                   "s<seed>-f<fold>.npz, s<seed>-ffinal.npz, as benchmarks/seed_soup.py lays "
                   "them out; run.json: what they were fitted from). Given the folder of an "
                   "interrupted run with the same settings and data, the fits kept there are "
                   "read, not made again.")
@click.option("--scores-out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the out-of-fold clinical scores (.npz) for analysis.")
def train_command(data_dir: Path, out: Path | None, encoder_out: Path | None, encoder: bool,
                  encoder_epochs: int, encoder_mentions: int, encoder_pretrain: str,
                  pretrain_epochs: int, pretrain_mentions: int, masked_articles: int,
                  masked_epochs: int, reuse_mentions: bool, seed: int,
                  encoder_seed: int | None, encoder_soup: int, encoder_soup_rank: int,
                  jobs: int, limit: int | None, held_out: bool, fits_dir: Path | None,
                  scores_out: Path | None) -> None:
    """Rebuild the classifier from the labelled corpora (seeded, reproducible) and print what it
    used and what it scored."""
    from citelens.classify.combined import DEFAULT_ENCODER_MODEL, file_digest, save_combined
    from citelens.classify.finetune import FinetuneConfig
    from citelens.classify.lexical import DEFAULT_MODEL, save_model
    from citelens.classify.section_prior import prior_path, save_prior
    from citelens.classify.train import TrainConfig, train

    finetune = (FinetuneConfig(epochs=encoder_epochs, seed=seed if encoder_seed is None
                               else encoder_seed) if encoder else None)
    config = TrainConfig(data_dir.resolve(), seed=seed, limit=limit, held_out=held_out,
                         encoder=finetune, encoder_mentions=encoder_mentions,
                         encoder_pretrain=() if encoder_pretrain == "none" else (encoder_pretrain,),
                         pretrain_epochs=pretrain_epochs,
                         pretrain_mentions=pretrain_mentions,
                         masked_articles=masked_articles, masked_epochs=masked_epochs,
                         reuse_mentions=reuse_mentions, encoder_soup=encoder_soup,
                         encoder_soup_rank=encoder_soup_rank, jobs=jobs,
                         fits_dir=fits_dir)
    report = train(config, log=lambda line: click.echo(line, err=True))
    if report.lexical_cv is not None and report.combined is not None:
        click.echo("lexical model alone, clinical, article-grouped cross-validation:")
        click.echo(format_evaluation(report.lexical_cv))
        click.echo(f"\nshipped (lexical first pass, encoder for the "
                   f"{report.encoded_share:.0%} it is unsure of), clinical, article-grouped "
                   "cross-validation:")
    else:
        click.echo("clinical, article-grouped cross-validation:")
    click.echo(format_evaluation(report.clinical_cv))
    for name, result in report.held_out.items():
        click.echo(f"\n{name} (never seen in training):")
        click.echo(format_evaluation(result))
    if scores_out is not None:
        scores_out.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(scores_out, **report.out_of_fold)
    target = out or DEFAULT_MODEL
    save_model(report.model, target)
    click.echo(f"\nwrote {target} ({target.stat().st_size} bytes) in {report.seconds:.0f} s")
    save_prior(report.section_prior, prior_path(target))
    click.echo(f"wrote {prior_path(target)}")
    if report.combined is not None:
        report.combined.lexical_digest = file_digest(target)
        encoder_target = encoder_out or (
            DEFAULT_ENCODER_MODEL if out is None else target.parent / "encoder.npz")
        save_combined(report.combined, encoder_target)
        click.echo(f"wrote {encoder_target} ({encoder_target.stat().st_size} bytes)")


@click.command("evaluate")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@classifier_option
@batch_option
def evaluate_command(file: click.utils.LazyFile, classifier_name: str, batch_size: int) -> None:
    """Score a classifier on a JSONL FILE of statements with gold `label`s: per-class precision,
    recall and F1, macro-F1, the confusion matrix and the expected calibration error."""
    classifier = load_classifier(classifier_name)
    result, errors = evaluate_lines(file, classifier, batch_size)
    for error in errors:
        click.echo(f"error: {error} (skipped)", err=True)
    click.echo(f"classifier {classifier.version}")
    click.echo(format_evaluation(result))


@click.command("classify")
@click.argument("file", type=click.File("r", encoding="utf-8"), default="-")
@classifier_option
@batch_option
@click.pass_context
def classify_command(ctx: click.Context, file: click.utils.LazyFile, classifier_name: str,
                     batch_size: int) -> None:
    """Label JSON lines {"id", "text", "before"?, "after"?, "target"?} from FILE (standard input
    when absent or -): writes each record with `label` and `confidence`. A malformed line gets
    an error naming its line number on stderr, the rest are still classified, and the exit code
    is 1."""
    classifier = load_classifier(classifier_name)
    failed = 0
    for result in classify_lines(file, classifier, batch_size):
        if isinstance(result, LineError):
            failed += 1
            click.echo(f"error: {result}", err=True)
        else:
            sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
    if failed:
        ctx.exit(1)


@click.command("reclassify")
@classifier_option
@batch_option
@click.option("--unlabelled-only", is_flag=True, help="Only statements without a label yet.")
@click.pass_context
def reclassify_command(ctx: click.Context, classifier_name: str, batch_size: int,
                       unlabelled_only: bool) -> None:
    """Relabel the stored statements with the current model, without parsing articles again."""
    from citelens.store import open_store

    classifier = load_classifier(classifier_name)
    store = open_store(ctx.obj["db"])
    try:
        total = reclassify_store(store, classifier, batch_size, unlabelled_only)
    finally:
        store.close()
    click.echo(f"relabelled {total} statements with {classifier.version}")


def reclassify_store(store: Store, classifier: Classifier, batch_size: int = 256,
                     unlabelled_only: bool = False) -> int:
    """Classify every stored statement (target: its first callout) and write the labels back."""
    total = 0
    # Read everything before writing: with --unlabelled-only, rows labelled mid-read would
    # otherwise change what the open read still has to return.
    rows = list(store.iter_statements_for_classify(unlabelled_only=unlabelled_only))
    for at in range(0, len(rows), batch_size):
        chunk = rows[at : at + batch_size]
        items = [ClassifyInput(text, before or "", after or "", spans[0] if spans else None,
                               section)
                 for _, text, before, after, spans, section in chunk]
        predictions = classifier.predict(items)
        total += store.set_labels(
            (row[0], p.label.value, p.confidence, classifier.version)
            for row, p in zip(chunk, predictions, strict=True)
        )
    return total


COMMANDS: list[click.Command] = [train_command, evaluate_command, classify_command,
                                 reclassify_command]
