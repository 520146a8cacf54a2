"""CLI tests: the real commands through click's CliRunner, and the installed script as a process."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from citelens import cli as cli_module
from citelens.cli import cli

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "articles"
MOST_CITED = "10.5555/citelens.example.0001"


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def example_db(tmp_db: Path) -> Path:
    code, out, _ = run("--db", str(tmp_db), "ingest", "--classifier", "baseline", str(EXAMPLES))
    assert code == 0, out
    return tmp_db


def test_ingest_prints_a_closing_summary(tmp_db: Path) -> None:
    code, out, err = run("--db", str(tmp_db), "ingest", "--classifier", "baseline", str(EXAMPLES))
    assert code == 0
    lines = dict(line.split(": ", 1) for line in out.splitlines())
    assert lines["articles"].split()[0] == "3"
    assert int(lines["statements"]) > 20
    assert lines["failures"] == "0"
    assert lines["resolved"].endswith("references in the index")
    assert "file" in err  # the progress bar went to stderr
    code, out, _ = run("--db", str(tmp_db), "ingest", "--classifier", "baseline", str(EXAMPLES))
    assert code == 0 and "files: 3 (3 unchanged, skipped)" in out


def test_db_from_subcommand_option_and_environment(tmp_path: Path) -> None:
    first, second = tmp_path / "first.db", tmp_path / "second.db"
    code, _, _ = run("ingest", "--db", str(first), "--classifier", "baseline", str(EXAMPLES))
    assert code == 0 and first.exists()
    code, out, _ = run("stats", "--json", env={"CITELENS_DB": str(first)})
    assert code == 0 and json.loads(out)["statements"] > 20
    code, out, _ = run("--db", str(first), "stats", "--db", str(second), "--json")
    assert code == 0 and json.loads(out)["statements"] == 0


def test_stats_and_resolve(example_db: Path) -> None:
    code, out, _ = run("--db", str(example_db), "stats")
    assert code == 0 and "statements" in out
    code, out, _ = run("--db", str(example_db), "resolve")
    assert code == 0
    assert out.startswith("references: ") and "resolved: " in out


def test_export_jsonl_and_csv_agree(example_db: Path, tmp_path: Path) -> None:
    code, out, _ = run("--db", str(example_db), "export", "--format", "jsonl")
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    stats = json.loads(run("--db", str(example_db), "stats", "--json")[1])
    assert len(records) == stats["statements"]
    for record in records:
        for key in ("citing_doi", "cited_doi", "ref_id", "section_type", "text", "callouts"):
            assert key in record
        for start, end in record["callouts"]:
            assert record["text"][start:end].strip()
    target = tmp_path / "statements.csv"
    code, _, err = run("--db", str(example_db), "export", "--format", "csv", "-o", str(target))
    assert code == 0 and f"{len(records)} statements written" in err
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert len(rows) == len(records)
    assert [json.loads(r["callouts"]) for r in rows] == [r["callouts"] for r in records]
    assert [r["text"] for r in rows] == [r["text"] for r in records]


def test_report_text_and_json(example_db: Path) -> None:
    code, out, _ = run("--db", str(example_db), "report", MOST_CITED)
    assert code == 0
    assert "Mitochondrial calcium uptake sets the pace" in out
    assert "Cited by 2 publications (" in out
    code, out, _ = run("--db", str(example_db), "report", MOST_CITED, "--format", "json")
    report = json.loads(out)
    assert report["citing_publications"] == 2
    assert (
        report["supporting"] + report["mentioning"] + report["contrasting"]
        == (report["statements"])
    )
    exported = [json.loads(line) for line in run("--db", str(example_db), "export")[1].splitlines()]
    assert report["statements"] == sum(1 for r in exported if r["cited_doi"] == MOST_CITED)


def test_errors_are_one_line_with_exit_code_1(example_db: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--db", str(example_db), "report", "10.9999/nope"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and len(result.stderr.strip().splitlines()) == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    result = CliRunner().invoke(cli, ["--db", str(example_db), "ingest", str(tmp_path / "gone")])
    assert result.exit_code == 1
    assert "gone: no such file or folder" in result.stderr
    assert CliRunner().invoke(cli, ["ingest"]).exit_code == 2
    assert CliRunner().invoke(cli, ["nonsense"]).exit_code == 2


def test_ingest_exits_non_zero_when_a_file_fails(tmp_db: Path) -> None:
    bad = REPO / "tests" / "fixtures" / "bad" / "malformed.xml"
    code, out, _ = run(
        "--db", str(tmp_db), "ingest", "--classifier", "baseline", str(EXAMPLES), str(bad)
    )
    assert code == 1
    assert "failures: 1" in out and f"{bad}: malformed XML" in out


def test_quickstart_on_the_bundled_examples(tmp_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_module, "SHARED_CORPUS", REPO / "no-shared-data-here")
    code, out, _ = run("--db", str(tmp_db), "quickstart", "--workers", "1")
    assert code == 0
    assert "articles: 3 in" in out
    assert "Most-cited paper:" in out and f"DOI {MOST_CITED}" in out


def test_the_installed_script_runs_as_a_process(tmp_db: Path) -> None:
    script = Path(sys.executable).parent / "citelens"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "citelens"]
    env = {**os.environ, "CITELENS_DB": str(tmp_db)}
    done = subprocess.run(
        [*command, "ingest", "--no-progress", "--classifier", "baseline", str(EXAMPLES)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "articles: 3 in" in done.stdout
    done = subprocess.run(
        [sys.executable, "-m", "citelens", "report", MOST_CITED, "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["doi"] == MOST_CITED
    done = subprocess.run(
        [*command, "report", "10.9999/missing"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1


def test_every_command_takes_db_and_optional_modules_are_guarded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, command in cli.commands.items():
        assert any("--db" in param.opts for param in command.params), name
    assert cli_module._optional_commands("citelens.no_such_commands") == []
    # A module that exists but is broken inside is a real error, not a missing feature.
    (tmp_path / "broken_commands.py").write_text("import a_package_that_is_not_installed\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="a_package_that_is_not_installed"):
        cli_module._optional_commands("broken_commands")


def test_every_command_and_option_is_documented() -> None:
    doc = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    for name in cli.commands:
        assert f"`{name}`" in doc or f"citelens {name}" in doc, name
    for name in ("ingest", "export", "report", "search", "stats", "resolve", "quickstart"):
        for param in cli.commands[name].params:
            for opt in param.opts:
                if opt.startswith("-") and opt != "--help":
                    assert opt in doc, f"{name} {opt}"
    assert "CITELENS_DB" in doc
    classifier_doc = (REPO / "docs" / "classifier.md").read_text(encoding="utf-8")
    for name in ("train", "evaluate", "classify", "reclassify"):
        for param in cli.commands[name].params:
            for opt in [*param.opts, *param.secondary_opts]:
                if opt.startswith("-") and opt != "--help":
                    assert opt in classifier_doc, f"{name} {opt}"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--db", "{tmp}/no/such/dir/x.db", "stats"], "does not exist"),
        (["--db", "{tmp}/not-a-db.db", "stats"], "file is not a database"),
        (["--db", "{tmp}/x.db", "ingest", "--classifier", "nosuch", "."], "unknown classifier"),
    ],
)
def test_bad_settings_are_one_line(tmp_path: Path, args: list[str], words: str) -> None:
    (tmp_path / "not-a-db.db").write_text("these bytes are not SQLite\n" * 10)
    result = CliRunner().invoke(cli, [a.replace("{tmp}", str(tmp_path)) for a in args])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_search_across_the_index(example_db: Path) -> None:
    code, out, _ = run("--db", str(example_db), "search", "contradict", "--format", "json")
    assert code == 0
    found = json.loads(out)
    assert found["total"] >= 1
    # The search covers the sentence and its neighbours.
    for item in found["items"]:
        assert "contradict" in " ".join((item["before"], item["text"], item["after"])).lower()
    code, out, _ = run("--db", str(example_db), "search", "contradict")
    assert code == 0 and out.startswith(f"{found['total']} statements match")
    assert "These results contradict" in out
    for hostile in ('"unbalanced', "AND OR", "*"):
        result = CliRunner().invoke(cli, ["--db", str(example_db), "search", hostile])
        assert result.exit_code in (0, 1) and "Traceback" not in result.output


@pytest.mark.parametrize("command", [["report", "10.7554/elife.00461"], ["search", "x"], ["serve"]])
def test_sqlite_only_readers_refuse_a_server_store_in_one_line(command: list[str]) -> None:
    # Refused before any connection is tried: no server needs to answer at this URL.
    url = "postgresql://nobody@127.0.0.1:1/none"
    result = CliRunner().invoke(cli, ["--db", url, *command])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert "reads SQLite indexes only for now" in result.output
