"""`citelens classify | evaluate | reclassify` driven through the real command group."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from click.testing import CliRunner

from citelens.cli import cli

FIXTURE = Path(__file__).parent / "fixtures" / "jats" / "numbered.xml"

LINES = [
    json.dumps({"id": "a", "text": "Our results are consistent with Smith et al. [3].",
                "target": "[3]"}),
    "{not json",
    json.dumps({"id": "c", "text": "In contrast to [4], we found no effect.", "target": "[9]"}),
    json.dumps({"id": "d", "text": "Cells were cultured as described [5].",
                "before": "Methods follow.", "after": "Then we counted them."}),
    "",
    json.dumps({"id": "e", "text": "In contrast to earlier reports [4], we found no effect."}),
]


def test_classify_names_malformed_lines_and_classifies_the_rest() -> None:
    result = CliRunner().invoke(cli, ["classify", "-"], input="\n".join(LINES) + "\n")
    assert result.exit_code == 1
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in out] == ["a", "d", "e"]
    assert [r["label"] for r in out] == ["supporting", "mentioning", "contrasting"]
    assert all(0.0 <= r["confidence"] <= 1.0 for r in out)
    assert out[1]["before"] == "Methods follow."  # records come back whole
    assert "line 2: not JSON" in result.stderr
    assert "line 3: target '[9]' does not occur" in result.stderr


def test_classify_reads_a_file_with_the_baseline(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(LINES[0] + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["classify", str(path), "--classifier", "baseline"])
    assert result.exit_code == 0, result.output
    (record,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert record["label"] == "supporting"


def test_evaluate_prints_scores_and_skips_bad_lines(tmp_path: Path) -> None:
    rows = [
        {"text": "Our results are consistent with Smith [3].", "label": "supporting"},
        {"text": "Unlike [4], we found no effect.", "label": "contrasting"},
        {"text": "Cells were cultured as described [5].", "label": "mentioning"},
        {"text": "Data were taken from [6].", "label": "positive"},
    ]
    path = tmp_path / "gold.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["evaluate", str(path)])
    assert result.exit_code == 0, result.output
    assert "macro-F1" in result.stdout and "expected calibration error" in result.stdout
    assert "over 3 statements" in result.stdout
    assert "line 4: gold label 'positive'" in result.stderr


def test_reclassify_relabels_stored_statements_with_the_current_model(tmp_db: Path) -> None:
    runner = CliRunner()
    ingest = runner.invoke(cli, ["--db", str(tmp_db), "ingest", "--classifier", "baseline",
                                 "--no-progress", str(FIXTURE)])
    assert ingest.exit_code == 0, ingest.output
    with sqlite3.connect(tmp_db) as conn:
        before = {row[0] for row in conn.execute("SELECT model_version FROM statements")}
    assert before == {"baseline-cues-1"}
    result = runner.invoke(cli, ["--db", str(tmp_db), "reclassify"])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(tmp_db) as conn:
        rows = conn.execute("SELECT label, confidence, model_version FROM statements").fetchall()
    assert rows and f"relabelled {len(rows)} statements" in result.stdout
    assert {version for _, _, version in rows} == {result.stdout.split()[-1]}
    assert all(label in ("supporting", "mentioning", "contrasting") and 0 <= conf <= 1
               for label, conf, _ in rows)
