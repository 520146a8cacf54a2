"""Report latency at scale: an ingested eLife index replicated to >= 1M statements -> p50/p95.

Ingests ../shared/data/articles/elife/interlinked-200 (or takes --source), copies its citing
articles, references and real statements under new citing identities with INSERT ... SELECT
until the index holds --statements, re-pointing a share of each copy at one paper so that it
is cited in >= --target-statements; then times the report API and page through an in-process
client and prints the figures.

    python benchmarks/report.py [--workdir var/bench] [--requests 60] [--rebuild]

The replicated index is kept in --workdir and reused by later runs (--rebuild builds it again).
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import shutil
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
INTERLINKED = REPO / ".." / "shared" / "data" / "articles" / "elife" / "interlinked-200"


def ingest_source(workdir: Path) -> Path:
    from citelens.pipeline import ingest
    from citelens.store.sqlite import SqliteStore

    path = workdir / "interlinked-200.db"
    if path.exists():
        return path
    if not INTERLINKED.is_dir():
        sys.exit(f"no corpus at {INTERLINKED}; pass --source an ingested index")
    store = SqliteStore(path)
    try:
        ingest([INTERLINKED], store, classifier="default", progress=False)
    finally:
        store.close()
    return path


def pick_target(conn: sqlite3.Connection) -> tuple[int, str]:
    """The article with full text that real statements cite most: the report we time."""
    return conn.execute(
        "SELECT w.id, w.doi FROM statements s JOIN works w ON w.id = s.cited_work_id"
        " WHERE w.has_full_text = 1 AND w.doi IS NOT NULL GROUP BY w.id"
        " ORDER BY count(*) DESC LIMIT 1"
    ).fetchone()


def replicate(source: Path, path: Path, statements: int, target_statements: int) -> str:
    """Copy `source` to `path` and grow it to `statements` rows; returns the target DOI."""
    shutil.copyfile(source, path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = OFF")
    target_id, target_doi = pick_target(conn)
    base = conn.execute("SELECT count(*) FROM statements").fetchone()[0]
    copies = math.ceil((statements - base) / base)
    # Each copy re-points every k-th real statement at the target paper.
    every = max(1, (copies * base) // max(1, target_statements))
    print(
        f"source: {base:,} statements; {copies} copies; every {every}th statement re-pointed "
        f"at {target_doi}",
        flush=True,
    )
    conn.execute("CREATE TEMP TABLE orig_works AS SELECT * FROM works WHERE has_full_text = 1")
    conn.execute("CREATE TEMP TABLE orig_refs AS SELECT * FROM refs")
    conn.execute("CREATE TEMP TABLE orig_statements AS SELECT * FROM statements")
    started = time.perf_counter()
    for copy in range(1, copies + 1):
        conn.execute("BEGIN")
        conn.execute(
            "INSERT INTO works (key, doi, pmid, pmcid, title, year, journal, publication_type,"
            " authors, notices, has_full_text, source_path, source_sha256, ingested_at)"
            " SELECT 'bench:' || ?1 || ':' || key, doi || '.copy' || ?1, NULL, NULL, title,"
            " year + ?1 % 5, journal, publication_type, authors, notices, 1, source_path,"
            " source_sha256 || '.copy' || ?1, ingested_at FROM orig_works",
            (copy,),
        )
        conn.execute(
            "INSERT INTO refs (citing_work_id, ref_id, ord, label, raw, title, authors, source,"
            " year, volume, pages, doi, pmid, pmcid, cited_work_id, match_method, match_score)"
            " SELECT nw.id, r.ref_id, r.ord, r.label, r.raw, r.title, r.authors, r.source,"
            " r.year, r.volume, r.pages, r.doi, r.pmid, r.pmcid, r.cited_work_id,"
            " r.match_method, r.match_score"
            " FROM orig_refs r JOIN orig_works ow ON ow.id = r.citing_work_id"
            " JOIN works nw ON nw.key = 'bench:' || ?1 || ':' || ow.key",
            (copy,),
        )
        conn.execute(
            "INSERT INTO statements (citing_work_id, ref_row_id, cited_work_id, ref_id,"
            " paragraph, sentence, section_title, section_type, text, before, after, callouts,"
            " other_callouts, label, confidence, model_version, self_citation, citing_year,"
            " citing_type, citing_journal)"
            " SELECT nw.id, nr.id, CASE WHEN (s.id + ?1) % ?2 = 0 THEN ?3 ELSE s.cited_work_id"
            " END, s.ref_id, s.paragraph, s.sentence, s.section_title, s.section_type, s.text,"
            " s.before, s.after, s.callouts, s.other_callouts, s.label, s.confidence,"
            " s.model_version, s.self_citation, nw.year, s.citing_type, s.citing_journal"
            " FROM orig_statements s JOIN orig_works ow ON ow.id = s.citing_work_id"
            " JOIN works nw ON nw.key = 'bench:' || ?1 || ':' || ow.key"
            " JOIN refs nr ON nr.citing_work_id = nw.id AND nr.ref_id = s.ref_id",
            (copy, every, target_id),
        )
        conn.execute("COMMIT")
        if copy % 10 == 0 or copy == copies:
            print(f"  copy {copy}/{copies} ({time.perf_counter() - started:.0f} s)", flush=True)
    # The store keeps one statement per (sentence, cited work); re-pointing two references of
    # one sentence at the target made two, so the later one goes, as resolve drops them.
    conn.execute(
        "DELETE FROM statements WHERE cited_work_id = ?1 AND id NOT IN (SELECT min(id)"
        " FROM statements WHERE cited_work_id = ?1 GROUP BY citing_work_id, paragraph, sentence)",
        (target_id,),
    )
    from citelens.report import ensure_report_indexes

    ensure_report_indexes(conn)
    conn.execute("ANALYZE")
    conn.close()
    return target_doi


def timed(fn: Callable[[], object], n: int) -> list[float]:
    for _ in range(3):
        fn()
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def line(name: str, ms: list[float]) -> str:
    p95 = statistics.quantiles(ms, n=20)[18]
    return f"{name:<58} p50 {statistics.median(ms):7.1f} ms   p95 {p95:7.1f} ms   (n={len(ms)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=REPO / "var" / "bench")
    parser.add_argument("--source", type=Path, help="an ingested index to replicate")
    parser.add_argument("--statements", type=int, default=1_000_000)
    parser.add_argument("--target-statements", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the replicated index")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)

    from fastapi.testclient import TestClient

    from citelens.report import clear_report_cache
    from citelens.web.app import create_app

    bench = args.workdir / f"report-{args.statements}.db"
    if args.rebuild or not bench.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(str(bench) + suffix).unlink(missing_ok=True)
        source = args.source or ingest_source(args.workdir)
        started = time.perf_counter()
        replicate(source, bench, args.statements, args.target_statements)
        print(f"built {bench} in {time.perf_counter() - started:.0f} s", flush=True)
    from citelens.store.sqlite import SqliteStore

    # An index built before the report tallies existed gets them here, as any store open does.
    SqliteStore(bench).close()
    with sqlite3.connect(bench) as conn:
        total = conn.execute("SELECT count(*) FROM statements").fetchone()[0]
        works = conn.execute("SELECT count(*) FROM works").fetchone()[0]
        target_id, doi = conn.execute(
            "SELECT cited_work_id, w.doi FROM statements JOIN works w ON w.id = cited_work_id"
            " GROUP BY cited_work_id ORDER BY count(*) DESC LIMIT 1"
        ).fetchone()
        rows = conn.execute(
            "SELECT count(*), count(DISTINCT citing_work_id) FROM statements"
            " WHERE cited_work_id = ?",
            (target_id,),
        ).fetchone()
    client = TestClient(create_app(bench))
    report = client.get(f"/api/v1/papers/{doi}").json()
    print(
        f"index: {total:,} statements, {works:,} works; paper {doi}: {rows[0]:,} statement "
        f"rows, {report['statements']:,} statements from {report['citing_publications']:,} "
        f"publications; {len(report['facets']['author'])} author options shown"
    )

    def get(url: str, **params: object) -> Callable[[], object]:
        def call() -> object:
            r = client.get(url, params=params)
            if r.status_code != 200:
                raise SystemExit(f"{url} {params}: HTTP {r.status_code} {r.text[:200]}")
            return r

        return call

    n = args.requests
    api, page = get(f"/api/v1/papers/{doi}"), get(f"/papers/{doi}")

    index = client.app.state.index

    def cold(call: Callable[[], object], **caches: bool) -> Callable[[], object]:
        def uncached() -> object:
            clear_report_cache(**caches)
            if caches.get("tables", True):
                # A fresh server also opens fresh connections (empty SQLite page caches).
                index.forget_connections()
            return call()

        return uncached

    writer = sqlite3.connect(bench)

    def after_other_commit(call: Callable[[], object]) -> Callable[[], object]:
        # Another article's ingest commits: the paper's cached table must be re-checked.
        def changed() -> object:
            writer.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('bench', ?)",
                (str(time.perf_counter()),),
            )
            writer.commit()
            return call()

        return changed

    own = writer.execute(
        "SELECT id FROM statements WHERE cited_work_id = ? AND label = 'mentioning' LIMIT 1",
        (target_id,),
    ).fetchone()[0]
    flips = itertools.cycle(("supporting", "mentioning"))

    def after_own_change(call: Callable[[], object]) -> Callable[[], object]:
        # A classifier run relabels one of the paper's statements (and the triggers recount).
        def changed() -> object:
            writer.execute("UPDATE statements SET label = ? WHERE id = ?", (next(flips), own))
            writer.commit()
            return call()

        return changed

    statements = f"/api/v1/papers/{doi}/statements"
    filtered = {
        "type": "mentioning",
        "section": "results",
        "year_from": 2014,
        "sort": "newest",
    }
    cases = [
        ("report API, nothing cached (fresh server)", cold(api)),
        ("report page, nothing cached (fresh server)", cold(page)),
        ("report API, repeated", api),
        ("report page, repeated", page),
        ("report API after a commit elsewhere in the index", after_other_commit(api)),
        ("report API after the paper's own statements changed", after_own_change(api)),
        ("report page after the paper's own statements changed", after_own_change(page)),
        ("statements API page 1, nothing cached", cold(get(statements))),
        ("report page, page 40, nothing cached", cold(get(f"/papers/{doi}", page=40))),
        (
            "statements API type+section+year, newest, nothing cached",
            cold(get(statements, **filtered)),
        ),
        ("statements API type+section+year, newest, repeated", get(statements, **filtered)),
        (
            "report page, author filter, nothing cached",
            cold(get(f"/papers/{doi}", author=report["facets"]["author"][0]["value"])),
        ),
        (
            "report page, new search q=neurons",
            cold(get(f"/papers/{doi}", q="neurons"), tables=False),
        ),
        (
            "report page, new search q=glutamatergic",
            cold(get(f"/papers/{doi}", q="glutamatergic"), tables=False),
        ),
        (
            "report page, search q=neurons, page 2 (search cached)",
            get(f"/papers/{doi}", q="neurons", page=2),
        ),
        ("whole-index search q=glutamatergic, new", cold(get("/search", q="glutamatergic"))),
    ]
    print(f"load average before timing: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for name, fn in cases:
        print(line(name, timed(fn, n)), flush=True)
    print(f"load average after timing: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
