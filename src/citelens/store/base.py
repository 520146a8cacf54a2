"""The Store interface that every backend (SQLite now, PostgreSQL later) implements."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from citelens.model import Document, Statement


@dataclass(frozen=True, slots=True)
class SavedArticle:
    work_id: int
    key: str  # the citing work's stable identity
    statements: int
    references: int
    replaced: bool  # True when an earlier version of this article was replaced


@dataclass(frozen=True, slots=True)
class ResolveSummary:
    references: int
    resolved: int  # linked to a work by doi, pmid, pmcid or fuzzy match
    by_method: dict[str, int]


class Store(Protocol):
    def save_article(
        self,
        doc: Document,
        statements: Sequence[Statement],
        *,
        source_path: str,
        source_sha256: str,
    ) -> SavedArticle: ...

    def resolve(self) -> ResolveSummary: ...

    def stats(self) -> dict[str, int]: ...

    def reader(self) -> AbstractContextManager[Any]:
        """A read-only DB-API connection that sees committed state while a writer works."""
        ...

    def work_by_doi(self, doi: str) -> dict[str, Any] | None: ...

    def set_labels(self, rows: Iterable[tuple[int, str, float, str]]) -> int: ...

    def iter_statements_for_classify(
        self, *, unlabelled_only: bool = False
    ) -> Iterator[tuple[int, str, str, str, list[tuple[int, int]], str]]:
        """(id, text, before, after, callout spans, section type) of each statement."""
        ...

    def export_statements(self) -> Iterator[dict[str, Any]]: ...

    def close(self) -> None: ...
