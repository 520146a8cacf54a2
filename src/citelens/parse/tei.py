"""GROBID TEI XML bytes -> one Document: metadata, body paragraphs with callouts, bibliography.

Handles GROBID 0.5.5 - 0.8.x output: flat body divs, `<ref type="bibr">` callouts with or without
a target, optional `<s>` sentence markup, figure captions, and biblStruct reference lists.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field

from lxml import etree

from citelens.errors import ParseError
from citelens.identifiers import (
    find_dois,
    find_pmcids,
    find_pmids,
    normalise_doi,
    normalise_orcid,
    normalise_pmcid,
    normalise_pmid,
)
from citelens.model import Author, BibEntry, Callout, Document, Paragraph, SectionType, WorkMeta
from citelens.parse.xmlsafe import load_xml
from citelens.sections import section_type

TEI_NS = "http://www.tei-c.org/ns/1.0"
XML_ID = "{http://www.w3.org/XML/1998/namespace}id"

_SPACE = re.compile(r"\s+")
_YEAR = re.compile(r"(1[5-9]\d\d|20\d\d)")
# A numeric callout surface: "[4]", "[4 -6]", "(2, 5-7)", "13,", "14]" (GROBID cuts lists).
_NUMERIC_SURFACE = re.compile(r"^[\[(]?\s*\d+(?:\s*[-–—,;]\s*\d+)*\s*[,;]?\s*[\])]?\s*[,;]?$")
_NAMED_NUMERIC = re.compile(r"[A-Za-z.]\s*(\[\s*\d+(?:\s*[-–—,;]\s*\d+)*\s*\])\s*[,;]?$")
# Headings that end the article's argument; GROBID often leaves them in the body.
_BACK_MATTER = re.compile(
    r"acknowledg|funding|conflicts? of interest|competing interests?|disclosure|abbreviations"
    r"|author(?:s'?)? contributions|data availability|supplementary|references|bibliography",
    re.IGNORECASE,
)
_NUMBER_OR_RANGE = re.compile(r"(\d+)(?:\s*[-–—]\s*(\d+))?")
# Guard against reading "1995-2010" or "[1-500]" as a list of 500 references.
_MAX_RANGE = 50


def parse_tei(data: bytes) -> Document:
    """Parse GROBID TEI bytes into a Document; raise ParseError when they are not usable TEI."""
    root = load_xml(data)
    if etree.QName(root).localname == "teiCorpus":
        documents = [child for child in root if etree.QName(child).localname == "TEI"]
        if len(documents) != 1:
            raise ParseError(
                f"a teiCorpus with {len(documents)} TEI documents: split it into one file each"
            )
        root = documents[0]
    ns = _namespace_of(root)
    if etree.QName(root).localname != "TEI" or ns not in (TEI_NS, ""):
        raise ParseError(
            f"not a GROBID TEI document: root element is <{etree.QName(root).localname}>"
            f" in namespace {ns or 'none'!r}, expected <TEI> in {TEI_NS!r}"
        )
    tei = _Tei(ns)
    header = tei.find(root, "teiHeader")
    text = tei.find(root, "text")
    if header is None and text is None:
        raise ParseError("not a GROBID TEI document: it has neither <teiHeader> nor <text>")

    bibliography = _bibliography(tei, text) if text is not None else []
    paragraphs = _paragraphs(tei, header, text, {entry.ref_id for entry in bibliography})
    _link_numeric_callouts(paragraphs, bibliography)
    _link_author_year_callouts(paragraphs, bibliography)
    meta = _header_meta(tei, header) if header is not None else WorkMeta()
    return Document(
        meta=meta, paragraphs=paragraphs, bibliography=bibliography, source_format="tei"
    )


class _Tei:
    """Tag names in the document's namespace (GROBID always uses TEI's; be lenient if absent)."""

    def __init__(self, ns: str) -> None:
        self.ns = ns

    def tag(self, local: str) -> str:
        return f"{{{self.ns}}}{local}" if self.ns else local

    def path(self, path: str) -> str:
        return "/".join(
            self.tag(part) if part not in (".", "..") and not part.startswith("*") else part
            for part in path.split("/")
        )

    def find(self, el: etree._Element, path: str) -> etree._Element | None:
        return el.find(self.path(path))

    def findall(self, el: etree._Element, path: str) -> list[etree._Element]:
        return el.findall(self.path(path))

    def iter(self, el: etree._Element, local: str) -> Iterator[etree._Element]:
        return el.iter(self.tag(local))

    def is_(self, el: etree._Element, local: str) -> bool:
        return isinstance(el.tag, str) and el.tag == self.tag(local)


def _namespace_of(el: etree._Element) -> str:
    return etree.QName(el).namespace or ""


def _clean(s: str | None) -> str:
    return _SPACE.sub(" ", s or "").strip()


def _text_of(el: etree._Element | None) -> str:
    return _clean("".join(el.itertext())) if el is not None else ""


def _year_of(s: str | None) -> int | None:
    match = _YEAR.search(s or "")
    return int(match.group(1)) if match else None


# --- header -------------------------------------------------------------------------------


def _header_meta(tei: _Tei, header: etree._Element) -> WorkMeta:
    meta = WorkMeta()
    meta.title = _text_of(tei.find(header, "fileDesc/titleStmt/title")) or None
    source = tei.find(header, "fileDesc/sourceDesc/biblStruct")
    if source is not None:
        ids = _idnos(tei, source)
        meta.doi, meta.pmid, meta.pmcid = ids.get("doi"), ids.get("pmid"), ids.get("pmcid")
        analytic = tei.find(source, "analytic")
        meta.authors = _authors(tei, analytic if analytic is not None else source)
        if not meta.title and analytic is not None:
            meta.title = _text_of(tei.find(analytic, "title")) or None
        journal = tei.find(source, "monogr/title[@level='j']")
        meta.journal = _text_of(journal) or None
        meta.year = _date_year(tei, tei.find(source, "monogr/imprint"))
    if meta.year is None:
        meta.year = _date_year(tei, tei.find(header, "fileDesc/publicationStmt"))
    return meta


def _date_year(tei: _Tei, el: etree._Element | None) -> int | None:
    if el is None:
        return None
    for date in tei.findall(el, "date"):
        year = _year_of(date.get("when")) or _year_of(_text_of(date))
        if year is not None:
            return year
    return None


def _idnos(tei: _Tei, el: etree._Element) -> dict[str, str]:
    """DOI, PMID and PMCID from the idno children of a biblStruct (or its analytic/monogr)."""
    found: dict[str, str] = {}
    idnos = (
        tei.findall(el, "idno") + tei.findall(el, "analytic/idno") + tei.findall(el, "monogr/idno")
    )
    for idno in idnos:
        kind = (idno.get("type") or "").lower()
        value = _text_of(idno)
        if not value:
            continue
        if kind == "doi" and "doi" not in found:
            doi = normalise_doi(value)
            if doi:
                found["doi"] = doi
        elif kind == "pmid" and "pmid" not in found:
            pmid = normalise_pmid(value)
            if pmid:
                found["pmid"] = pmid
        elif kind == "pmcid" and "pmcid" not in found:
            pmcid = normalise_pmcid(value)
            if pmcid:
                found["pmcid"] = pmcid
    return found


def _authors(tei: _Tei, el: etree._Element) -> list[Author]:
    authors = []
    for author in tei.findall(el, "author"):
        pers = tei.find(author, "persName")
        if pers is None:
            continue  # GROBID lists bare affiliations as authors without a persName
        family = " ".join(_text_of(s) for s in tei.findall(pers, "surname")).strip()
        given = " ".join(_text_of(f) for f in tei.findall(pers, "forename")).strip()
        if not family and not given:
            continue
        orcid = None
        for idno in tei.findall(author, "idno"):
            if (idno.get("type") or "").upper() == "ORCID":
                orcid = normalise_orcid(_text_of(idno)) or orcid
        authors.append(Author(family=family or given, given=given if family else "", orcid=orcid))
    return authors


# --- bibliography -------------------------------------------------------------------------

_RAW_LABEL = re.compile(r"^\s*\[?(\d{1,4})[\].)]\s")
_RAW_BRACKETED = re.compile(r"\[(\d{1,4})\]")


def _bibliography(tei: _Tei, text: etree._Element) -> list[BibEntry]:
    entries: list[BibEntry] = []
    for bibl in tei.iter(text, "biblStruct"):
        ref_id = bibl.get(XML_ID) or f"b{len(entries)}"
        entries.append(_bib_entry(tei, bibl, ref_id, len(entries)))
    return entries


def _bib_entry(tei: _Tei, bibl: etree._Element, ref_id: str, order: int) -> BibEntry:
    analytic = tei.find(bibl, "analytic")
    monogr = tei.find(bibl, "monogr")
    analytic_title = _text_of(tei.find(analytic, "title")) if analytic is not None else ""
    monogr_title = ""
    if monogr is not None:
        # A journal title says more about the source than a meeting or series title.
        for level in ("j", "m", "s"):
            monogr_title = _text_of(tei.find(monogr, f"title[@level='{level}']"))
            if monogr_title:
                break
        monogr_title = monogr_title or _text_of(tei.find(monogr, "title"))

    authors = _authors(tei, analytic) if analytic is not None else []
    if not authors and monogr is not None:
        authors = _authors(tei, monogr)

    raw = ""
    for note in tei.findall(bibl, "note"):
        if note.get("type") == "raw_reference":
            raw = _text_of(note)
            break

    ids = _idnos(tei, bibl)
    # Without consolidation GROBID leaves printed identifiers in the raw text only.
    for key, find in (("doi", find_dois), ("pmid", find_pmids), ("pmcid", find_pmcids)):
        if key not in ids and raw and (printed := find(raw)):
            ids[key] = printed[0]

    imprint = tei.find(monogr, "imprint") if monogr is not None else None
    volume = pages = None
    year = None
    if imprint is not None:
        year = _date_year(tei, imprint)
        for scope in tei.findall(imprint, "biblScope"):
            unit = scope.get("unit")
            if unit == "volume" and volume is None:
                volume = _text_of(scope) or None
            elif unit in ("page", "pp") and pages is None:
                pages = _pages(scope)

    # The printed number, at the start of the raw text or, when the PDF's columns were
    # interleaved, as the one bracketed number inside it ("... perspectives [7] for drug ...").
    label_match = _RAW_LABEL.match(raw)
    if label_match is None:
        bracketed = _RAW_BRACKETED.findall(raw)
        label_match = _RAW_BRACKETED.search(raw) if len(bracketed) == 1 else None
    title = analytic_title or monogr_title or None
    return BibEntry(
        ref_id=ref_id,
        order=order,
        label=label_match.group(1) if label_match else None,
        authors=authors,
        title=title,
        source=monogr_title if monogr_title and monogr_title != title else None,
        year=year,
        volume=volume,
        pages=pages,
        doi=ids.get("doi"),
        pmid=ids.get("pmid"),
        pmcid=ids.get("pmcid"),
        publication_type="article" if analytic_title and monogr_title else None,
        raw=raw,
    )


def _pages(scope: etree._Element) -> str | None:
    first, last = scope.get("from"), scope.get("to")
    if first and last:
        return f"{first}-{last}"
    return first or _text_of(scope) or None


# --- body ---------------------------------------------------------------------------------


@dataclass
class _ParagraphBuilder:
    """Accumulates one paragraph's text with whitespace collapsed, keeping callout offsets."""

    parts: list[str] = field(default_factory=list)
    length: int = 0
    callouts: list[Callout] = field(default_factory=list)
    sentences: list[tuple[int, int]] = field(default_factory=list)

    def _ends_with_space(self) -> bool:
        return self.length == 0 or self.parts[-1].endswith(" ")

    def add_text(self, s: str | None) -> None:
        if not s:
            return
        s = _SPACE.sub(" ", s)
        if s.startswith(" ") and self._ends_with_space():
            s = s[1:]
        if s:
            self.parts.append(s)
            self.length += len(s)

    def ensure_space(self) -> None:
        if not self._ends_with_space():
            self.add_text(" ")

    def add_callout(self, surface: str, ref_ids: tuple[str, ...]) -> None:
        surface = _clean(surface)
        if not surface:
            return
        start = self.length
        self.add_text(surface)
        self.callouts.append(Callout(start, self.length, surface, ref_ids))

    def text(self) -> str:
        return "".join(self.parts)


