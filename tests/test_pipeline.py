"""Pipeline tests: format detection, the pure per-file core, discovery and ingest into SQLite."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from citelens.classify import load_classifier
from citelens.errors import InputError, ParseError
from citelens.pipeline import (
    Failure,
    ProcessedArticle,
    detect_format,
    discover,
    ingest,
    process,
    process_file,
)
from citelens.store import open_store

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "articles"
BAD = REPO / "tests" / "fixtures" / "bad"
EXAMPLE_DOIS = {f"10.5555/citelens.example.000{n}" for n in (1, 2, 3)}

TEI = b"""<?xml version="1.0" encoding="UTF-8"?>
<TEI xmlns="http://www.tei-c.org/ns/1.0"><teiHeader/><text><body/></text></TEI>"""


def test_detect_format_reads_the_root_element() -> None:
    jats = (EXAMPLES / "hepatocyte-calcium-clock.xml").read_bytes()
    assert detect_format(jats) == "jats"
    assert detect_format(TEI) == "tei"
    # A comment and a DOCTYPE before the root, and UTF-16 with a BOM, are still read.
    assert detect_format(b"<!-- x <TEI> -->\n<!DOCTYPE article>\n<article/>") == "jats"
    assert detect_format("\ufeff<?xml version='1.0'?><TEI/>".encode("utf-16-le")) == "tei"
    assert detect_format(b"") is None
    with pytest.raises(ParseError, match=r"not an article: root element <html>"):
        detect_format((BAD / "not-an-article.xml").read_bytes())


def test_detect_format_lets_unsafe_bytes_speak_first() -> None:
    bomb = b'<!DOCTYPE html [<!ENTITY a "aaaa">]><html>&a;</html>'
    with pytest.raises(ParseError, match="entities"):
        detect_format(bomb)


def test_process_parses_extracts_and_classifies_one_article() -> None:
    data = (EXAMPLES / "clock-amplitude-fibroblasts.xml").read_bytes()
    article = process("fibroblasts.xml", data, load_classifier("baseline"))
    assert article.sha256 == hashlib.sha256(data).hexdigest()
    assert article.document.meta.doi == "10.5555/citelens.example.0003"
    assert article.document.source_format == "jats"
    assert len(article.statements) >= 8
    assert all(s.label is not None and s.model_version for s in article.statements)
    assert all(0.0 <= (s.confidence or -1) <= 1.0 for s in article.statements)
    # "These results contradict ... (Okafor and Lindqvist, 2021)" is this paper's contrast.
    contradict = [s for s in article.statements if "contradict" in s.text]
    assert [s.ref_id for s in contradict] == ["c2"]
    for statement in article.statements:
        for span in statement.callouts:
            assert 0 <= span.start < span.end <= len(statement.text)


def test_process_without_classifier_leaves_labels_empty() -> None:
    data = (EXAMPLES / "hepatocyte-calcium-clock.xml").read_bytes()
    article = process("a.xml", data, None)
    assert article.statements and all(s.label is None for s in article.statements)


def test_process_names_the_file_and_problem() -> None:
    with pytest.raises(InputError) as caught:
        process("papers/bad.xml", (BAD / "malformed.xml").read_bytes(), None)
    assert str(caught.value).startswith("papers/bad.xml: malformed XML")
    assert "\n" not in str(caught.value)


def test_process_file_returns_failures_instead_of_raising(tmp_path: Path) -> None:
    outcome = process_file(str(BAD / "empty.xml"))
    assert isinstance(outcome, Failure) and "empty" in outcome.reason
    missing = process_file(str(tmp_path / "gone.xml"))
    assert isinstance(missing, Failure) and missing.reason.startswith("cannot read")
    pdf = tmp_path / "paper.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    assert process_file(str(pdf)) == Failure(
        str(pdf), "a PDF needs a GROBID server: pass --grobid URL"
    )
    good = process_file(str(EXAMPLES / "hepatocyte-calcium-clock.xml"), "baseline")
    assert isinstance(good, ProcessedArticle) and good.statements[0].label is not None


def test_discover_walks_folders_and_filters_suffixes(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/one.xml", "a/b/two.nxml", "a/b/three.tei.xml", "a/four.pdf", "a/notes.txt"):
        (tmp_path / name).write_text("<x/>")
    names = sorted(Path(p).name for p in discover([tmp_path]))
    assert names == ["one.xml", "three.tei.xml", "two.nxml"]
    with_pdf = [Path(p).name for p in discover([tmp_path], pdf=True)]
    assert "four.pdf" in with_pdf and "notes.txt" not in with_pdf
    # A file named directly is taken whatever its suffix, and only once.
    direct = discover([tmp_path / "a" / "notes.txt", tmp_path / "a" / "notes.txt"])
    assert len(direct) == 1
    with pytest.raises(InputError, match="no such file or folder"):
        discover([tmp_path / "missing"])


def _ingest_examples(db: Path, **kwargs: object) -> tuple[object, dict[str, int]]:
    store = open_store(str(db))
    try:
        summary = ingest([EXAMPLES], store, classifier="baseline", progress=False, **kwargs)
        return summary, store.stats()
    finally:
        store.close()


def test_ingest_examples_then_rerun_skips_unchanged(tmp_db: Path) -> None:
    first, stats = _ingest_examples(tmp_db)
    assert first.files == 3 and first.articles == 3 and not first.failures
    assert first.statements == stats["statements"] > 20
    assert first.references == stats["references"]
    assert first.resolve is not None and first.resolved_share is not None
    assert 0.0 < first.resolved_share <= 1.0

    again, stats_again = _ingest_examples(tmp_db)
    assert (again.articles, again.skipped, again.statements) == (0, 3, 0)
    assert stats_again == stats

    forced, stats_forced = _ingest_examples(tmp_db, force=True)
    assert forced.articles == 3 and forced.statements == first.statements
    assert stats_forced == stats


def test_ingest_reingests_a_changed_file(tmp_path: Path, tmp_db: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(EXAMPLES, corpus)
    store = open_store(str(tmp_db))
    try:
        ingest([corpus], store, classifier="baseline", progress=False)
        before = store.stats()
        target = corpus / "hepatocyte-calcium-clock.xml"
        target.write_bytes(target.read_bytes().replace(b"412 cells", b"415 cells"))
        summary = ingest([corpus], store, classifier="baseline", progress=False)
        assert (summary.articles, summary.skipped) == (1, 2)
        assert store.stats() == before
    finally:
        store.close()


def test_ingest_with_workers_matches_one_process(tmp_path: Path) -> None:
    _, one = _ingest_examples(tmp_path / "one.db")
    summary, two = _ingest_examples(tmp_path / "two.db", workers=2)
    assert summary.articles == 3
    assert two == one


def test_ingest_records_bad_files_and_goes_on(tmp_path: Path, tmp_db: Path) -> None:
    corpus = tmp_path / "mixed"
    shutil.copytree(EXAMPLES, corpus)
    shutil.copy(BAD / "malformed.xml", corpus / "zz-malformed.xml")
    shutil.copy(BAD / "empty.xml", corpus / "aa-empty.xml")
    store = open_store(str(tmp_db))
    try:
        summary = ingest([corpus], store, classifier="baseline", progress=False)
    finally:
        store.close()
    assert summary.articles == 3
    failed = {Path(f.path).name: f.reason for f in summary.failures}
    assert set(failed) == {"zz-malformed.xml", "aa-empty.xml"}
    assert failed["aa-empty.xml"].startswith("empty input")
    assert failed["zz-malformed.xml"].startswith("malformed XML")


def test_ingest_through_a_dask_scheduler_matches_local(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    _, local = _ingest_examples(tmp_path / "local.db")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, protocol="tcp", dashboard_address=None
    ) as cluster:
        summary, remote = _ingest_examples(
            tmp_path / "dask.db", scheduler=cluster.scheduler_address
        )
    assert summary.articles == 3 and not summary.failures
    assert remote == local


def test_two_files_of_one_article_keep_the_last_and_reruns_change_nothing(
    tmp_path: Path, tmp_db: Path
) -> None:
    corpus = tmp_path / "versions"
    corpus.mkdir()
    original = (EXAMPLES / "hepatocyte-calcium-clock.xml").read_bytes()
    (corpus / "a-accepted.xml").write_bytes(original)
    (corpus / "b-final.xml").write_bytes(original.replace(b"412 cells", b"415 cells"))
    store = open_store(str(tmp_db))
    try:
        first = ingest([corpus], store, classifier="baseline", progress=False)
        assert (first.articles, first.superseded) == (1, 1)
        stats = store.stats()
        for _ in range(2):
            again = ingest([corpus], store, classifier="baseline", progress=False)
            assert (again.articles, again.skipped, again.superseded) == (0, 1, 1)
            assert store.stats() == stats
        with store.reader() as conn:
            (source,) = conn.execute("SELECT source_path FROM works WHERE has_full_text = 1")
        assert source[0].endswith("b-final.xml")
    finally:
        store.close()


def test_no_more_than_a_window_of_files_is_in_flight() -> None:
    """The corpus is streamed: jobs are pulled only as results are taken, in order."""
    from concurrent.futures import ThreadPoolExecutor

    from citelens.pipeline import _ordered_results

    pulled: list[str] = []

    def jobs() -> Iterator[tuple[str, str | None]]:
        for n in range(50):
            pulled.append(f"f{n}")
            yield str(BAD / "empty.xml"), f"digest{n}"

    with ThreadPoolExecutor(2) as pool:
        results = _ordered_results(pool, jobs(), 4)
        taken = 0
        for outcome in results:
            taken += 1
            assert isinstance(outcome, Failure)
            assert len(pulled) - taken <= 4
    assert taken == 50
