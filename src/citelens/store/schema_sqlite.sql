-- citelens SQLite schema, version 1. Later versions are migrations in store/sqlite.py.
-- JSON columns hold lists as text; offsets in `callouts` are into `text`.

CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Every work we know of: articles whose full text we ingested (has_full_text = 1) and works
-- that are only cited. `key` is the stable identity: "doi:<doi>", "pmid:<n>", "pmcid:<PMCn>",
-- or "t:<hash of normalised title, year, first author>" for a work with no identifier.
CREATE TABLE IF NOT EXISTS works (
    id               INTEGER PRIMARY KEY,
    key              TEXT NOT NULL UNIQUE,
    doi              TEXT UNIQUE,
    pmid             TEXT,
    pmcid            TEXT,
    title            TEXT,
    year             INTEGER,
    journal          TEXT,
    publication_type TEXT,
    authors          TEXT NOT NULL DEFAULT '[]',  -- [{"family","given","orcid"}]
    notices          TEXT NOT NULL DEFAULT '[]',
    has_full_text    INTEGER NOT NULL DEFAULT 0,
    source_path      TEXT,
    source_sha256    TEXT,
    ingested_at      TEXT
);
CREATE INDEX IF NOT EXISTS works_pmid ON works(pmid);
CREATE INDEX IF NOT EXISTS works_pmcid ON works(pmcid);

-- The reference list of each ingested article.
CREATE TABLE IF NOT EXISTS refs (
    id             INTEGER PRIMARY KEY,
    citing_work_id INTEGER NOT NULL REFERENCES works(id) ON DELETE CASCADE,
    ref_id         TEXT NOT NULL,            -- id in the source file
    ord            INTEGER NOT NULL,
    label          TEXT,
    raw            TEXT NOT NULL DEFAULT '',
    title          TEXT,
    authors        TEXT NOT NULL DEFAULT '[]',
    source         TEXT,
    year           INTEGER,
    volume         TEXT,
    pages          TEXT,
    doi            TEXT,
    pmid           TEXT,
    pmcid          TEXT,
    cited_work_id  INTEGER REFERENCES works(id),
    match_method   TEXT,   -- doi | pmid | pmcid | fuzzy | identity (no match: own stable key)
    match_score    REAL,
    UNIQUE (citing_work_id, ref_id)
);
CREATE INDEX IF NOT EXISTS refs_cited ON refs(cited_work_id);

-- One row per (citing sentence, cited reference). cited_work_id and the citing_* columns are
-- denormalised so that a report's tallies and facets read one table.
CREATE TABLE IF NOT EXISTS statements (
    id               INTEGER PRIMARY KEY,
    citing_work_id   INTEGER NOT NULL REFERENCES works(id) ON DELETE CASCADE,
    ref_row_id       INTEGER NOT NULL REFERENCES refs(id) ON DELETE CASCADE,
    cited_work_id    INTEGER REFERENCES works(id),
    ref_id           TEXT NOT NULL,
    paragraph        INTEGER NOT NULL,
    sentence         INTEGER NOT NULL,
    section_title    TEXT,
    section_type     TEXT NOT NULL,
    text             TEXT NOT NULL,
    before           TEXT NOT NULL DEFAULT '',
    after            TEXT NOT NULL DEFAULT '',
    callouts         TEXT NOT NULL,           -- [[start, end], ...] of this reference's callouts
    other_callouts   TEXT NOT NULL DEFAULT '[]',
    label            TEXT,
    confidence       REAL,
    model_version    TEXT,
    self_citation    INTEGER NOT NULL DEFAULT 0,
    citing_year      INTEGER,
    citing_type      TEXT,
    citing_journal   TEXT,
    UNIQUE (citing_work_id, paragraph, sentence, ref_row_id)
);
CREATE INDEX IF NOT EXISTS statements_cited ON statements(cited_work_id, label);
-- Deleting or repointing a reference finds its statements through this index (foreign-key
-- checks on refs would otherwise scan every statement once per deleted reference).
CREATE INDEX IF NOT EXISTS statements_ref ON statements(ref_row_id);

CREATE VIRTUAL TABLE IF NOT EXISTS statements_fts USING fts5(
    text, before, after,
    content='statements', content_rowid='id',
    tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS statements_ai AFTER INSERT ON statements BEGIN
    INSERT INTO statements_fts(rowid, text, before, after)
    VALUES (new.id, new.text, new.before, new.after);
END;
CREATE TRIGGER IF NOT EXISTS statements_ad AFTER DELETE ON statements BEGIN
    INSERT INTO statements_fts(statements_fts, rowid, text, before, after)
    VALUES ('delete', old.id, old.text, old.before, old.after);
END;

-- Email alerts: a reader subscribed to new statements about one DOI.
CREATE TABLE IF NOT EXISTS alerts (
    id         INTEGER PRIMARY KEY,
    email      TEXT NOT NULL,
    doi        TEXT NOT NULL,
    confirmed  INTEGER NOT NULL DEFAULT 0,
    token      TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    last_sent  TEXT,
    last_statement_id INTEGER NOT NULL DEFAULT 0,
    UNIQUE (email, doi)
);
