"""End to end on real eLife articles: ingest interlinked-200 into a SQLite file, re-ingest, export,
and a `citelens ingest` process killed part way that a re-run completes to the same counts."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from citelens.pipeline import IngestSummary, ingest
from citelens.store import open_store

REQUIRED_FIELDS = (
    "citing_doi",
    "cited_doi",
    "ref_id",
    "section_title",
    "section_type",
    "text",
    "before",
    "after",
    "callouts",
    "label",
    "confidence",
    "model_version",
    "self_citation",
)


@pytest.fixture(scope="module")
def corpus(shared_data: Path) -> Path:
    folder = shared_data / "articles" / "elife" / "interlinked-200"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    return folder


@pytest.fixture(scope="module")
def indexed(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """interlinked-200 ingested once, uninterrupted: the reference for the other tests."""
    db = tmp_path_factory.mktemp("interlinked") / "citelens.db"
    store = open_store(str(db))
    started = time.perf_counter()
    try:
        summary = ingest([corpus], store, classifier="baseline", progress=False)
        seconds = time.perf_counter() - started
        stats = store.stats()
    finally:
        store.close()
    print(
        f"\ninterlinked-200: {summary.articles} articles, {summary.statements} statements, "
        f"{summary.references} references in {seconds:.1f} s "
        f"({summary.articles / seconds:.1f} articles/s, one process, baseline classifier); "
        f"resolved {summary.resolved_share:.1%}"
    )
    return {"db": db, "summary": summary, "stats": stats}


def test_interlinked_200_ingests_without_failures(indexed: dict[str, Any]) -> None:
    summary: IngestSummary = indexed["summary"]
    assert summary.failures == []
    assert summary.articles == 200
    # The corpus holds 9,648 references and 17,257 in-text citations (data README).
    assert summary.references == 9648
    assert 15000 <= summary.statements <= 17257
    assert summary.resolve is not None and summary.resolved_share is not None
    assert summary.resolved_share >= 0.85
    assert indexed["stats"]["statements"] == summary.statements


def test_reingest_gives_the_same_counts(indexed: dict[str, Any], corpus: Path) -> None:
    store = open_store(str(indexed["db"]))
    try:
        unchanged = ingest([corpus], store, classifier="baseline", progress=False)
        assert (unchanged.articles, unchanged.skipped) == (0, 200)
        forced = ingest([corpus], store, classifier="baseline", progress=False, force=True)
        assert forced.articles == 200
        assert forced.statements == indexed["summary"].statements
        assert store.stats() == indexed["stats"]
    finally:
        store.close()


def _xref_surfaces(corpus: Path) -> dict[str, dict[str, set[str]]]:
    """Straight from the XML, not through the parser: DOI -> callout text -> rids it cites."""
    found: dict[str, dict[str, set[str]]] = {}
    for path in sorted(corpus.glob("*.xml")):
        root = etree.parse(str(path)).getroot()
        doi = root.findtext(".//article-meta/article-id[@pub-id-type='doi']").strip().lower()
        surfaces: dict[str, set[str]] = defaultdict(set)
        for xref in root.iterfind(".//body//xref[@ref-type='bibr']"):
            surface = " ".join("".join(xref.itertext()).split())
            surfaces[surface].update(xref.get("rid", "").split())
        found[doi] = surfaces
    return found


def test_export_fields_and_callout_spans(indexed: dict[str, Any], corpus: Path) -> None:
    surfaces = _xref_surfaces(corpus)
    store = open_store(str(indexed["db"]))
    try:
        records = list(store.export_statements())
    finally:
        store.close()
    assert len(records) == indexed["stats"]["statements"]
    spans = right_ref = 0
    for record in records:
        assert all(field in record for field in REQUIRED_FIELDS)
        assert record["label"] in ("supporting", "mentioning", "contrasting")
        assert 0.0 <= record["confidence"] <= 1.0
        assert record["callouts"], record
        article = surfaces[record["citing_doi"]]
        for start, end in record["callouts"]:
            surface = " ".join(record["text"][start:end].split())
            spans += 1
            right_ref += record["ref_id"] in article.get(surface, ())
    share = right_ref / spans
    print(f"\ncallout spans equal to an xref citing the statement's reference: {share:.2%}")
    # Callouts of range-expanded references carry the surface of the xref that starts the
    # range, so a few spans cite their reference only through the range.
    assert share >= 0.99


def _articles_in(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("SELECT COUNT(*) FROM works WHERE has_full_text = 1").fetchone()[0]
    except sqlite3.OperationalError:  # schema not created yet
        return 0


def test_killed_ingest_then_rerun_matches_an_uninterrupted_run(
    indexed: dict[str, Any], corpus: Path, tmp_path: Path
) -> None:
    db = tmp_path / "killed.db"
    command = [sys.executable, "-m", "citelens", "--db", str(db), "ingest", "--no-progress"]
    command += ["--classifier", "baseline", str(corpus)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while _articles_in(db) < 40 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the ingest ended before it could be killed"
    saved = _articles_in(db)
    assert 0 < saved < 200

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    done = subprocess.run(
        [*command[:-1], "--workers", "2", str(corpus)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    assert f"files: 200 ({saved} unchanged, skipped)" in done.stdout
    assert f"articles: {200 - saved} in" in done.stdout
    stats = json.loads(
        subprocess.run(
            [sys.executable, "-m", "citelens", "--db", str(db), "stats", "--json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert stats == indexed["stats"]