def _paragraphs(
    tei: _Tei,
    header: etree._Element | None,
    text: etree._Element | None,
    bib_ids: set[str],
) -> list[Paragraph]:
    paragraphs: list[Paragraph] = []
    if header is not None:
        for abstract in tei.iter(header, "abstract"):
            for p in tei.iter(abstract, "p"):
                _append(paragraphs, tei, p, bib_ids, "Abstract", SectionType.OTHER, "abstract")
    if text is None:
        return paragraphs
    body = tei.find(text, "body")
    back = tei.find(text, "back")
    divs: list[etree._Element] = []
    if body is not None:
        divs.extend(body)
    if back is not None:
        # Appendices can cite; acknowledgements, funding and the reference list are not prose.
        divs.extend(d for d in back if tei.is_(d, "div") and d.get("type") == "annex")

    inherited: SectionType | None = None
    for div in divs:
        if tei.is_(div, "figure"):
            _append_caption(paragraphs, tei, div, bib_ids)
            continue
        if tei.is_(div, "note") and div.get("place") == "foot":
            _append(paragraphs, tei, div, bib_ids, None, SectionType.OTHER, "footnote")
            continue
        if not tei.is_(div, "div"):
            continue
        title = _text_of(tei.find(div, "head")) or None
        kind = section_type(title)
        # GROBID flattens sub-sections into sibling divs ("Methods", then "Study design"):
        # an unrecognised heading continues the last recognised section.
        if title is not None and _BACK_MATTER.search(title):
            inherited = None  # what follows acknowledgements is not the discussion any more
        elif kind is SectionType.OTHER and title is not None and inherited is not None:
            kind = inherited
        elif kind is not SectionType.OTHER:
            inherited = kind
        for child in div.iter():
            if tei.is_(child, "p"):
                _append(paragraphs, tei, child, bib_ids, title, kind, "body")
            elif tei.is_(child, "figure"):
                _append_caption(paragraphs, tei, child, bib_ids)
            elif tei.is_(child, "note") and child.get("place") == "foot":
                _append(paragraphs, tei, child, bib_ids, title, kind, "footnote")
    return paragraphs


