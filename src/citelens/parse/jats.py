"""JATS article XML (PMC, eLife, PLOS, BMC, JOSE ...) -> a Document.

Reads the article's metadata, its paragraphs (body, captions, table rows that cite, footnotes,
abstract, appendices) with every bibliographic callout as an offset span, and its reference
list. Whitespace is collapsed while the text is built, so callout offsets are exact.
"""

from __future__ import annotations

import html.entities
import re
from collections.abc import Iterable, Iterator

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
from citelens.sections import section_type, section_type_of_path

XLINK_HREF = "{http://www.w3.org/1999/xlink}href"

CITATION_TAGS = frozenset({"element-citation", "mixed-citation", "nlm-citation", "citation"})
# Elements that sit inside a <p> in the XML but are separate blocks on the page: their text
# must not run into the paragraph's sentences.
DEFERRED_IN_P = frozenset(
    {
        "fig",
        "fig-group",
        "table-wrap",
        "table-wrap-group",
        "boxed-text",
        "fn",
        "supplementary-material",
        "media",
        "graphic",
        "chem-struct-wrap",
        "code",
        "preformat",
        "array",
    }
)
# Inline children whose content is a separate line of text: put a space around them.
SPACED_IN_P = frozenset({"list", "list-item", "p", "def-list", "def-item", "term", "def"})
SKIPPED = frozenset({"ref-list", "object-id", "alt-text", "long-desc", "tex-math", "label"})
PUBLICATION_DATE_TYPES = ("epub", "ppub", "collection", "pub", "epub-ppub", "ecorrected")
NOTICE_TYPES = frozenset(
    {
        "retracted-article",
        "retraction-forward",
        "corrected-article",
        "correction-forward",
        "expression-of-concern",
        "object-of-concern",
        "concern-forward",
        "update",
        "addendum",
    }
)
# A range written as two callouts: only a dash (and the brackets around each number) between.
# Publishers write a range with any dash: hyphen, en and em dash, Wiley's U+2010 hyphen, the
# figure dash, and ACS's minus sign (U+2212).
DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2212"
RANGE_GAP = re.compile(rf"\s*[\])]?\s*[{DASHES}]\s*[\[(]?\s*")
# One callout printing numbers and ranges ("3–7", "[1-3,5]"): each range in it is expanded.
NUMBER_LIST = re.compile(rf"[\[(]?\s*\d+(?:\s*[{DASHES},;]\s*\d+)*\s*[\])]?")
RANGE_PIECE = re.compile(rf"(\d+)\s*[{DASHES}]\s*(\d+)")
LABEL_NUMBER = re.compile(r"\W*(\d+)\W*")
NUMBER_CALLOUT = re.compile(r"[\[(]?\s*\d+\s*[\])]?")
YEAR = re.compile(r"(1[5-9]\d\d|20\d\d|21\d\d)")
# A year in a printed reference: four digits on their own, the one in brackets first; links
# and DOIs are no place for it, and pages ("6, 2147-2160") rarely pass as a year this late.
YEAR_IN_TEXT = re.compile(r"(?<![\w/.-])(1[6-9]\d\d|20\d\d)(?![\d/])")
BRACKETED_YEAR = re.compile(r"\((1[6-9]\d\d|20\d\d)[a-z]?\)")
LINK_IN_TEXT = re.compile(r"(?:https?://|doi:\s*|10\.\d{4,9}/)\S*", re.IGNORECASE)
# A range of this many references or more is a typo or a page range, not a citation of each.
MAX_RANGE = 20
# xref types that some publishers give a citation instead of "bibr" (or none at all): such an
# xref is a callout when its rid names a reference. Figures and tables use their own types.
LOOSE_XREF_TYPES = frozenset({None, "", "bib", "ref", "citation", "bibref", "other"})
MATHML = "http://www.w3.org/1998/Math/MathML"

# Elements that follow the authors in a citation without a person-group.
AFTER_AUTHORS = frozenset(
    {"article-title", "chapter-title", "data-title", "part-title", "source", "year", "date"}
)
SectionPath = tuple[tuple[str | None, str | None], ...]
SECTION_TAGS = frozenset({"sec", "app", "ack", "glossary"})


