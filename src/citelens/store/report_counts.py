"""Report tallies of the SQLite store: statements turned into per-paper counts by triggers.

A report's first view (tallies, facets, top authors and journals of a paper cited 10,000 times)
then reads a few hundred counted rows instead of every statement and its citing authors' JSON.
The tables derive from works and statements, like an index: added to any file that lacks them.
"""

from __future__ import annotations

UNCLASSIFIED = "unclassified"
UNKNOWN_TYPE = "unknown"

# The facets counted per cited work: (facet, value expression over one statement row `{r}`).
# Values never hold NULL (they are part of the primary key): unknown years are 0, unknown
# journals '', an unknown publication type 'unknown', as the report codes them.
FACETS: tuple[tuple[str, str], ...] = (
    (
        "section",
        "{r}.section_type || '/' || CASE WHEN {r}.label IN ('supporting', 'mentioning',"
        f" 'contrasting') THEN {{r}}.label ELSE '{UNCLASSIFIED}' END",
    ),
    ("year", "coalesce({r}.citing_year, 0)"),
    ("publication_type", f"coalesce(nullif({{r}}.citing_type, ''), '{UNKNOWN_TYPE}')"),
    ("self", "{r}.self_citation"),
    ("journal", "coalesce({r}.citing_journal, '')"),
)

# A citing author's display name as report.author_names writes it: "Given Family", or whichever
# of the two is there; a plain string stays as it is.
_NAME = (
    "trim(CASE WHEN j.type = 'text' THEN j.value"
    " WHEN coalesce(json_extract(j.value, '$.given'), '') <> ''"
    " AND coalesce(json_extract(j.value, '$.family'), '') <> ''"
    " THEN json_extract(j.value, '$.given') || ' ' || json_extract(j.value, '$.family')"
    " ELSE coalesce(nullif(json_extract(j.value, '$.given'), ''),"
    " json_extract(j.value, '$.family'), '') END, ' ' || char(9, 10, 13))"
)

_UPSERT = " ON CONFLICT (cited_work_id, facet, value) DO UPDATE SET n = n + excluded.n;\n"


def _count_row(r: str, sign: int) -> str:
    """Statements adding `sign` to every tally the statement row `r` (new or old) is in."""
    values = ", ".join(f"('{facet}', {expr.format(r=r)})" for facet, expr in FACETS)
    # A second row for the same sentence and cited work (a duplicated bibliography entry in
    # an index written before the store merged them) is counted under 'duplicates': while a
    # paper has any, the report deduplicates its rows instead of reading these tallies.
    return (
        f"INSERT INTO report_counts (cited_work_id, facet, value, n)"
        f" SELECT {r}.cited_work_id, column1, column2, {sign} FROM (VALUES {values}) WHERE true"
        + _UPSERT
        + f"INSERT INTO report_counts (cited_work_id, facet, value, n)"
        f" SELECT {r}.cited_work_id, 'author', name_id, {sign} FROM work_authors"
        f" WHERE work_id = {r}.citing_work_id"
        + _UPSERT
        + f"INSERT INTO report_counts (cited_work_id, facet, value, n)"
        f" SELECT {r}.cited_work_id, 'duplicates', '', {sign} WHERE EXISTS (SELECT 1 FROM"
        f" statements d WHERE d.citing_work_id = {r}.citing_work_id AND d.paragraph ="
        f" {r}.paragraph AND d.sentence = {r}.sentence AND d.cited_work_id = {r}.cited_work_id"
        f" AND d.id <> {r}.id)" + _UPSERT
    )


def _backfill() -> str:
    """The tallies of statements already stored when the step runs."""
    facets = "\nUNION ALL ".join(
        f"SELECT cited_work_id, '{facet}', {expr.format(r='s')}, count(*) FROM statements s"
        f" WHERE cited_work_id IS NOT NULL GROUP BY 1, 3"
        for facet, expr in FACETS
    )
    return (
        f"INSERT INTO report_counts (cited_work_id, facet, value, n)\n{facets};\n"
        "INSERT INTO report_counts (cited_work_id, facet, value, n)"
        " SELECT s.cited_work_id, 'author', wa.name_id, count(*) FROM statements s"
        " JOIN work_authors wa ON wa.work_id = s.citing_work_id"
        " WHERE s.cited_work_id IS NOT NULL GROUP BY 1, 3;\n"
        "INSERT INTO report_counts (cited_work_id, facet, value, n)"
        " SELECT cited_work_id, 'duplicates', '', sum(c - 1) FROM (SELECT cited_work_id,"
        " count(*) AS c FROM statements WHERE cited_work_id IS NOT NULL"
        " GROUP BY cited_work_id, citing_work_id, paragraph, sentence HAVING c > 1)"
        " GROUP BY 1;\n"
    )