def _append_caption(
    paragraphs: list[Paragraph], tei: _Tei, figure: etree._Element, bib_ids: set[str]
) -> None:
    desc = tei.find(figure, "figDesc")
    if desc is not None:
        title = _text_of(tei.find(figure, "head")) or None
        _append(paragraphs, tei, desc, bib_ids, title, SectionType.OTHER, "caption")


def _append(
    paragraphs: list[Paragraph],
    tei: _Tei,
    el: etree._Element,
    bib_ids: set[str],
    title: str | None,
    kind: SectionType,
    paragraph_kind: str,
) -> None:
    builder = _ParagraphBuilder()
    _walk(tei, el, builder, bib_ids)
    text = builder.text()
    stripped = text.rstrip()
    if not stripped:
        return
    # Trailing whitespace only; add_text never lets a paragraph start with a space.
    sentences = [(s, min(e, len(stripped))) for s, e in builder.sentences if s < len(stripped)]
    for callout in builder.callouts:
        if stripped[callout.start : callout.end] != callout.surface:
            raise AssertionError(f"callout offsets drifted: {callout!r}")
    paragraphs.append(
        Paragraph(
            text=stripped,
            callouts=builder.callouts,
            section_title=title,
            section_type=kind,
            sentences=sentences or None,
            kind=paragraph_kind,
        )
    )


