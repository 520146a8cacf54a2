"""Classifier throughput: batches of real citation statements -> statements per second.

Times each classifier on the clinical and MultiCite statements (with their neighbours), after
one warm-up batch, for a few batch sizes; prints one line per (classifier, batch size).

    python benchmarks/classify.py [--classifier default --classifier baseline] [--limit N]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

from citelens.classify import load_classifier
from citelens.classify.base import ClassifyInput
from citelens.classify.data import load_source

LABELED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "labeled"


def real_statements(limit: int) -> list[ClassifyInput]:
    """Clinical then MultiCite statements, interleaved so every batch mixes lengths."""
    clinical = [r.item for r in load_source(LABELED, "clinical")]
    multicite = [r.item for r in load_source(LABELED, "multicite")]
    mixed = [item for pair in zip(clinical, multicite, strict=False) for item in pair]
    return mixed[:limit]


def time_classifier(name: str, items: list[ClassifyInput], batch_size: int) -> float:
    """Statements per second of classifier `name` over `items` in batches of `batch_size`."""
    classifier = load_classifier(name)
    classifier.predict(items[:batch_size])  # warm-up: lazy indexes, allocator
    started = time.perf_counter()
    for at in range(0, len(items), batch_size):
        classifier.predict(items[at : at + batch_size])
    return len(items) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classifier", action="append", default=None)
    parser.add_argument("--limit", type=int, default=4000)
    parser.add_argument("--batch-size", type=int, action="append", default=None)
    args = parser.parse_args()
    items = real_statements(args.limit)
    print(f"{len(items)} real statements; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    for name in args.classifier or ["default", "baseline"]:
        for batch_size in args.batch_size or [32, 256]:
            rate = time_classifier(name, items, batch_size)
            print(f"{name:<10} batch {batch_size:>4}: {rate:8.0f} statements/s")


if __name__ == "__main__":
    main()
