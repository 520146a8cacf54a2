"""Records shared by every stage: a parsed Document, its bibliography, and citation Statements.

Parsers turn bytes into a Document; extract turns a Document into Statements; the store keeps
them. Offsets are character offsets into Python strings and are asserted wherever they are made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Label(StrEnum):
    SUPPORTING = "supporting"
    MENTIONING = "mentioning"
    CONTRASTING = "contrasting"


class SectionType(StrEnum):
    INTRODUCTION = "introduction"
    METHODS = "methods"
    RESULTS = "results"
    DISCUSSION = "discussion"
    CONCLUSION = "conclusion"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Author:
    family: str
    given: str = ""
    orcid: str | None = None


@dataclass(slots=True)
class WorkMeta:
    """Bibliographic metadata of one work (the citing article, or what a reference describes)."""

    doi: str | None = None  # normalised: lower case, no resolver prefix
    pmid: str | None = None
    pmcid: str | None = None  # "PMC123456"
    title: str | None = None
    year: int | None = None
    journal: str | None = None
    publication_type: str | None = None  # e.g. research-article, review-article, preprint
    authors: list[Author] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # retraction, correction, ...


@dataclass(slots=True)
class BibEntry:
    """One entry of the citing article's reference list."""

    ref_id: str  # the id in the source file: JATS ref/@id, TEI biblStruct/@xml:id
    order: int  # 0-based position in the reference list
    label: str | None = None  # "12", "[12]", as printed
    authors: list[Author] = field(default_factory=list)
    title: str | None = None
    source: str | None = None  # journal or book title
    year: int | None = None
    volume: str | None = None
    pages: str | None = None
    doi: str | None = None
    pmid: str | None = None
    pmcid: str | None = None
    publication_type: str | None = None
    raw: str = ""  # the reference as printed, whitespace collapsed


@dataclass(frozen=True, slots=True)
class Callout:
    """An in-text citation: characters [start, end) of its paragraph's text, and whom it cites.

    `ref_ids` holds every bib entry the callout points at; a range "[3]-[7]" written as two
    xrefs is one Callout per xref, with the references in between added to the first's ref_ids.
    An empty `ref_ids` is a callout that could not be linked (e.g. a GROBID ref without target).
    """

    start: int
    end: int
    surface: str
    ref_ids: tuple[str, ...]


@dataclass(slots=True)
class Paragraph:
    text: str
    callouts: list[Callout]
    section_title: str | None  # the innermost section title as written
    section_type: SectionType
    # Sentence spans [start, end) into text when the source already segments them (TEI <s>);
    # None lets extract segment the text itself.
    sentences: list[tuple[int, int]] | None = None
    kind: str = "body"  # body, abstract, caption, footnote, table (a citing row), heading


@dataclass(slots=True)
class Document:
    meta: WorkMeta
    paragraphs: list[Paragraph]
    bibliography: list[BibEntry]
    source_format: str  # "jats" | "tei"


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int


@dataclass(slots=True)
class Statement:
    """One citing sentence about one bib entry, with its neighbours.

    `callouts` are the spans in `text` of the callouts that cite this statement's reference;
    `other_callouts` those that cite other references in the same sentence.
    """

    ref_id: str
    text: str
    before: str
    after: str
    callouts: list[Span]
    other_callouts: list[Span]
    section_title: str | None
    section_type: SectionType
    paragraph: int  # index in Document.paragraphs
    sentence: int  # index of the sentence in its paragraph
    label: Label | None = None
    confidence: float | None = None
    model_version: str | None = None