def _walk(tei: _Tei, el: etree._Element, builder: _ParagraphBuilder, bib_ids: set[str]) -> None:
    builder.add_text(el.text)
    for child in el:
        if not isinstance(child.tag, str):
            pass  # comments and processing instructions: only their tail is text
        elif tei.is_(child, "ref") and child.get("type") == "bibr":
            targets = tuple(
                t.lstrip("#") for t in (child.get("target") or "").split() if t.lstrip("#")
            )
            # A target GROBID could not fill (or one pointing nowhere) is an unlinked callout.
            builder.add_callout(
                "".join(child.itertext()), tuple(t for t in targets if t in bib_ids)
            )
        elif tei.is_(child, "s"):
            builder.ensure_space()
            start = builder.length
            _walk(tei, child, builder, bib_ids)
            end = builder.length
            if end > start and builder.parts[-1].endswith(" "):
                end -= 1  # add_text collapses whitespace: at most one trailing space
            if end > start:
                builder.sentences.append((start, end))
            builder.ensure_space()
        else:
            _walk(tei, child, builder, bib_ids)
        builder.add_text(child.tail)


# --- numeric callouts GROBID left unlinked ---------------------------------------------------


def _callout_numbers(surface: str) -> list[int] | None:
    """The reference numbers a numeric callout names ("[4 -6]" -> 4, 5, 6), or None.

    A name before a bracketed number ("Campana et al. [13]") counts: the number decides.
    """
    if not _NUMERIC_SURFACE.match(surface):
        named = _NAMED_NUMERIC.search(surface)
        if named is None:
            return None
        surface = named.group(1)
    numbers: list[int] = []
    for match in _NUMBER_OR_RANGE.finditer(surface):
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) else first
        if last < first or last - first > _MAX_RANGE:
            return None
        numbers.extend(range(first, last + 1))
    return numbers or None


