"""Bad input end to end: each broken file is one clear line, a failure, a non-zero exit, and the
index it was ingested into is exactly as it was before."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from citelens.cli import cli

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "articles"
BAD = REPO / "tests" / "fixtures" / "bad"

# fixture file -> words its failure line must contain
BROKEN = {
    "malformed.xml": "malformed XML",
    "entity-bomb.xml": "entities",
    "external-entity.xml": "entities",
    "wrong-encoding.xml": "not valid utf-8",
    "empty.xml": "empty input",
    "not-an-article.xml": "not an article: root element <html>",
}


def invoke(db: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--db", str(db), *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def snapshot(db: Path) -> tuple[dict[str, int], str]:
    stats = json.loads(invoke(db, "stats", "--json")[1])
    return stats, invoke(db, "export", "--format", "jsonl")[1]


@pytest.fixture
def example_db(tmp_db: Path) -> Path:
    code, out, _ = invoke(tmp_db, "ingest", "--classifier", "baseline", str(EXAMPLES))
    assert code == 0, out
    return tmp_db


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_file_fails_alone_and_leaves_the_index_intact(
    name: str, example_db: Path, tmp_path: Path
) -> None:
    before = snapshot(example_db)
    path = BAD / name
    code, out, err = invoke(example_db, "ingest", "--classifier", "baseline", str(path))
    assert code == 1
    assert "Traceback" not in out + err
    assert "articles: 0 in" in out and "failures: 1" in out
    failure_lines = [line for line in out.splitlines() if line.startswith(str(path))]
    assert len(failure_lines) == 1
    assert BROKEN[name].lower() in failure_lines[0].lower()
    assert snapshot(example_db) == before


def test_the_external_entity_is_never_read(example_db: Path) -> None:
    code, _, _ = invoke(example_db, "ingest", str(BAD / "external-entity.xml"))
    assert code == 1
    exported = invoke(example_db, "export")[1]
    assert "root:" not in exported and "/bin/" not in exported


def test_a_folder_of_good_and_broken_files(tmp_path: Path, tmp_db: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(EXAMPLES, corpus)
    for name in BROKEN:
        shutil.copy(BAD / name, corpus / name)
    code, out, _ = invoke(tmp_db, "ingest", "--classifier", "baseline", str(corpus))
    assert code == 1
    assert "articles: 3 in" in out and f"failures: {len(BROKEN)}" in out
    for name in BROKEN:
        assert sum(line.startswith(str(corpus / name) + ": ") for line in out.splitlines()) == 1


def _work_keys(db: Path) -> list[tuple[str, str | None]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT key, title FROM works WHERE has_full_text = 1 ORDER BY key"
        ).fetchall()


def test_an_article_without_doi_keeps_one_identity(tmp_db: Path) -> None:
    path = str(BAD / "no-doi.xml")
    code, out, _ = invoke(tmp_db, "ingest", "--classifier", "baseline", path)
    assert code == 0 and "articles: 1 in" in out
    keys = _work_keys(tmp_db)
    assert len(keys) == 1
    key, title = keys[0]
    assert not key.startswith("doi:") and title.startswith("Night feeding")
    statements = json.loads(invoke(tmp_db, "stats", "--json")[1])["statements"]
    code, out, _ = invoke(tmp_db, "ingest", "--force", "--classifier", "baseline", path)
    assert code == 0 and "articles: 1 in" in out
    assert _work_keys(tmp_db) == keys
    assert json.loads(invoke(tmp_db, "stats", "--json")[1])["statements"] == statements
    exported = [json.loads(line) for line in invoke(tmp_db, "export")[1].splitlines()]
    assert exported and all(r["citing_doi"] is None for r in exported)


def test_references_without_ids_still_ingest(tmp_db: Path) -> None:
    path = str(BAD / "refs-without-ids.xml")
    code, out, _ = invoke(tmp_db, "ingest", "--classifier", "baseline", path)
    assert code == 0
    assert "articles: 1 in" in out and "references: 2" in out
    with sqlite3.connect(tmp_db) as conn:
        ref_ids = [r[0] for r in conn.execute("SELECT ref_id FROM refs ORDER BY ord")]
        dois = {r[0] for r in conn.execute("SELECT doi FROM refs")}
    assert len(set(ref_ids)) == 2 and all(ref_ids)
    assert dois == {"10.5555/citelens.ext.0101", "10.5555/citelens.ext.0103"}
