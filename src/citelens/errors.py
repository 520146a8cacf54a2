"""Every failure a user can meet, as one class each, with a message that says what to do."""

from __future__ import annotations


class CitelensError(Exception):
    """Base of all citelens errors; the CLI prints str(error) on one line."""


class InputError(CitelensError):
    """A file that cannot be ingested: its path and the problem."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem

    def __reduce__(self) -> tuple[type[InputError], tuple[str, str]]:
        # Failures cross process boundaries (worker pools, Dask): rebuild from both fields.
        return (InputError, (self.path, self.problem))


class ParseError(CitelensError):
    """Bytes that are not a usable article (malformed XML, entities, not an article, empty)."""


class GrobidError(CitelensError):
    """The GROBID server could not be reached or refused the PDF."""


class StoreError(CitelensError):
    """The index cannot be opened, migrated or written."""


class NotFound(CitelensError):
    """A DOI or work that is not in the index."""


class QueryError(CitelensError):
    """A search or filter the user wrote that cannot be run."""


class ModelError(CitelensError):
    """The classifier model cannot be loaded or trained."""