def parse_jats(data: bytes) -> Document:
    """Parse one JATS article; raise ParseError when the bytes are not a usable article."""
    root = load_xml(data)
    article = _article_element(root)
    if article.tag[0] == "{":
        _drop_jats_namespace(article)
    bibliography, ids_of_ref, aliases = _bibliography(article)
    builder = _DocumentBuilder(bibliography, ids_of_ref, aliases)
    front = article.find("front")
    meta = _metadata(front) if front is not None else WorkMeta()
    meta.publication_type = article.get("article-type") or meta.publication_type
    article_meta = front.find("article-meta") if front is not None else None
    if article_meta is not None:
        for abstract in article_meta.iter("abstract"):
            title = _plain_text(abstract.find("title")) or "Abstract"
            builder.blocks(abstract, ((title, "abstract"),), "abstract")
    body = article.find("body")
    if body is not None:
        builder.blocks(body, (), "body", _untitled_introduction(body))
    back = article.find("back")
    if back is not None:
        builder.blocks(back, (), "body")
    floats = article.find("floats-group")  # figures and tables kept apart from the body
    if floats is not None:
        builder.blocks(floats, (), "body")
    return Document(
        meta=meta,
        paragraphs=builder.paragraphs,
        bibliography=bibliography,
        source_format="jats",
    )


def _untitled_introduction(body: etree._Element) -> SectionPath | None:
    """The section path for paragraphs that open a body before its first section.

    Nature, BJC, Lancet and many letters print the introduction without a heading: text
    ahead of titled sections that include no introduction of their own is one.
    """
    first = body[0] if len(body) else None
    if first is None or first.tag == "sec":
        return None
    titled = False
    for sec in body.iterfind("sec"):
        title = _plain_text(sec.find("title")) or None
        if section_type(title, sec.get("sec-type")) is SectionType.INTRODUCTION:
            return None
        titled = titled or title is not None
    return ((None, "intro"),) if titled else None


def _article_element(root: etree._Element) -> etree._Element:
    tag = _local(root.tag)
    if tag == "article":
        return root
    # PMC's OAI and bulk files wrap articles in <pmc-articleset>; take the first.
    if tag in {"pmc-articleset", "articles", "OAI-PMH", "record", "metadata"}:
        for element in root.iter():
            if isinstance(element.tag, str) and _local(element.tag) == "article":
                return element
    raise ParseError(f"not a JATS article: the root element is <{tag}>, expected <article>")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if "}" in tag else tag


def _drop_jats_namespace(article: etree._Element) -> None:
    """Plain JATS names for an article written in a namespace (OJS, Crossref-style "jats:").

    JATS has no namespace of its own, but some exports put every element in one; the rest of
    the parser reads plain names. MathML keeps its namespace: it is another vocabulary.
    """
    for element in article.iter():
        tag = element.tag
        if isinstance(tag, str) and tag[0] == "{" and not tag.startswith("{" + MATHML):
            element.tag = tag.split("}", 1)[1]


# ---------------------------------------------------------------------------------- metadata


def _metadata(front: etree._Element) -> WorkMeta:
    meta = WorkMeta()
    journal_meta = front.find("journal-meta")
    if journal_meta is not None:
        meta.journal = _plain_text(next(journal_meta.iter("journal-title"), None)) or None
    article_meta = front.find("article-meta")
    if article_meta is None:
        return meta
    for article_id in article_meta.findall("article-id"):
        kind = (article_id.get("pub-id-type") or "").lower()
        value = _plain_text(article_id)
        if kind == "doi" and meta.doi is None:
            meta.doi = normalise_doi(value)
        elif kind in {"pmid", "pubmed"} and meta.pmid is None:
            meta.pmid = normalise_pmid(value)
        elif kind in {"pmc", "pmcid", "pmc-uid"} and meta.pmcid is None:
            meta.pmcid = normalise_pmcid(value)
    title_group = article_meta.find("title-group")
    if title_group is not None:
        meta.title = _plain_text(title_group.find("article-title")) or None
    meta.year = _publication_year(article_meta)
    meta.authors = _contributors(article_meta)
    meta.notices = _notices(article_meta)
    return meta


def _publication_year(article_meta: etree._Element) -> int | None:
    years: dict[str, int] = {}
    fallback: int | None = None
    for pub_date in article_meta.findall("pub-date"):
        year = _year(_plain_text(pub_date.find("year")) or pub_date.get("iso-8601-date"))
        if year is None:
            continue
        kind = pub_date.get("pub-type") or pub_date.get("date-type") or ""
        if pub_date.get("publication-format") == "electronic" and not kind:
            kind = "epub"
        years.setdefault(kind, year)
        fallback = fallback or year
    for kind in PUBLICATION_DATE_TYPES:
        if kind in years:
            return years[kind]
    return fallback


