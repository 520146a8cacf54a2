"""Index fixtures for the report, web and browser tests: a small hand-made index, and the real one.

The small index is the SQLite schema filled row by row with cases the real corpus may lack (a
duplicated bibliography entry, a <script> in a statement, a self-citation); the real index is
../shared/data/articles/elife/interlinked-200 ingested by the pipeline, when both exist.
"""

from __future__ import annotations

import json
import sqlite3
from importlib import resources
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / ".." / "shared" / "data"
INTERLINKED = DATA / "articles" / "elife" / "interlinked-200"

TARGET_DOI = "10.1234/target.1"
XSS = "<script>alert('x')</script>"


def _authors(*names: str) -> str:
    out = []
    for name in names:
        given, family = name.split(" ", 1)
        out.append({"family": family, "given": given, "orcid": None})
    return json.dumps(out)


def build_small_index(path: Path) -> Path:
    """Write the hand-made index to `path` and return it."""
    schema = resources.files("citelens.store").joinpath("schema_sqlite.sql").read_text()
    conn = sqlite3.connect(path)
    conn.executescript(schema)
    works = [
        # id, key, doi, title, year, journal, type, authors, full text
        (
            1,
            TARGET_DOI,
            "Target paper on zebrafish fin regeneration",
            2012,
            "eLife",
            "research-article",
            _authors("Ada Lovelace", "Alan Turing"),
            1,
        ),
        (
            2,
            "10.1234/citer.b",
            "Fins regrow after injury " + XSS,
            2014,
            "eLife",
            "research-article",
            _authors("Barbara McClintock"),
            1,
        ),
        (
            3,
            "10.1234/citer.c",
            "A review of regeneration",
            2016,
            "Cell",
            "review-article",
            _authors("Carl Woese", "Ada Lovelace"),
            1,
        ),
        (
            4,
            "10.1234/citer.d",
            "Preprint on heart repair",
            2018,
            "bioRxiv",
            "preprint",
            _authors("Dorothy Hodgkin"),
            1,
        ),
        (
            5,
            "10.1234/cited.e",
            "Older methods paper",
            2001,
            "Nature",
            "research-article",
            _authors("Emmy Noether"),
            0,
        ),
    ]
    for wid, doi, title, year, journal, ptype, authors, full in works:
        conn.execute(
            "INSERT INTO works (id, key, doi, title, year, journal, publication_type, authors,"
            " has_full_text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (wid, "doi:" + doi, doi, title, year, journal, ptype, authors, full),
        )
    refs = [
        # id, citing, ref_id, ord, cited
        (1, 1, "bib1", 0, 5),
        (2, 1, "bib2", 1, None),
        (3, 1, "bib3", 2, None),
        (10, 2, "bib1", 0, 1),
        (11, 2, "bib2", 1, 1),  # a duplicated entry for the same target paper
        (20, 3, "bib1", 0, 1),
        (30, 4, "bib1", 0, 1),
    ]
    for rid, citing, ref_id, ord_, cited in refs:
        conn.execute(
            "INSERT INTO refs (id, citing_work_id, ref_id, ord, raw, cited_work_id)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (rid, citing, ref_id, ord_, f"reference {ref_id}", cited),
        )
    statements = [
        # citing, ref row, ref_id, para, sent, section title, type, text, label, conf, self
        (
            2,
            10,
            "bib1",
            0,
            1,
            "Introduction",
            "introduction",
            "Zebrafish regrow fins (Lovelace 2012).",
            "mentioning",
            0.9,
            0,
        ),
        (
            2,
            11,
            "bib2",
            0,
            1,
            "Introduction",
            "introduction",
            "Zebrafish regrow fins (Lovelace 2012).",
            "mentioning",
            0.9,
            0,
        ),
        (
            2,
            10,
            "bib1",
            3,
            0,
            "Results and discussion",
            "results",
            "Our data confirm the blastema model of Lovelace (2012) " + XSS + ".",
            "supporting",
            0.71,
            0,
        ),
        (
            3,
            20,
            "bib1",
            1,
            2,
            "Discussion",
            "discussion",
            "In contrast to Lovelace (2012), we find no blastema in hearts.",
            "contrasting",
            0.64,
            1,
        ),
        (
            3,
            20,
            "bib1",
            2,
            0,
            "Materials and methods",
            "methods",
            "Fish were kept as in Lovelace (2012).",
            "mentioning",
            0.95,
            1,
        ),
        (
            4,
            30,
            "bib1",
            0,
            0,
            "Background",
            "introduction",
            "Regeneration of fins was described before (Lovelace 2012).",
            "mentioning",
            0.8,
            0,
        ),
        (
            4,
            30,
            "bib1",
            5,
            1,
            "Results",
            "results",
            "Heart repair resembles fin regeneration (Lovelace 2012).",
            "supporting",
            0.55,
            0,
        ),
        (
            1,
            1,
            "bib1",
            0,
            0,
            "Introduction",
            "introduction",
            "Methods were described by Noether (2001).",
            "mentioning",
            0.7,
            0,
        ),
    ]
    year = {w[0]: w[3] for w in works}
    ptype = {w[0]: w[5] for w in works}
    journal = {w[0]: w[4] for w in works}
    cited_of = {r[0]: r[4] for r in refs}
    for (
        citing,
        ref_row,
        ref_id,
        para,
        sent,
        title,
        stype,
        text,
        label,
        conf,
        self_cit,
    ) in statements:
        anchor = text.index("Lovelace") if "Lovelace" in text else text.index("Noether")
        conn.execute(
            "INSERT INTO statements (citing_work_id, ref_row_id, cited_work_id, ref_id,"
            " paragraph, sentence, section_title, section_type, text, before, after, callouts,"
            " label, confidence, model_version, self_citation, citing_year, citing_type,"
            " citing_journal) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                citing,
                ref_row,
                cited_of[ref_row],
                ref_id,
                para,
                sent,
                title,
                stype,
                text,
                "The sentence before.",
                "The sentence after.",
                json.dumps([[anchor, anchor + len("Lovelace")]]),
                label,
                conf,
                "test",
                self_cit,
                year[citing],
                ptype[citing],
                journal[citing],
            ),
        )
    conn.commit()
    conn.close()
    return path


_REAL: dict[str, Path] = {}


def real_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The interlinked eLife set ingested once per test session; skips when data is absent."""
    if not INTERLINKED.is_dir():
        pytest.skip(f"real data not found at {INTERLINKED}")
    if "path" not in _REAL:
        from citelens.pipeline import ingest
        from citelens.store.sqlite import SqliteStore

        path = tmp_path_factory.mktemp("real") / "interlinked-200.db"
        store = SqliteStore(path)
        try:
            summary = ingest([INTERLINKED], store, classifier="default", progress=False)
        finally:
            store.close()
        assert summary.failures == [] or not summary.failures, summary.failures
        _REAL["path"] = path
    return _REAL["path"]
