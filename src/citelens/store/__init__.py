"""Store backends: turns a path or URL into the Store that serves it.

A plain path or `sqlite:///relative.db` / `sqlite:////absolute.db` opens SQLite; a
`postgresql://` URL will open the server backend once it exists.
"""

from __future__ import annotations

from citelens.errors import StoreError
from citelens.store.base import ResolveSummary, SavedArticle, Store

__all__ = ["ResolveSummary", "SavedArticle", "Store", "open_store"]


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
        raise StoreError(
            f"{target}: the PostgreSQL store is not implemented yet; use a SQLite file path"
        )
    raise StoreError(f"{target}: unknown store scheme {scheme!r}; use a path or sqlite:///")