def _contributors(article_meta: etree._Element) -> list[Author]:
    authors: list[Author] = []
    for group in article_meta.findall("contrib-group"):
        for contrib in group.findall("contrib"):
            if contrib.get("contrib-type", "author") != "author":
                continue
            orcid = None
            for contrib_id in contrib.findall("contrib-id"):
                if (contrib_id.get("contrib-id-type") or "").lower() == "orcid" or (
                    "orcid.org" in _plain_text(contrib_id)
                ):
                    orcid = normalise_orcid(_plain_text(contrib_id))
            if orcid is None:
                for uri in contrib.findall("uri"):
                    if "orcid" in (uri.get(XLINK_HREF) or "") + _plain_text(uri):
                        orcid = normalise_orcid(uri.get(XLINK_HREF) or _plain_text(uri))
            author = _person(contrib, orcid)
            if author is not None:
                authors.append(author)
    return authors


def _person(element: etree._Element, orcid: str | None = None) -> Author | None:
    """An Author from a contrib or a reference's name / string-name / collab element."""
    tag = element.tag
    if tag == "collab":
        collab = _plain_text(element)
        return Author(family=collab, orcid=orcid) if collab else None
    name = element if tag in {"name", "string-name"} else None
    if name is None:
        name = element.find("name")
        if name is None:
            name = element.find("string-name")
    if name is not None:
        family = given = ""
        for part in name:
            if part.tag == "surname":
                family = _plain_text(part)
            elif part.tag == "given-names":
                given = _plain_text(part)
        if not family and not given:
            family = _plain_text(name)
        if family or given:
            return Author(family=family or given, given=given if family else "", orcid=orcid)
    collab_element = element.find("collab")
    if collab_element is not None and _plain_text(collab_element):
        return Author(family=_plain_text(collab_element), orcid=orcid)
    return None


def _notices(article_meta: etree._Element) -> list[str]:
    notices: list[str] = []
    for related in article_meta.iter("related-article"):
        kind = (related.get("related-article-type") or "").lower()
        if kind in NOTICE_TYPES:
            target = normalise_doi(related.get(XLINK_HREF)) or related.get(XLINK_HREF) or ""
            notices.append(f"{kind} {target}".strip())
    return notices


# ------------------------------------------------------------------------------ bibliography