def _link_numeric_callouts(paragraphs: list[Paragraph], bibliography: list[BibEntry]) -> None:
    """Give unlinked numeric callouts ("[1]", "[4 -6]") the bib entries their numbers name.

    GROBID 0.5/0.6 leaves many numeric callouts without a target, and when it splits one printed
    reference into two biblStructs the entry order no longer equals the printed number. The
    number -> entry map is learned from the callouts GROBID did link in this document (and from
    labels printed in raw references); other numbers keep the shift of the nearest known number
    below them. A number that cannot be placed stays unlinked. Then numeric callouts GROBID did
    not mark at all are looked for in the text (see _untagged_callouts).
    """
    if not bibliography:
        return
    numbering = _Numbering.learn(paragraphs, bibliography)
    for paragraph in paragraphs:
        for i, callout in enumerate(paragraph.callouts):
            if callout.ref_ids:
                continue
            ref_ids = numbering.ref_ids(_callout_numbers(callout.surface))
            if ref_ids:
                paragraph.callouts[i] = Callout(
                    callout.start, callout.end, callout.surface, ref_ids
                )
    style = _numeric_style(paragraphs)
    if style is None:
        return
    for paragraph in paragraphs:
        found = list(_untagged_callouts(paragraph, style, numbering))
        if found:
            paragraph.callouts = sorted(paragraph.callouts + found, key=lambda c: c.start)


@dataclass
class _Numbering:
    """Printed reference number -> position in GROBID's bibliography, for one document."""

    known: dict[int, int]
    bibliography: list[BibEntry]

    @classmethod
    def learn(cls, paragraphs: list[Paragraph], bibliography: list[BibEntry]) -> _Numbering:
        order_of = {entry.ref_id: entry.order for entry in bibliography}
        known: dict[int, int] = {}
        for entry in bibliography:
            if entry.label is not None:
                known.setdefault(int(entry.label), entry.order)
        conflicting: set[int] = set()
        for paragraph in paragraphs:
            for callout in paragraph.callouts:
                numbers = _callout_numbers(callout.surface)
                if numbers is None or len(numbers) != 1 or len(callout.ref_ids) != 1:
                    continue
                order = order_of[callout.ref_ids[0]]
                if known.get(numbers[0], order) != order:
                    conflicting.add(numbers[0])
                known.setdefault(numbers[0], order)
        for number in conflicting:
            known.pop(number, None)
        if not known and not any(e.label for e in bibliography):
            # No evidence at all: assume the printed list and GROBID's line up one to one.
            known = {n: n - 1 for n in range(1, len(bibliography) + 1)}
        return cls(known, bibliography)

    def order_for(self, number: int) -> int | None:
        known = self.known
        if number in known:
            return known[number]
        below = max((n for n in known if n < number), default=None)
        above = min((n for n in known if n > number), default=None)
        if below is None and above is None:
            return None
        # Split entries only ever push later numbers further down the list, so the shift of
        # the number below holds up to the next known one ("next entry after the last known").
        order = number + (known[below] - below if below is not None else known[above] - above)
        if above is not None and order >= known[above]:
            return None
        return order if 0 <= order < len(self.bibliography) else None

    def ref_ids(self, numbers: list[int] | None) -> tuple[str, ...]:
        """Bib ids for the numbers that can be placed ("[4 -6]" citing 4 and 5 beats nothing)."""
        orders = [o for o in map(self.order_for, numbers or []) if o is not None]
        return tuple(dict.fromkeys(self.bibliography[o].ref_id for o in orders))


_NUMBER_LIST = r"\d{1,3}(?:\s*[-–—,]\s*\d{1,3})*"
_UNTAGGED = {
    "(": re.compile(rf"\(({_NUMBER_LIST})\)(?=[.,;:]|$)"),
    "[": re.compile(rf"\[({_NUMBER_LIST})\](?=[.,;:]|$|\s)"),
}
# Numbers in brackets that are not citations: figure parts, equations, statistics, steps.
_NOT_A_CITATION_BEFORE = re.compile(
    r"(?:fig(?:ure)?s?\.?|tables?|eq(?:uation)?s?\.?|panels?|steps?|n\s*=|p\s*[<=>]|[=<>±×])\s*$",
    re.IGNORECASE,
)


