"""The `citelens` command: command-line arguments -> library calls -> lines on the terminal.

Every command is a thin wrapper over a library function (pipeline.ingest, report.build_report,
the store's export/stats/resolve) so that tests can call the same code without a terminal.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import click

from citelens import __version__
from citelens.errors import CitelensError, NotFound
from citelens.store.base import Store

DEFAULT_DB = "citelens.db"
REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_CORPUS = REPO_ROOT / ".." / "shared" / "data" / "articles" / "elife" / "interlinked-200"
EXAMPLE_CORPUS = REPO_ROOT / "examples" / "articles"


class CitelensGroup(click.Group):
    """A click group that turns any CitelensError into one line on stderr and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CitelensError as exc:
            raise click.ClickException(" ".join(str(exc).split())) from exc


def _set_db(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.ensure_object(dict)["db"] = value


def db_option(command: click.Command) -> click.Command:
    """`--db` on a sub-command too (`citelens report --db x.db DOI`), also for the registered
    commands of other modules: it only overrides ctx.obj["db"], which they all read."""
    if any("--db" in param.opts for param in command.params):
        return command
    command.params.append(
        click.Option(
            ["--db"],
            metavar="PATH",
            default=None,
            expose_value=False,
            is_eager=True,
            callback=_set_db,
            help="The index: a SQLite file or a postgresql:// URL (overrides the group's --db).",
        )
    )
    return command


@click.group(cls=CitelensGroup)
@click.option(
    "--db",
    default=DEFAULT_DB,
    envvar="CITELENS_DB",
    show_default=True,
    show_envvar=True,
    metavar="PATH",
    help="The index: a SQLite file or a postgresql:// URL.",
)
@click.version_option(__version__, prog_name="citelens")
@click.pass_context
def cli(ctx: click.Context, db: str) -> None:
    """citelens: a smart citation index over the full text of scholarly articles."""
    ctx.ensure_object(dict).setdefault("db", db)


@contextmanager
def opened_store(ctx: click.Context) -> Iterator[Store]:
    from citelens.store import open_store

    store = open_store(ctx.obj["db"])
    try:
        yield store
    finally:
        store.close()


# --- ingest --------------------------------------------------------------------------------


def print_summary(summary: Any, out: IO[str]) -> None:
    """The closing lines of an ingest: what was stored, what was resolved, what failed."""
    lines = [
        f"files: {summary.files} ({summary.skipped} unchanged, skipped)",
        f"articles: {summary.articles} in {summary.seconds:.1f} s"
        + (
            f" ({summary.superseded} other files of the same articles not stored:"
            " the last in path order is kept)"
            if summary.superseded
            else ""
        ),
        f"statements: {summary.statements}",
        f"references: {summary.references}",
    ]
    if summary.resolve is not None:
        share = summary.resolved_share
        shown = "n/a" if share is None else f"{share:.1%}"
        lines.append(f"resolved: {shown} of {summary.resolve.references} references in the index")
    lines.append(f"failures: {len(summary.failures)}")
    lines.extend(f"{failure.path}: {failure.reason}" for failure in summary.failures)
    out.write("\n".join(lines) + "\n")


def run_ingest(store: Store, paths: list[str | Path], *, classifier: str, **options: Any) -> Any:
    """pipeline.ingest with the classifier checked first (and "default" falling back to the
    baseline with a warning) and the closing summary printed; returns the summary."""
    from citelens.pipeline import ingest, usable_classifier

    name, warning = usable_classifier(classifier)
    if warning:
        click.echo(f"warning: {warning}", err=True)
    summary = ingest(paths, store, classifier=name, **options)
    print_summary(summary, sys.stdout)
    return summary


@cli.command("ingest")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--grobid", metavar="URL", help="GROBID server for PDFs, e.g. http://localhost:8070.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 256))
@click.option("--force", is_flag=True, help="Re-ingest files whose content has not changed.")
@click.option("--classifier", default="default", show_default=True, help="default | baseline")
@click.option("--scheduler", metavar="URL", help="A Dask scheduler (tcp://host:port).")
@click.option("--progress/--no-progress", default=True, help="Progress bar on stderr.")
@click.pass_context
def ingest_command(
    ctx: click.Context,
    paths: tuple[str, ...],
    grobid: str | None,
    workers: int,
    force: bool,
    classifier: str,
    scheduler: str | None,
    progress: bool,
) -> None:
    """Ingest JATS / TEI files and folders (PDFs too with --grobid) into the index.

    Unchanged files are skipped, a bad file is reported and the rest go on; the exit code is 1
    when any file failed.
    """
    with opened_store(ctx) as store:
        summary = run_ingest(
            store,
            list(paths),
            classifier=classifier,
            grobid_url=grobid,
            workers=workers,
            force=force,
            progress=progress,
            scheduler=scheduler,
        )
    if summary.failures:
        ctx.exit(1)


# --- export, stats, resolve ------------------------------------------------------------------


def write_export(rows: Iterator[dict[str, Any]], fmt: str, out: IO[str]) -> int:
    """Write statement records as JSON lines or CSV (list fields as JSON text); return count."""
    count = 0
    if fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
        return count
    writer: csv.DictWriter[str] | None = None
    for row in rows:
        flat = {
            key: json.dumps(value, ensure_ascii=False) if isinstance(value, list | dict) else value
            for key, value in row.items()
        }
        if writer is None:
            writer = csv.DictWriter(out, fieldnames=list(flat), lineterminator="\n")
            writer.writeheader()
        writer.writerow(flat)
        count += 1
    return count


@cli.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl")
@click.option("-o", "--output", type=click.Path(allow_dash=True), default="-", help="File or -.")
@click.pass_context
def export_command(ctx: click.Context, fmt: str, output: str) -> None:
    """Every citation statement in the index, one record per statement."""
    with opened_store(ctx) as store:
        if output == "-":
            count = write_export(store.export_statements(), fmt, sys.stdout)
        else:
            with open(output, "w", encoding="utf-8", newline="") as handle:
                count = write_export(store.export_statements(), fmt, handle)
    if output != "-":
        click.echo(f"{count} statements written to {output}", err=True)


@cli.command("stats")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.pass_context
def stats_command(ctx: click.Context, as_json: bool) -> None:
    """Counts of works, articles, references and statements in the index."""
    with opened_store(ctx) as store:
        stats = store.stats()
    if as_json:
        click.echo(json.dumps(stats))
        return
    width = max((len(key) for key in stats), default=0)
    for key, value in stats.items():
        click.echo(f"{key:<{width}}  {value}")


@cli.command("resolve")
@click.pass_context
def resolve_command(ctx: click.Context) -> None:
    """Link references to works across the whole index (DOI, PMID, PMCID, then fuzzy)."""
    with opened_store(ctx) as store:
        result = store.resolve()
    share = result.resolved / result.references if result.references else 0.0
    click.echo(f"references: {result.references}")
    click.echo(f"resolved: {result.resolved} ({share:.1%})")
    for method, count in sorted(result.by_method.items()):
        click.echo(f"  {method}: {count}")


# --- report, quickstart -----------------------------------------------------------------------


def format_report(report: dict[str, Any]) -> str:
    """A report as a short readable summary for the terminal."""
    title = report.get("title") or "(untitled)"
    origin = ", ".join(str(x) for x in (report.get("journal"), report.get("year")) if x)
    lines = [title]
    if origin:
        lines.append(origin)
    lines.append(f"DOI {report['doi']}")
    lines.append(
        f"Cited by {report.get('citing_publications', 0)} publications "
        f"({report.get('statements', 0)} citation statements)"
    )
    lines.append(
        "Supporting {s} · Mentioning {m} · Contrasting {c}".format(
            s=report.get("supporting", 0),
            m=report.get("mentioning", 0),
            c=report.get("contrasting", 0),
        )
    )
    sections = report.get("sections") or {}
    if sections:
        lines.append("By section:")
        for name, tally in sections.items():
            # A section's tally is a count, or a dict of counts per label.
            if isinstance(tally, dict):
                total = tally.get("statements", 0)
                labels = ", ".join(
                    f"{tally[label]} {label}"
                    for label in ("supporting", "mentioning", "contrasting")
                    if tally.get(label)
                )
                detail = f" ({labels})" if labels else ""
            else:
                total, detail = tally, ""
            if total:
                noun = "statement" if total == 1 else "statements"
                lines.append(f"  {name}: {total} {noun}{detail}")
    references = report.get("references")
    if references is not None:
        lines.append(f"References {references} publications")
    if summary := report.get("summary"):
        lines.extend(("", summary))
    return "\n".join(lines)


@cli.command("report")
@click.argument("doi")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
def report_command(ctx: click.Context, doi: str, fmt: str) -> None:
    """Who cites DOI, in how many statements, and whether they support or contrast it."""
    from citelens.report import build_report, summarise
    from citelens.store import require_sqlite

    require_sqlite(ctx.obj["db"], "citelens report")
    with opened_store(ctx) as store:
        report = build_report(store, doi)
    if fmt == "json":
        click.echo(json.dumps(report, ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(format_report({**report, "summary": summarise(report)}))


def format_hit(item: dict[str, Any]) -> str:
    """One search result: where it comes from, then the citing sentence."""
    citing = item.get("citing") or {}
    origin = ", ".join(str(x) for x in (citing.get("journal"), citing.get("year")) if x)
    label = item.get("label") or "unclassified"
    if item.get("confidence") is not None:
        label += f" {item['confidence']:.0%}"
    head = f"{citing.get('doi') or item.get('citing_key')} ({origin}) -> {item.get('cited_doi')}"
    return f"{head} [{item.get('section_type')}, {label}]\n  {item['text']}"


@cli.command("search")
@click.argument("query")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 100))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
def search_command(ctx: click.Context, query: str, limit: int, fmt: str) -> None:
    """Citation statements across the whole index that match QUERY (full text, ranked)."""
    from citelens.report import search_statements
    from citelens.store import require_sqlite

    require_sqlite(ctx.obj["db"], "citelens search")
    with opened_store(ctx) as store:
        found = search_statements(store, query, page=1, page_size=limit)
    if fmt == "json":
        click.echo(json.dumps(found, ensure_ascii=False, indent=2, default=str))
        return
    click.echo(f"{found['total']} statements match")
    for item in found["items"]:
        click.echo(format_hit(item))


# Works with full text in the index come first: their report is complete (journal, year,
# their own references), and the demo corpus was chosen for the links inside it.
MOST_CITED_SQL = """
SELECT w.doi, COUNT(DISTINCT s.citing_work_id) AS citing, COUNT(*) AS statements
FROM statements s JOIN works w ON w.id = s.cited_work_id
WHERE w.doi IS NOT NULL
GROUP BY w.id
ORDER BY w.has_full_text DESC, citing DESC, statements DESC, w.doi
LIMIT 1
"""


def most_cited_doi(store: Store) -> str:
    """The DOI of the indexed article cited by the most publications in the index (any cited
    work when no indexed article is cited)."""
    with store.reader() as conn:
        row = conn.execute(MOST_CITED_SQL).fetchone()
    if row is None:
        raise NotFound("the index holds no cited work with a DOI yet: ingest articles first")
    return str(row[0])


def default_corpus() -> Path:
    """The shared eLife set when this checkout sits next to it, else the bundled examples."""
    return SHARED_CORPUS.resolve() if SHARED_CORPUS.is_dir() else EXAMPLE_CORPUS


@cli.command("quickstart")
@click.option("--workers", default=min(4, os.cpu_count() or 1), show_default=True, type=int)
@click.option("--classifier", default="default", show_default=True)
@click.pass_context
def quickstart_command(ctx: click.Context, workers: int, classifier: str) -> None:
    """Ingest the default corpus and print the report of its most-cited article."""
    from citelens.report import build_report

    corpus = default_corpus()
    click.echo(f"Ingesting {corpus} into {ctx.obj['db']}", err=True)
    with opened_store(ctx) as store:
        summary = run_ingest(store, [corpus], classifier=classifier, workers=workers)
        doi = most_cited_doi(store)
        click.echo("\nMost-cited paper:")
        click.echo(format_report(build_report(store, doi)))
    if summary.failures:
        ctx.exit(1)


# --- commands from other modules --------------------------------------------------------------


def _optional_commands(module: str) -> list[click.Command]:
    """COMMANDS of `module` when it exists; an error inside an existing module is raised."""
    import importlib

    try:
        loaded = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return []
        raise
    return list(loaded.COMMANDS)


for _command in (
    *_optional_commands("citelens.classify.commands"),
    *_optional_commands("citelens.web.commands"),
):
    cli.add_command(_command)

for _command in cli.commands.values():
    db_option(_command)


def main() -> None:
    cli(prog_name="citelens")