def _bibliography(
    article: etree._Element,
) -> tuple[list[BibEntry], dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """Bib entries in list order; for every ref/@id the entry ids it stands for; and aliases.

    A <ref> holding several citations becomes several entries ("b12", "b12-2", ...): a
    callout to that ref cites them all. Aliases are the ids of the parts of a ref (a citation
    element, a ref nested in a ref) that some publishers point callouts at instead.
    """
    entries: list[BibEntry] = []
    ids_of_ref: dict[str, tuple[str, ...]] = {}
    aliases: dict[str, tuple[str, ...]] = {}
    # The reference list lives in <back>, but a few publishers put it at the end of <body>.
    containers = [c for c in (article.find("back"), article.find("body")) if c is not None]
    refs = [
        ref
        for container in containers
        for ref_list in container.iter("ref-list")
        for ref in ref_list.findall("ref")
    ]
    taken = {ref.get("id") for ref in refs if ref.get("id")}
    for position, ref in enumerate(refs):
        ref_id = ref.get("id")
        if not ref_id:
            ref_id = f"ref-{position}"
            while ref_id in taken:
                ref_id += "x"
            taken.add(ref_id)
        label = _plain_text(ref.find("label")) or None
        citations = _one_work_in_two_renderings(list(_citations(ref)))
        ids: list[str] = []
        for k, (citation, alternatives, part_ids) in enumerate(citations or [(ref, [], ())]):
            entry_id = ref_id if k == 0 else f"{ref_id}-{k + 1}"
            entry = _bib_entry(citation, alternatives, entry_id, len(entries), label)
            entries.append(entry)
            ids.append(entry_id)
            for part_id in part_ids:
                if part_id and part_id not in taken:
                    aliases.setdefault(part_id, (entry_id,))
        if len(citations) == 1 and entries[-1].doi is None:
            entries[-1].doi = _doi_beside(ref, citations[0][0])
        if ref_id in ids_of_ref:
            continue  # a duplicate id: the first ref with it keeps it, as links resolve
        ids_of_ref[ref_id] = tuple(ids)
    return entries, ids_of_ref, aliases


def _one_work_in_two_renderings(
    citations: list[tuple[etree._Element, list[etree._Element], tuple[str | None, ...]]],
) -> list[tuple[etree._Element, list[etree._Element], tuple[str | None, ...]]]:
    """A mixed and an element citation side by side in one ref are one work, printed and tagged.

    SciELO writes every reference so, without citation-alternatives; several works under one
    number (APS) repeat the same citation element instead. The tagged one leads: its fields
    are parsed; the printed one stays as the raw text.
    """
    if len(citations) != 2 or citations[0][1] or citations[1][1]:
        return citations
    (first, _, first_ids), (second, _, second_ids) = citations
    if {first.tag, second.tag} != {"mixed-citation", "element-citation"}:
        return citations
    tagged, printed = (first, second) if first.tag == "element-citation" else (second, first)
    return [(tagged, [printed], (*first_ids, *second_ids))]


def _doi_beside(ref: etree._Element, citation: etree._Element) -> str | None:
    """A DOI printed in the ref next to its citation element (in a <note> or <comment>)."""
    for child in ref:
        if child is citation or not isinstance(child.tag, str) or child.tag == "label":
            continue
        for link in child.iter("ext-link", "uri", "pub-id"):
            doi = normalise_doi(link.get(XLINK_HREF)) or normalise_doi(_plain_text(link))
            if doi:
                return doi
        text = "".join(child.itertext())
        if "10." in text:
            found = find_dois(text)
            if found:
                return found[0]
    return None


def _citations(
    ref: etree._Element,
) -> Iterator[tuple[etree._Element, list[etree._Element], tuple[str | None, ...]]]:
    """Each citation of a ref, with the other renderings of it (citation-alternatives), and
    the ids its parts carry."""
    for child in ref:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        if tag in CITATION_TAGS:
            yield child, [], (child.get("id"),)
        elif tag == "citation-alternatives":
            renderings = [c for c in child if isinstance(c.tag, str) and c.tag in CITATION_TAGS]
            if renderings:
                ids = (child.get("id"), *(r.get("id") for r in renderings))
                yield renderings[0], renderings[1:], ids
        elif tag == "ref":  # a ref nested in a ref: works grouped under one number
            inner = list(_citations(child))
            for citation, alternatives, ids in inner or [(child, [], ())]:
                yield citation, alternatives, (child.get("id"), *ids)


def _bib_entry(
    citation: etree._Element,
    alternatives: list[etree._Element],
    ref_id: str,
    order: int,
    label: str | None,
) -> BibEntry:
    publication_type = citation.get("publication-type") or citation.get("citation-type")
    # One pass over the children instead of a find() per field: references are most of the
    # parsing time of a typical article.
    fields: dict[str, etree._Element] = {}
    for child in citation:
        tag = child.tag
        if isinstance(tag, str) and tag not in fields:
            fields[tag] = child
    authors = _reference_authors(citation)
    title = ""
    for tag in ("article-title", "chapter-title", "data-title", "part-title"):
        if tag in fields:
            title = _plain_text(fields[tag])
            if title:
                break
    source = _plain_text(fields.get("source")) or None
    if not title and publication_type not in {"journal", "article-journal", None}:
        title = source or ""
    year = _year(_plain_text(fields.get("year")) or _plain_text(fields.get("date")))
    pages = _pages(fields)
    printed = next((a for a in alternatives if a.tag == "mixed-citation"), None)
    if citation.tag == "mixed-citation" or printed is None:
        printed = citation
    raw = _raw_reference(printed)
    doi, pmid, pmcid = _reference_identifiers([citation, *alternatives], raw)
    if year is None and raw:
        year = _year_in_text(raw)
    return BibEntry(
        ref_id=ref_id,
        order=order,
        label=label,
        authors=authors,
        title=title or None,
        source=source,
        year=year,
        volume=_plain_text(fields.get("volume")) or None,
        pages=pages,
        doi=doi,
        pmid=pmid,
        pmcid=pmcid,
        publication_type=publication_type,
        raw=raw,
    )


def _reference_authors(citation: etree._Element) -> list[Author]:
    groups = citation.findall("person-group")
    authors_group = [g for g in groups if g.get("person-group-type", "author") == "author"]
    containers = authors_group or ([] if groups else [citation])
    authors: list[Author] = []
    for container in containers:
        for child in container:
            tag = child.tag
            if isinstance(tag, str) and tag in {"name", "string-name", "collab"}:
                author = _person(child)
                if author is not None:
                    authors.append(author)
            elif container is citation and authors and tag in AFTER_AUTHORS:
                # Names straight in the citation: the authors lead, and a name after the
                # title ("In: Editor E, editor.") is an editor's.
                break
    return authors


def _pages(fields: dict[str, etree._Element]) -> str | None:
    first = _plain_text(fields.get("fpage"))
    last = _plain_text(fields.get("lpage"))
    if first:
        return f"{first}-{last}" if last and last != first else first
    return _plain_text(fields.get("elocation-id")) or _plain_text(fields.get("page-range")) or None


def _reference_identifiers(
    renderings: list[etree._Element], raw: str
) -> tuple[str | None, str | None, str | None]:
    """DOI, PMID and PMCID of a reference, wherever the publisher hid them.

    Order of trust: tagged pub-ids, then links (ext-link / uri hrefs to a DOI resolver), then
    "doi:" or "PMID:" written in the text (comments, mixed citations).
    """
    doi = pmid = pmcid = None
    for rendering in renderings:
        for pub_id in rendering.iter("pub-id", "object-id"):
            kind = (pub_id.get("pub-id-type") or "").lower()
            # A pub-id may hold its value only as a link (<pub-id xlink:href="..."/>).
            value = _plain_text(pub_id) or pub_id.get(XLINK_HREF) or ""
            if kind == "doi":
                doi = doi or normalise_doi(value)
            elif kind in {"pmid", "pubmed"}:
                pmid = pmid or normalise_pmid(value)
            elif kind in {"pmc", "pmcid", "pmc-uid"}:
                pmcid = pmcid or normalise_pmcid(value)
    if doi is None:
        for rendering in renderings:
            for link in rendering.iter("ext-link", "uri", "self-uri"):
                for candidate in (link.get(XLINK_HREF), _plain_text(link)):
                    if candidate and "10." in candidate:
                        found = find_dois(candidate)
                        if found:
                            doi = found[0]
                            break
                if doi:
                    break
    if doi is None or pmid is None or pmcid is None:
        text = raw
        if len(renderings) > 1:
            text = " ".join([raw, *(_raw_reference(r) for r in renderings[1:])])
        if doi is None and "10." in text:
            found = find_dois(text)
            doi = found[0] if found else None
        if pmid is None and ("pmid" in text.lower() or "PubMed" in text):
            found = find_pmids(text)
            pmid = found[0] if found else None
        if pmcid is None and "PMC" in text:
            found = find_pmcids(text)
            pmcid = found[0] if found else None
    return doi, pmid, pmcid


def _raw_reference(citation: etree._Element) -> str:
    # Mixed citations (and NLM 2's <citation> written the same way) carry their own
    # punctuation and spaces; element citations do not, so their parts are joined with spaces.
    if citation.tag == "mixed-citation" or (
        citation.tag == "citation" and _is_mixed_content(citation)
    ):
        return " ".join("".join(citation.itertext()).split())
    return " ".join(" ".join(citation.itertext()).split())


# -------------------------------------------------------------------------------- paragraphs


class _DocumentBuilder:
    """Walks block structure (sections, paragraphs, captions, tables) into Paragraphs."""

    def __init__(
        self,
        bibliography: list[BibEntry],
        ids_of_ref: dict[str, tuple[str, ...]],
        aliases: dict[str, tuple[str, ...]],
    ):
        self.paragraphs: list[Paragraph] = []
        self.ranges = _RangeExpander(bibliography, ids_of_ref)
        # Ranges count in list order; links may also name the parts of a ref.
        self.ids_of_ref = {**aliases, **ids_of_ref} if aliases else ids_of_ref
        self.folded: dict[str, str] | None = None  # ids by case-folded spelling, when needed

    def blocks(
        self,
        element: etree._Element,
        path: SectionPath,
        kind: str,
        lead: SectionPath | None = None,
    ) -> None:
        """The blocks under `element`; those before its first section sit at `lead` if given."""
        for child in element:
            tag = child.tag
            if not isinstance(tag, str):
                continue
            # Figures and tables float: where the XML puts them says nothing of their section.
            where = path if lead is None or tag in DEFERRED_IN_P else lead
            if tag in SECTION_TAGS:
                lead = None
                title_element = child.find("title")
                title = _plain_text(title_element) or None
                inner = (*path, (title, child.get("sec-type")))
                if title_element is not None and self.cites(title_element):
                    # A heading such as "Comparison with Ren et al. (2012)" cites too.
                    self.paragraph(title_element, inner, "heading")
                self.blocks(child, inner, kind)
            elif tag == "p":
                self.paragraph(child, where, kind)
            elif tag == "title":
                if element.tag == "caption":
                    self.paragraph(child, where, kind)
                elif element.tag not in SECTION_TAGS and self.cites(child):
                    self.paragraph(child, where, "heading")  # a box or list title that cites
            elif tag == "caption":
                self.blocks(child, where, "caption")
            elif tag in {"fn", "table-wrap-foot", "fn-group"}:
                self.blocks_of(child, where, "footnote")
            elif tag == "xref":
                if _is_citation(child, self.ids_of_ref):
                    # A callout outside any paragraph (between blocks): a paragraph of its own.
                    text = _ParagraphText(self.ids_of_ref)
                    text.callout(child)
                    self.add(text, where, kind)
            elif tag == "table":
                self.table(child, where)
            elif tag in SKIPPED or tag in {"disp-formula", "ref"}:
                continue
            elif tag in {"attrib", "license-p"}:
                self.paragraph(child, where, "caption")  # figure credits cite their source
            elif _is_mixed_content(child):
                self.paragraph(child, where, kind)
            else:
                self.blocks(child, where, kind)

    def known_id(self, rid: str) -> str:
        """The ref id a link means when it spells it in another case ("b12" for "B12")."""
        if rid in self.ids_of_ref:
            return rid
        if self.folded is None:
            self.folded = {ref_id.casefold(): ref_id for ref_id in self.ids_of_ref}
        return self.folded.get(rid.casefold(), rid)

    def cites(self, element: etree._Element) -> bool:
        return any(_is_citation(x, self.ids_of_ref) for x in element.iter("xref"))

    def paragraph(self, element: etree._Element, path: SectionPath, kind: str) -> None:
        text = _ParagraphText(self.ids_of_ref)
        text.inline(element)
        self.add(text, path, kind)
        for deferred in text.deferred:
            self.blocks_of(deferred, path, kind)

    def blocks_of(self, element: etree._Element, path: SectionPath, kind: str) -> None:
        """One deferred element (a figure inside a paragraph, say) as blocks of its own.

        One that holds running text and a callout itself (a footnote without <p>) is one
        paragraph, so that its callouts stay inline.
        """
        if element.tag == "fn":
            kind = "footnote"
        if _is_mixed_content(element) and self.cites(element):
            self.paragraph(element, path, kind)
        else:
            self.blocks(element, path, kind)

    def table(self, table: etree._Element, path: SectionPath) -> None:
        # A row is one paragraph, cells separated by " | ", and only rows that cite are
        # kept: other rows hold data, not statements, and would cost time downstream.
        for row in table.iter("tr"):
            if not self.cites(row):
                continue
            text = _ParagraphText(self.ids_of_ref)
            for k, cell in enumerate(c for c in row if c.tag in {"td", "th"}):
                if k:
                    text.add(" | ")
                text.inline(cell)
            self.add(text, path, "table")
            for deferred in text.deferred:
                self.blocks_of(deferred, path, "table")

    def add(self, text: _ParagraphText, path: SectionPath, kind: str) -> None:
        value, raw_callouts = text.value()
        if not value:
            return
        callouts = self.callouts(raw_callouts, value)
        title = next((t for t, _ in reversed(path) if t), None)
        self.paragraphs.append(
            Paragraph(
                text=value,
                callouts=callouts,
                section_title=title,
                section_type=section_type_of_path(path) if path else SectionType.OTHER,
                kind=kind,
            )
        )

    def callouts(self, raw: list[tuple[int, int, tuple[str, ...]]], value: str) -> list[Callout]:
        if any(rid not in self.ids_of_ref for _, _, rids in raw for rid in rids):
            raw = [(start, end, tuple(map(self.known_id, rids))) for start, end, rids in raw]
        ref_ids: list[list[str]] = []
        for _, _, rids in raw:
            ids: list[str] = []
            for rid in rids:
                for entry_id in self.ids_of_ref.get(rid, ()):
                    if entry_id not in ids:
                        ids.append(entry_id)
            ref_ids.append(ids)
        for k, (start, end, rids) in enumerate(raw):
            surface = value[start:end]
            if rids and any(dash in surface for dash in DASHES) and NUMBER_LIST.fullmatch(surface):
                _extend(ref_ids[k], self.ranges.in_ranges(rids, surface), self.ids_of_ref)
            if k + 1 < len(raw):
                next_start, next_end, next_rids = raw[k + 1]
                # Author-year callouts joined by a dash are no range: both ends must be numbers.
                if (
                    rids
                    and next_rids
                    and next_start > end
                    and RANGE_GAP.fullmatch(value, end, next_start)
                    and NUMBER_CALLOUT.fullmatch(surface)
                    and NUMBER_CALLOUT.fullmatch(value, next_start, next_end)
                ):
                    printed = (int(_digits(surface)), int(_digits(value[next_start:next_end])))
                    between = self.ranges.between(rids[-1], next_rids[0], printed)
                    _extend(ref_ids[k], between, self.ids_of_ref)
        return [
            Callout(start=start, end=end, surface=value[start:end], ref_ids=tuple(ids))
            for (start, end, _), ids in zip(raw, ref_ids, strict=True)
        ]


def _extend(ids: list[str], refs: Iterable[str], ids_of_ref: dict[str, tuple[str, ...]]) -> None:
    for ref in refs:
        for entry_id in ids_of_ref.get(ref, ()):
            if entry_id not in ids:
                ids.append(entry_id)


class _RangeExpander:
    """The references a range callout ("3–7") covers, found by printed labels.

    Never by id arithmetic: ids such as "B3" need not follow the numbering. Without labels
    the reference list order stands in for them.
    """

    def __init__(self, bibliography: list[BibEntry], ids_of_ref: dict[str, tuple[str, ...]]):
        label_of = {entry.ref_id: entry.label for entry in bibliography}
        self.list_order = list(ids_of_ref)  # refs in list order (dicts keep insertion order)
        self.position = {ref_id: k for k, ref_id in enumerate(self.list_order)}
        self.number: dict[str, int] = {}
        self.ref_of_number: dict[int, str] = {}
        for ref_id in self.list_order:
            match = LABEL_NUMBER.fullmatch(label_of.get(ref_id) or "")
            if match:
                number = int(match.group(1))
                self.number[ref_id] = number
                self.ref_of_number.setdefault(number, ref_id)
        # Without printed labels a numbered style numbers the list in order; a callout's own
        # numbers are checked against that (in_ranges) before they are trusted.
        self.order_number = self.number or {
            ref_id: k + 1 for k, ref_id in enumerate(self.list_order)
        }
        self.ref_of_order_number = self.ref_of_number or dict(enumerate(self.list_order, start=1))

    def between(self, first: str, last: str, printed: tuple[int, int]) -> list[str]:
        """The references strictly between two callouts "3" and "7" joined by a dash.

        Without labels, list positions stand in for numbers only where they agree with the
        numbers printed: "(Smith, 2010–2012)" names two works, not the ones listed between.
        """
        if first in self.number and last in self.number:
            low, high = self.number[first], self.number[last]
            if not low < high or high - low + 1 >= MAX_RANGE:
                return []
            return [self.ref_of_number[n] for n in range(low + 1, high) if n in self.ref_of_number]
        if first in self.number or last in self.number:
            return []  # labelled and unlabelled ends: no order can be trusted
        if first not in self.position or last not in self.position:
            return []
        low, high = self.position[first], self.position[last]
        if not low < high or high - low + 1 >= MAX_RANGE or printed != (low + 1, high + 1):
            return []
        return self.list_order[low + 1 : high]

    def in_ranges(self, rids: tuple[str, ...], surface: str) -> list[str]:
        """The references inside the ranges of one callout: "3-7" pointing at reference 3 (or
        at 3 and 7) cites 3 to 7; "[1-3,5]" pointing at 1 and 5 cites 1, 2, 3 and 5.

        A range counts only when the callout points at one of its ends, so that a range of
        page or year numbers is never read as references.
        """
        ref_of_number = self.ref_of_order_number
        numbers = {self.order_number.get(rid) for rid in rids}
        found: list[str] = []
        for match in RANGE_PIECE.finditer(surface):
            low, high = int(match.group(1)), int(match.group(2))
            if (low in numbers or high in numbers) and low < high and high - low + 1 < MAX_RANGE:
                found.extend(ref_of_number[n] for n in range(low, high + 1) if n in ref_of_number)
        return found


class _ParagraphText:
    """Builds one paragraph's text with whitespace collapsed, recording callout offsets.

    Text nodes are appended as they are and whitespace is collapsed once at the end, a
    segment at a time between callout edges: far fewer string operations than per node.
    """

    __slots__ = ("callouts", "deferred", "length", "parts", "refs")

    def __init__(self, refs: dict[str, tuple[str, ...]]) -> None:
        self.refs = refs  # ids a callout can point at, for xrefs not typed "bibr"
        self.parts: list[str] = []
        self.length = 0
        self.callouts: list[tuple[int, int, tuple[str, ...]]] = []  # raw offsets until value()
        self.deferred: list[etree._Element] = []

    def add(self, chunk: str | None) -> None:
        if chunk:
            self.parts.append(chunk)
            self.length += len(chunk)

    def inline(self, element: etree._Element) -> None:
        parts = self.parts
        text = element.text
        if text:
            parts.append(text)
            self.length += len(text)
        for child in element:
            tag = child.tag
            if isinstance(tag, str):
                if tag == "xref" and _is_citation(child, self.refs):
                    self.callout(child)
                elif tag in DEFERRED_IN_P:
                    self.deferred.append(child)
                    self.add(" ")
                elif tag in SPACED_IN_P:
                    self.add(" ")
                    self.inline(child)
                    self.add(" ")
                elif tag not in SKIPPED:
                    self.inline(child)
            elif isinstance(child, etree._Entity):
                self.add(_entity_text(child))
            tail = child.tail
            if tail:
                parts.append(tail)
                self.length += len(tail)

    def callout(self, xref: etree._Element) -> None:
        start = self.length
        self.inline(xref)
        self.callouts.append((start, self.length, tuple((xref.get("rid") or "").split())))

    def value(self) -> tuple[str, list[tuple[int, int, tuple[str, ...]]]]:
        """The collapsed text and the callouts' offsets into it (empty callouts dropped)."""
        raw = "".join(self.parts)
        if not self.callouts:
            return " ".join(raw.split()), []
        out: list[str] = []
        length = 0
        pending = False  # whitespace seen and not yet written
        callouts: list[tuple[int, int, tuple[str, ...]]] = []
        cursor = 0
        for raw_start, raw_end, rids in self.callouts:
            for segment, is_callout in (
                (raw[cursor:raw_start], False),
                (raw[raw_start:raw_end], True),
            ):
                if not segment:
                    continue
                words = segment.split()
                if not words:
                    pending = True
                    continue
                if (pending or segment[0].isspace()) and length:
                    out.append(" ")
                    length += 1
                start = length
                joined = " ".join(words)
                out.append(joined)
                length += len(joined)
                pending = segment[-1].isspace()
                if is_callout:
                    callouts.append((start, length, rids))
            # An xref that prints nothing (eLife links datasets so) is no in-text citation.
            cursor = raw_end
        rest = raw[cursor:].split()
        if rest:
            if (pending or raw[cursor].isspace()) and length:
                out.append(" ")
            out.append(" ".join(rest))
        return "".join(out), callouts


def _digits(surface: str) -> str:
    return "".join(ch for ch in surface if ch.isdigit())


def _is_citation(xref: etree._Element, refs: dict[str, tuple[str, ...]]) -> bool:
    """True for an xref that is a bibliographic callout."""
    kind = xref.get("ref-type")
    if kind == "bibr":
        return True
    if kind not in LOOSE_XREF_TYPES:
        return False
    rids = (xref.get("rid") or "").split()
    return bool(rids) and all(rid in refs for rid in rids)


def _is_mixed_content(element: etree._Element) -> bool:
    """True for an element we do not know that holds running text or a callout itself.

    Publishers invent containers (verse lines, speeches, notes); reading any of them that
    carries its own text as a paragraph keeps their callouts.
    """
    if element.text and not element.text.isspace():
        return True
    return any(child.tag == "xref" or not (child.tail or " ").isspace() for child in element)


def _entity_text(entity: etree._Entity) -> str:
    """An undeclared named entity left in the tree (no DTD is loaded): its character."""
    name = entity.name
    codepoint = html.entities.name2codepoint.get(name)
    return chr(codepoint) if codepoint else ""


# ---------------------------------------------------------------------------------- helpers


def _plain_text(element: etree._Element | None) -> str:
    if element is None:
        return ""
    if not len(element):  # a leaf: its own text is all of it
        text = element.text
        return " ".join(text.split()) if text else ""
    return " ".join("".join(element.itertext()).split())


def _year_in_text(raw: str) -> int | None:
    text = LINK_IN_TEXT.sub(" ", raw) if ("10." in raw or "http" in raw) else raw
    match = BRACKETED_YEAR.search(text) or YEAR_IN_TEXT.search(text)
    return int(match.group(1)) if match else None


def _year(value: str | None) -> int | None:
    if not value:
        return None
    match = YEAR.search(value)
    return int(match.group(1)) if match else None
