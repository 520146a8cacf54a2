"""Classifier throughput: batches of real citation statements -> statements per second.

Times each classifier, after one warm-up batch, for a few batch sizes, on two kinds of real
statements: `labeled` (clinical and MultiCite interleaved: a third of them supporting or
contrasting) and `elife` (every statement extracted from the eLife-200 articles: what ingest
sees, mostly plain mentions). For the default classifier it also prints the share of
statements its lexical first pass sent on to the encoder. Prints one line per (source,
classifier, batch size), with the share of each label (supporting / mentioning / contrasting).

    python benchmarks/classify.py [--classifier default --classifier baseline] [--limit N]
        [--source labeled --source elife] [--models DIR]

--models DIR times the models `citelens train --out DIR/default.npz` wrote there (default.npz
and encoder.npz) instead of the shipped ones. --clause-weight W (repeatable) times the lexical
and default classifiers with that weight on a target's own clause (classify/scope.py; 0: whole
sentences only, as before the seventh session), so the cost of the clause views is measured in
one run.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections import Counter
from pathlib import Path

import citelens.classify.combined
import citelens.classify.lexical
from citelens.classify import load_classifier
from citelens.classify.base import Classifier, ClassifyInput
from citelens.classify.data import load_source
from citelens.classify.scope import CLAUSE_WEIGHT
from citelens.extract import extract
from citelens.parse.jats import parse_jats

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
LABELED = SHARED / "labeled"
ELIFE_200 = SHARED / "articles" / "elife" / "interlinked-200"


def real_statements(limit: int) -> list[ClassifyInput]:
    """Clinical then MultiCite statements, interleaved so every batch mixes lengths."""
    clinical = [r.item for r in load_source(LABELED, "clinical")]
    multicite = [r.item for r in load_source(LABELED, "multicite")]
    mixed = [item for pair in zip(clinical, multicite, strict=False) for item in pair]
    return mixed[:limit]


def elife_statements(limit: int) -> list[ClassifyInput]:
    """The statements ingest extracts from the eLife-200 articles, in file order, each with its
    section type as ingest passes it."""
    items: list[ClassifyInput] = []
    for path in sorted(ELIFE_200.glob("*.xml")):
        for s in extract(parse_jats(path.read_bytes())):
            target = (s.callouts[0].start, s.callouts[0].end) if s.callouts else None
            items.append(ClassifyInput(s.text, s.before, s.after, target, s.section_type.value))
        if len(items) >= limit:
            break
    return items[:limit]


def classifier_named(name: str, models: Path | None) -> Classifier:
    """The classifier `name`, from the shipped models or from those in folder `models`."""
    if models is None or name == "baseline":
        return load_classifier(name)
    if name == "lexical":
        from citelens.classify.lexical import LexicalClassifier

        return LexicalClassifier(models / "default.npz")
    from citelens.classify.combined import CombinedClassifier

    return CombinedClassifier(models / "default.npz", models / "encoder.npz")


def time_classifier(name: str, items: list[ClassifyInput], batch_size: int,
                    models: Path | None = None) -> tuple[float, float | None, Counter[str]]:
    """Statements per second of classifier `name` over `items` in batches of `batch_size`, the
    share of them the default classifier's first pass sent to the encoder, and the labels."""
    classifier = classifier_named(name, models)
    classifier.predict(items[:batch_size])  # warm-up: lazy indexes, allocator
    counter = getattr(classifier, "encoded", None)
    if counter is not None:
        classifier.encoded = 0  # type: ignore[attr-defined]
    labels: Counter[str] = Counter()
    started = time.perf_counter()
    for at in range(0, len(items), batch_size):
        labels.update(p.label.value for p in classifier.predict(items[at : at + batch_size]))
    rate = len(items) / (time.perf_counter() - started)
    share = None if counter is None else classifier.encoded / len(items)  # type: ignore[attr-defined]
    return rate, share, labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classifier", action="append", default=None)
    parser.add_argument("--limit", type=int, default=4000)
    parser.add_argument("--batch-size", type=int, action="append", default=None)
    parser.add_argument("--source", action="append", choices=("labeled", "elife"), default=None)
    parser.add_argument("--models", type=Path, default=None)
    parser.add_argument("--clause-weight", type=float, action="append", default=None)
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    for source in args.source or ["labeled", "elife"]:
        items = (real_statements if source == "labeled" else elife_statements)(args.limit)
        print(f"{source}: {len(items)} real statements")
        for name, weight in [(n, w) for n in args.classifier or ["default", "lexical", "baseline"]
                             for w in (args.clause_weight or [CLAUSE_WEIGHT]
                                       if n != "baseline" else [0.0])]:
            for module in (citelens.classify.combined, citelens.classify.lexical):
                module.CLAUSE_WEIGHT = weight  # type: ignore[attr-defined]
            for batch_size in args.batch_size or [32, 256]:
                rate, share, labels = time_classifier(name, items, batch_size, args.models)
                note = "" if share is None else f"  ({share:.1%} through the encoder)"
                note += "  labels " + " / ".join(
                    f"{labels[k] / len(items):.1%}" for k in ("supporting", "mentioning",
                                                                "contrasting"))
                clause = f" clause {weight:g}" if name != "baseline" else ""
                print(f"{source:<8} {name:<9}{clause} batch {batch_size:>4}: {rate:8.0f} "
                      f"statements/s{note}")


if __name__ == "__main__":
    main()
