"""Store backends: turns a path or URL into the Store that serves it.

A plain path or `sqlite:///relative.db` / `sqlite:////absolute.db` opens SQLite; a
`postgresql://` (or `postgres://`) URL opens the server backend, which needs psycopg.
"""

from __future__ import annotations

from citelens.errors import StoreError
from citelens.store.base import ResolveSummary, SavedArticle, Store

__all__ = ["ResolveSummary", "SavedArticle", "Store", "open_store", "require_sqlite"]


def open_store(url_or_path: str) -> Store:
    """The store named by `url_or_path` (SQLAlchemy-style URLs; a bare path is SQLite)."""
    target = url_or_path.strip()
    if not target:
        raise StoreError("no store given: pass a SQLite file path or a sqlite:/// URL")
    scheme, sep, rest = target.partition("://")
    if not sep:
        from citelens.store.sqlite import SqliteStore

        return SqliteStore(target)
    scheme = scheme.lower()
    if scheme == "sqlite":
        if not rest.startswith("/") or rest == "/":
            raise StoreError(
                f"{target}: a SQLite URL is sqlite:///relative.db or sqlite:////abs.db"
            )
        from citelens.store.sqlite import SqliteStore

        return SqliteStore(rest[1:])
    if scheme in {"postgresql", "postgres"} or scheme.startswith("postgresql+"):
        # psycopg is an optional dependency: imported here, only when a server is named.
        try:
            from citelens.store.postgres import PostgresStore
        except ModuleNotFoundError as exc:
            if not (exc.name or "").startswith("psycopg"):
                raise
            raise StoreError(
                "a postgresql:// store needs psycopg 3: pip install 'citelens[postgres]'"
            ) from exc
        return PostgresStore(target)
    raise StoreError(
        f"{target}: unknown store scheme {scheme!r}; use a path, sqlite:/// or postgresql://"
    )


def require_sqlite(url_or_path: str, what: str) -> None:
    """Refuse a server store for the readers that only speak SQLite so far (report, web)."""
    scheme, sep, _ = url_or_path.strip().partition("://")
    if sep and scheme.lower() != "sqlite":
        raise StoreError(
            f"{what} reads SQLite indexes only for now; the PostgreSQL store serves ingest, "
            "resolve, export, stats and reclassify (export to JSON lines to read it elsewhere)"
        )
