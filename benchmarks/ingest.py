"""Ingest throughput and memory: the eLife tarball, streamed member by member -> figures.

Pass 1 times parse + extract alone on one core; pass 2 times the whole per-file pipeline
(parse, extract, the shipped classifier, SQLite writer, closing resolve) into a temporary index.
Peak RSS is printed after 25%, 50% and 100% of the articles to show that memory stays flat.

    python benchmarks/ingest.py [--limit N] [--tar PATH] [--workers N] [--classifier NAME]
"""

from __future__ import annotations

import argparse
import functools
import resource
import sys
import tarfile
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

from citelens.classify import Classifier, load_classifier
from citelens.errors import InputError
from citelens.pipeline import ProcessedArticle, process
from citelens.store import open_store

REPO = Path(__file__).resolve().parents[1]
ELIFE = REPO / ".." / "shared" / "data" / "articles" / "elife"
TARBALL = ELIFE / "elife-articles-all-1979.tar.xz"
INDEX = ELIFE / "articles_index.tsv"


def members(tar_path: Path, limit: int | None) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of each XML member, read from the compressed stream one at a time."""
    count = 0
    with tarfile.open(tar_path, mode="r|xz") as tar:
        for member in tar:
            if not (member.isfile() and member.name.endswith(".xml")):
                continue
            handle = tar.extractfile(member)
            if handle is None:
                continue
            yield member.name, handle.read()
            count += 1
            if limit is not None and count >= limit:
                return


def expected_total(limit: int | None) -> int:
    """How many articles the run will see, for the 25/50/100% checkpoints."""
    if INDEX.is_file():
        total = sum(1 for _ in INDEX.open(encoding="utf-8")) - 1
    else:
        total = sum(1 for _ in members(TARBALL, None))
    return min(total, limit) if limit is not None else total


def peak_rss_mib(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # KiB on Linux


class Checkpoints:
    """Prints peak RSS once the run passes 25%, 50% and 100% of `total` articles."""

    def __init__(self, total: int, label: str) -> None:
        self.marks = {max(1, round(total * q)): f"{int(q * 100)}%" for q in (0.25, 0.5, 1.0)}
        self.label = label

    def seen(self, done: int) -> None:
        if done in self.marks:
            print(
                f"  {self.label}: {self.marks[done]:>4} ({done} articles) "
                f"peak RSS {peak_rss_mib():.0f} MiB",
                flush=True,
            )


@functools.cache
def _classifier(name: str) -> Classifier:
    return load_classifier(name)


def _process_member(item: tuple[str, bytes], classifier: str) -> ProcessedArticle | str:
    name, data = item
    try:
        return process(name, data, _classifier(classifier))
    except InputError as exc:
        return str(exc)


def _bounded(
    pool: Executor, work: Any, items: Iterator[tuple[str, bytes]], window: int
) -> Iterator[Any]:
    """Results in input order with at most `window` articles in flight (Executor.map would
    submit, and so hold, the whole corpus at once)."""
    pending: deque[Future[Any]] = deque()
    for item in items:
        pending.append(pool.submit(work, item))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def parse_extract_pass(tar_path: Path, limit: int | None, total: int) -> None:
    print("parse + extract, one core (decompression excluded from the core time):")
    marks = Checkpoints(total, "parse+extract")
    articles = statements = failures = 0
    core = 0.0
    wall = time.perf_counter()
    for name, data in members(tar_path, limit):
        start = time.perf_counter()
        try:
            article = process(name, data, None)
        except InputError as exc:
            failures += 1
            print(f"  {exc}", file=sys.stderr)
        else:
            articles += 1
            statements += len(article.statements)
        core += time.perf_counter() - start
        marks.seen(articles + failures)
    wall = time.perf_counter() - wall
    print(f"  {articles} articles, {statements} statements, {failures} failures")
    print(
        f"  core {core:.1f} s: {articles / core:.1f} articles/s, "
        f"{statements / core:.0f} statements/s"
    )
    print(f"  wall incl. xz decompression {wall:.1f} s: {articles / wall:.1f} articles/s")


def end_to_end_pass(
    tar_path: Path, limit: int | None, total: int, workers: int, classifier: str
) -> None:
    work = functools.partial(_process_member, classifier=classifier)
    print(
        f"end to end (parse, extract, classifier {classifier!r}, SQLite, resolve), "
        f"{workers} worker(s):"
    )
    marks = Checkpoints(total, "end-to-end")
    articles = statements = failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(str(Path(tmp) / "bench.db"))
        start = time.perf_counter()
        pool = ProcessPoolExecutor(workers) if workers > 1 else None
        try:
            items = members(tar_path, limit)
            outcomes: Iterator[ProcessedArticle | str] = (
                map(work, items) if pool is None else _bounded(pool, work, items, 4 * workers)
            )
            for outcome in outcomes:
                if isinstance(outcome, str):
                    failures += 1
                    print(f"  {outcome}", file=sys.stderr)
                else:
                    saved = store.save_article(
                        outcome.document,
                        outcome.statements,
                        source_path=outcome.path,
                        source_sha256=outcome.sha256,
                    )
                    articles += 1
                    statements += saved.statements
                marks.seen(articles + failures)
            written = time.perf_counter() - start
            resolved = store.resolve()
            elapsed = time.perf_counter() - start
        finally:
            if pool is not None:
                pool.shutdown()
            store.close()
    print(f"  {articles} articles, {statements} statements, {failures} failures")
    if pool is not None:
        # Only workers that have ended count towards RUSAGE_CHILDREN: read it after shutdown.
        print(f"  largest worker peak RSS {peak_rss_mib(resource.RUSAGE_CHILDREN):.0f} MiB")
    print(
        f"  ingest {written:.1f} s: {articles / written:.1f} articles/s, "
        f"{statements / written:.0f} statements/s"
    )
    share = resolved.resolved / resolved.references if resolved.references else 0.0
    print(
        f"  resolve {elapsed - written:.1f} s: {resolved.resolved}/{resolved.references} "
        f"references resolved ({share:.1%})"
    )
    print(f"  total {elapsed:.1f} s: {articles / elapsed:.1f} articles/s end to end")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tar", type=Path, default=TARBALL)
    parser.add_argument("--limit", type=int, default=None, help="stop after N articles")
    parser.add_argument("--workers", type=int, default=1, help="processes for the end-to-end pass")
    parser.add_argument("--skip-parse", action="store_true", help="only the end-to-end pass")
    parser.add_argument(
        "--classifier", default="default", help="default (the shipped model) or baseline"
    )
    args = parser.parse_args()
    if not args.tar.is_file():
        sys.exit(f"corpus not found: {args.tar.resolve()}")
    total = expected_total(args.limit)
    print(f"corpus: {args.tar.resolve()} ({total} articles)")
    print(f"peak RSS at start: {peak_rss_mib():.0f} MiB")
    if not args.skip_parse:
        parse_extract_pass(args.tar, args.limit, total)
    end_to_end_pass(args.tar, args.limit, total, args.workers, args.classifier)


if __name__ == "__main__":
    main()