_FILL_WORK_AUTHORS = (
    "INSERT OR IGNORE INTO author_names (name) SELECT name FROM work_author_names"
    " WHERE work_id = new.id AND name <> '';\n"
    # OR IGNORE: an author listed twice in one work counts once, at the first position.
    "INSERT OR IGNORE INTO work_authors (work_id, name_id, position)"
    " SELECT v.work_id, n.id, v.position FROM work_author_names v"
    " JOIN author_names n ON n.name = v.name WHERE v.work_id = new.id ORDER BY v.position;\n"
)

_COUNTED_COLUMNS = (
    "cited_work_id, citing_work_id, paragraph, sentence, label, section_type, self_citation,"
    " citing_year, citing_type, citing_journal"
)

REPORT_COUNTS_SQL = f"""
-- Citing authors by name id: the report's author facet counts ids, not JSON.
CREATE TABLE IF NOT EXISTS author_names (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS work_authors (
    work_id  INTEGER NOT NULL,
    name_id  INTEGER NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (work_id, name_id)
) WITHOUT ROWID;
CREATE VIEW IF NOT EXISTS work_author_names AS
SELECT w.id AS work_id, j.key AS position, {_NAME} AS name
FROM works w, json_each(w.authors) j WHERE w.has_full_text = 1;

-- Statements per cited work and facet value, kept by the triggers below.
CREATE TABLE IF NOT EXISTS report_counts (
    cited_work_id INTEGER NOT NULL,
    facet         TEXT NOT NULL,
    value         NOT NULL,  -- no type: years and flags stay integers, names text
    n             INTEGER NOT NULL,
    PRIMARY KEY (cited_work_id, facet, value)
) WITHOUT ROWID;
-- A paper's most frequent authors and journals, without sorting all of them.
CREATE INDEX IF NOT EXISTS report_counts_top ON report_counts(cited_work_id, facet, n);

-- Citing works' authors are counted when their statements are inserted: the store writes a
-- citing work's row (and authors) before its statements, and deletes its statements first.
CREATE TRIGGER IF NOT EXISTS works_authors_ai AFTER INSERT ON works BEGIN
{_FILL_WORK_AUTHORS}END;
CREATE TRIGGER IF NOT EXISTS works_authors_au AFTER UPDATE OF authors, has_full_text ON works
BEGIN
DELETE FROM work_authors WHERE work_id = old.id;
{_FILL_WORK_AUTHORS}END;
CREATE TRIGGER IF NOT EXISTS works_authors_ad AFTER DELETE ON works BEGIN
DELETE FROM work_authors WHERE work_id = old.id;
END;

CREATE TRIGGER IF NOT EXISTS statements_counts_ai AFTER INSERT ON statements
WHEN new.cited_work_id IS NOT NULL BEGIN
{_count_row("new", 1)}END;
CREATE TRIGGER IF NOT EXISTS statements_counts_ad AFTER DELETE ON statements
WHEN old.cited_work_id IS NOT NULL BEGIN
{_count_row("old", -1)}END;
CREATE TRIGGER IF NOT EXISTS statements_counts_au_old AFTER UPDATE OF {_COUNTED_COLUMNS}
ON statements WHEN old.cited_work_id IS NOT NULL BEGIN
{_count_row("old", -1)}END;
CREATE TRIGGER IF NOT EXISTS statements_counts_au_new AFTER UPDATE OF {_COUNTED_COLUMNS}
ON statements WHEN new.cited_work_id IS NOT NULL BEGIN
{_count_row("new", 1)}END;

INSERT OR IGNORE INTO author_names (name)
SELECT name FROM work_author_names WHERE name <> '' ORDER BY work_id, position;
INSERT OR IGNORE INTO work_authors (work_id, name_id, position)
SELECT v.work_id, n.id, v.position FROM work_author_names v JOIN author_names n ON n.name = v.name
ORDER BY v.work_id, v.position;
{_backfill()}"""
