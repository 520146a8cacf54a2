"""parse_tei on small hand-written TEI: metadata, sentences, callouts, bibliography, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from citelens.errors import ParseError
from citelens.extract import extract
from citelens.model import Author, Document, SectionType
from citelens.parse.tei import parse_tei

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "tei"


@pytest.fixture(scope="module")
def doc() -> Document:
    return parse_tei((FIXTURES / "segmented_0.8.tei.xml").read_bytes())


def _body(doc: Document) -> list:
    return [p for p in doc.paragraphs if p.kind == "body"]


def test_header_metadata(doc: Document) -> None:
    meta = doc.meta
    assert doc.source_format == "tei"
    assert meta.title == "Citation statements in small worlds"
    assert meta.doi == "10.1234/jt.2021.001"
    assert meta.year == 2021
    assert meta.journal == "Journal of Tests"
    # The affiliation-only <author> GROBID emits is not a person.
    assert meta.authors == [
        Author(family="Lovelace", given="Ada M", orcid="0000-0002-1825-0097"),
        Author(family="Turing", given="Alan"),
    ]


def test_sections_keep_heading_and_type(doc: Document) -> None:
    body = _body(doc)
    assert [p.section_title for p in body] == [
        "Introduction",
        "Materials and methods",
        "Sampling",
        "Conflict of interest",
    ]
    # "Sampling" names no part of a paper: as a flattened sub-section it continues methods;
    # back matter does not.
    assert [p.section_type for p in body] == [
        SectionType.INTRODUCTION,
        SectionType.METHODS,
        SectionType.METHODS,
        SectionType.OTHER,
    ]


def test_sentences_from_s_elements(doc: Document) -> None:
    intro = _body(doc)[0]
    assert intro.sentences is not None
    sentences = [intro.text[s:e] for s, e in intro.sentences]
    assert sentences == [
        "Small worlds were described early [1].",
        "Later work [2,3] disagreed (Fig. 1).",
        "Nobody linked this one [9].",
    ]
    # Adjacent <s> elements without whitespace between them still read as separate words.
    assert "[1]. Later" in intro.text


def test_callouts_offsets_and_targets(doc: Document) -> None:
    for paragraph in doc.paragraphs:
        for callout in paragraph.callouts:
            assert paragraph.text[callout.start : callout.end] == callout.surface
    intro = _body(doc)[0]
    assert [(c.surface, c.ref_ids) for c in intro.callouts] == [
        ("[1]", ("b0",)),
        ("[2,", ("b1",)),
        ("3]", ("b2",)),
        ("[9]", ()),  # no target and no bib entry 9: kept, unlinked
    ]


def test_figure_table_formula_refs_are_plain_text(doc: Document) -> None:
    methods = _body(doc)[1]
    assert methods.text == "We used the method of Smith [2]; see Table 1 and (1)."
    assert [c.surface for c in methods.callouts] == ["[2]"]
    assert [methods.text[s:e] for s, e in methods.sentences or []] == [
        "We used the method of Smith [2];",
        "see Table 1 and (1).",
    ]


def test_abstract_caption_and_footnote_paragraphs(doc: Document) -> None:
    kinds = [p.kind for p in doc.paragraphs]
    assert kinds.count("abstract") == 1
    caption = next(p for p in doc.paragraphs if p.kind == "caption")
    assert caption.text == "A small world, redrawn from [3]."
    assert caption.section_title == "Figure 1 ."
    assert [c.ref_ids for c in caption.callouts] == [("b2",)]
    footnote = next(p for p in doc.paragraphs if p.kind == "footnote")
    assert footnote.text == "A footnote without citations."
    # Acknowledgements are not statements about cited work.
    assert not any("We thank" in p.text for p in doc.paragraphs)


def test_bibliography(doc: Document) -> None:
    bib = doc.bibliography
    assert [b.ref_id for b in bib] == ["b0", "b1", "b2", "b3"]
    assert [b.order for b in bib] == [0, 1, 2, 3]
    watts, barabasi, newman, biobank = bib
    assert watts.title == "Collective dynamics of small-world networks"
    assert watts.source == "Nature"
    assert (watts.year, watts.volume, watts.pages) == (1998, "393", "440-442")
    assert (watts.doi, watts.pmid) == ("10.1038/30918", "9623998")
    assert [a.family for a in watts.authors] == ["Watts", "Strogatz"]
    assert watts.authors[0].given == "D J"
    assert watts.raw.startswith("Watts DJ, Strogatz SH.")
    # A DOI printed only in the raw reference is recovered, normalised.
    assert barabasi.doi == "10.1126/science.286.5439.509"
    assert barabasi.pages == "509"
    # A book: monograph title is the title; PMCID printed in the raw text is recovered.
    assert newman.title == "Networks: An Introduction"
    assert newman.source is None
    assert newman.pmcid == "PMC3012345"
    assert (newman.year, newman.authors[0].family) == (2010, "Newman")
    assert biobank.title is None and biobank.raw == "UK Biobank. Data showcase."


_NUMERIC = b"""<TEI xmlns="http://www.tei-c.org/ns/1.0"><text><body><div><head>Results</head>
<p>A <ref type="bibr" target="#b0">[1]</ref> B <ref type="bibr" target="#b2">[2]</ref>
C <ref type="bibr">[3 -4]</ref> D <ref type="bibr">[6]</ref> E <ref type="bibr">(1998)</ref>
F <ref type="bibr" target="#b9">[5]</ref></p></div></body>
<back><div type="references"><listBibl>
<biblStruct xml:id="b0"><monogr><title>one</title></monogr></biblStruct>
<biblStruct xml:id="b1"><monogr><title>split half of two</title></monogr></biblStruct>
<biblStruct xml:id="b2"><monogr><title>two</title></monogr></biblStruct>
<biblStruct xml:id="b3"><monogr><title>three</title></monogr></biblStruct>
<biblStruct xml:id="b4"><monogr><title>four</title></monogr></biblStruct>
</listBibl></div></back></text></TEI>"""


def test_unlinked_numeric_callouts_follow_the_learned_number_shift() -> None:
    doc = parse_tei(_NUMERIC)
    links = {c.surface: c.ref_ids for c in doc.paragraphs[0].callouts}
    # [2] -> b2 shows GROBID split an entry: 3 and 4 sit one place further on; 5 and 6 fall
    # off the end of the list; a year in brackets is no reference number; a dangling target
    # (#b9 does not exist) is no link.
    assert links == {
        "[1]": ("b0",),
        "[2]": ("b2",),
        "[3 -4]": ("b3", "b4"),
        "[6]": (),
        "(1998)": (),
        "[5]": (),
    }


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "empty"),
        (b"<TEI xmlns='http://www.tei-c.org/ns/1.0'><text>", "malformed"),
        (b"<article><front/></article>", "not a GROBID TEI document"),
        (b"<TEI xmlns='http://www.tei-c.org/ns/1.0'/>", "neither <teiHeader> nor <text>"),
        (
            b"<teiCorpus xmlns='http://www.tei-c.org/ns/1.0'><TEI><text/></TEI><TEI/></teiCorpus>",
            "teiCorpus with 2 TEI documents",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE TEI [<!ENTITY a "aaaa">]>'
            b"<TEI xmlns='http://www.tei-c.org/ns/1.0'><text>&a;</text></TEI>",
            "entities",
        ),
    ],
)
def test_bad_input_raises_parse_error(data: bytes, problem: str) -> None:
    with pytest.raises(ParseError, match=problem):
        parse_tei(data)


_AUTHOR_YEAR = """<TEI xmlns="http://www.tei-c.org/ns/1.0"><text><body><div><head>Discussion</head>
<p>As shown <ref type="bibr">(Hutson, 2018b;</ref> <ref type="bibr">Mara-Eves et al., 2015)</ref>
and by <ref type="bibr">Řehůřek (2010)</ref> but not <ref type="bibr">(Smith, 1999)</ref>
nor <ref type="bibr">(Hutson, 2018)</ref>.</p></div></body>
<back><div type="references"><listBibl>{}</listBibl></div></back></text></TEI>"""


def _entry(ref_id: str, family: str, year: int) -> str:
    return (
        f'<biblStruct xml:id="{ref_id}"><analytic><author><persName><surname>{family}</surname>'
        f'</persName></author></analytic><monogr><imprint><date when="{year}"/></imprint>'
        "</monogr></biblStruct>"
    )


def test_unlinked_author_year_callouts_link_by_first_author_and_year() -> None:
    entries = [
        _entry("b0", "Hutson", 2018),
        _entry("b1", "Hutson", 2018),
        _entry("b2", "O'Mara-Eves", 2015),
        _entry("b3", "Rehurek", 2010),
        _entry("b4", "Smith", 2000),
    ]
    doc = parse_tei(_AUTHOR_YEAR.format("".join(entries)).encode())
    links = [(c.surface, c.ref_ids) for c in doc.paragraphs[0].callouts]
    assert links == [
        ("(Hutson, 2018b;", ("b1",)),  # the second Hutson 2018 in list order
        ("Mara-Eves et al., 2015)", ("b2",)),  # GROBID cut the name; a part still matches
        ("Řehůřek (2010)", ("b3",)),
        ("(Smith, 1999)", ()),  # wrong year: no link
        ("(Hutson, 2018)", ()),  # two candidates and no letter: ambiguous, no link
    ]


def test_tei_corpus_of_one_document_is_that_document() -> None:
    single = (FIXTURES / "segmented_0.8.tei.xml").read_bytes()
    start = single.index(b"<TEI")
    wrapped = b"<teiCorpus xmlns='http://www.tei-c.org/ns/1.0'>" + single[start:] + b"</teiCorpus>"
    doc = parse_tei(wrapped)
    assert doc.meta.doi == "10.1234/jt.2021.001"
    assert len(doc.bibliography) == 4


_UNTAGGED = b"""<TEI xmlns="http://www.tei-c.org/ns/1.0"><text><body><div><head>Introduction</head>
<p>Known for years <ref type="bibr" target="#b0">(1)</ref>.
Again <ref type="bibr" target="#b1">(2)</ref>. Third <ref type="bibr" target="#b2">(3)</ref>;
GROBID missed this one (2), and (1) starts a list item; f(3) is maths,
see Fig. (1); p = (2). Out of range (40).</p></div></body>
<back><div type="references"><listBibl>
<biblStruct xml:id="b0"><monogr><title>one</title></monogr></biblStruct>
<biblStruct xml:id="b1"><monogr><title>two</title></monogr></biblStruct>
<biblStruct xml:id="b2"><monogr><title>three</title></monogr></biblStruct>
</listBibl></div></back></text></TEI>"""


def test_numeric_callouts_grobid_did_not_tag_are_found_in_the_text() -> None:
    paragraph = parse_tei(_UNTAGGED).paragraphs[0]
    links = [(c.surface, c.ref_ids) for c in paragraph.callouts]
    assert links == [("(1)", ("b0",)), ("(2)", ("b1",)), ("(3)", ("b2",)), ("(2)", ("b1",))]
    found = paragraph.callouts[3]
    assert paragraph.text[found.start - 16 : found.end] == "missed this one (2)"


def test_statements_follow_grobid_sentences(doc: Document) -> None:
    statements = [s for s in extract(doc) if doc.paragraphs[s.paragraph].kind == "body"]
    by_ref = {(s.ref_id, s.text) for s in statements}
    assert ("b1", "Later work [2,3] disagreed (Fig. 1).") in by_ref
    assert ("b2", "Later work [2,3] disagreed (Fig. 1).") in by_ref
    later = next(s for s in statements if s.ref_id == "b1" and s.text.startswith("Later"))
    assert later.before == "Small worlds were described early [1]."
    assert later.after == "Nobody linked this one [9]."
    assert [later.text[c.start : c.end] for c in later.callouts] == ["[2,"]
    assert [later.text[c.start : c.end] for c in later.other_callouts] == ["3]"]