def _numeric_style(paragraphs: list[Paragraph]) -> str | None:
    """ "(" or "[" when the document cites by whole bracketed numbers, else None."""
    opening = [
        c.surface[0]
        for p in paragraphs
        for c in p.callouts
        if c.ref_ids and c.surface[0] in "([" and _callout_numbers(c.surface) is not None
    ]
    linked = sum(1 for p in paragraphs for c in p.callouts if c.ref_ids)
    for style in "([":
        # Most of the callouts GROBID linked must look like this, or "(2)" is likely a list item.
        if opening.count(style) >= 3 and opening.count(style) >= 0.6 * linked:
            return style
    return None


def _untagged_callouts(
    paragraph: Paragraph, style: str, numbering: _Numbering
) -> Iterator[Callout]:
    """Numeric callouts GROBID left as plain text ("for 30 years (1), but ..."), linked.

    Only where the number is followed by punctuation or the paragraph's end (a citation ends
    a clause; "(1) first item" does not), is not a figure, equation or statistic, and names
    entries of the bibliography.
    """
    text = paragraph.text
    taken = [(c.start, c.end) for c in paragraph.callouts]
    for match in _UNTAGGED[style].finditer(text):
        start, end = match.span()
        if any(start < e and s < end for s, e in taken):
            continue
        if start > 0 and text[start - 1].isalnum():
            continue  # f(1), x[2]: mathematics
        if _NOT_A_CITATION_BEFORE.search(text[max(0, start - 12) : start]):
            continue
        numbers = _callout_numbers(match.group(0))
        ref_ids = numbering.ref_ids(numbers)
        if numbers and len(ref_ids) == len(numbers):
            yield Callout(start, end, match.group(0), ref_ids)


# --- author-year callouts GROBID left unlinked -----------------------------------------------

_CALLOUT_YEAR = re.compile(r"\b(1[6-9]\d\d|20\d\d)((?:[a-z](?:\s*,\s*(?=[a-z]\b))?)*)")
_LETTERS = re.compile(r"[^a-z]+")


def _name_key(s: str) -> str:
    """Lower-case ASCII letters only: "O'Mara-Eves" -> "omaraeves", "Řehůřek" -> "rehurek"."""
    ascii_only = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode()
    return _LETTERS.sub("", ascii_only.lower())


def _link_author_year_callouts(paragraphs: list[Paragraph], bibliography: list[BibEntry]) -> None:
    """Give unlinked "(Smith et al., 2003)" callouts the entry whose first author and year match.

    A callout names an entry when the entry's year is printed in it and the first author's
    family name is too (or a name part of at least four letters in it, which survives GROBID
    cutting "O'Mara-Eves" to "Mara-Eves"). Several entries with the same name and year are told
    apart by the printed letter (2018a, 2018b) in list order; otherwise they stay unlinked.
    """
    by_year: dict[int, list[BibEntry]] = {}
    for entry in bibliography:
        if entry.year is not None and entry.authors:
            by_year.setdefault(entry.year, []).append(entry)
    if not by_year:
        return
    for paragraph in paragraphs:
        for i, callout in enumerate(paragraph.callouts):
            if callout.ref_ids:
                continue
            surface_key = _name_key(callout.surface)
            tokens = [t for t in map(_name_key, re.split(r"[\s,;()]+", callout.surface)) if t]
            ref_ids: list[str] = []
            for match in _CALLOUT_YEAR.finditer(callout.surface):
                year = int(match.group(1))
                letters = re.findall(r"[a-z]", match.group(2))
                named = [
                    e
                    for e in by_year.get(year, [])
                    if (family := _name_key(e.authors[0].family))
                    and (family in surface_key or any(len(t) >= 4 and t in family for t in tokens))
                ]
                if len(named) == 1 and len(letters) <= 1:
                    ref_ids.append(named[0].ref_id)
                elif len(named) > 1 and letters:
                    picks = [ord(letter) - ord("a") for letter in letters]
                    if all(p < len(named) for p in picks):
                        ref_ids.extend(named[p].ref_id for p in picks)
            if ref_ids:
                ids = tuple(dict.fromkeys(ref_ids))
                paragraph.callouts[i] = Callout(callout.start, callout.end, callout.surface, ids)
