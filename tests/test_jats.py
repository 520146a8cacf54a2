"""parse_jats on hand-written fixtures: metadata, paragraphs, callouts, ranges, bibliography."""

from __future__ import annotations

from pathlib import Path

import pytest

from citelens.model import Document, Paragraph, SectionType
from citelens.parse.jats import parse_jats

FIXTURES = Path(__file__).parent / "fixtures" / "jats"


def _parse(name: str) -> Document:
    return parse_jats((FIXTURES / name).read_bytes())


@pytest.fixture(scope="module")
def numbered() -> Document:
    return _parse("numbered.xml")


def _paragraph(doc: Document, starts_with: str) -> Paragraph:
    return next(p for p in doc.paragraphs if p.text.startswith(starts_with))


def _callout_ids(paragraph: Paragraph) -> list[tuple[str, tuple[str, ...]]]:
    return [(c.surface, c.ref_ids) for c in paragraph.callouts]


def test_every_callout_offset_matches_its_surface(numbered: Document) -> None:
    callouts = [(p, c) for p in numbered.paragraphs for c in p.callouts]
    assert len(callouts) == 23
    for paragraph, callout in callouts:
        assert paragraph.text[callout.start : callout.end] == callout.surface


def test_metadata(numbered: Document) -> None:
    meta = numbered.meta
    assert meta.doi == "10.5555/jmr.2020.001"
    assert meta.pmid == "31234567"
    assert meta.pmcid == "PMC7654321"
    assert meta.title == "Callouts, ranges and other citation habits"
    assert meta.year == 2020  # epub wins over collection
    assert meta.journal == "Journal of Made-up Results"
    assert meta.publication_type == "research-article"
    assert [(a.family, a.given, a.orcid) for a in meta.authors] == [
        ("Carberry", "Josiah", "0000-0002-1825-0097"),
        ("Okafor", "Ada N.", "0000-0001-5109-370X"),
        ("The Example Consortium", "", None),
    ]
    assert meta.notices == ["retraction-forward 10.5555/jmr.2022.099"]


def test_whitespace_collapsed_and_sections(numbered: Document) -> None:
    first = _paragraph(numbered, "Cell individuality")
    assert "  " not in first.text and "\n" not in first.text
    assert first.section_title == "Background"
    assert first.section_type is SectionType.INTRODUCTION
    nested = _paragraph(numbered, "Inline [12]")
    assert nested.section_title == "A nested heading"  # innermost title, as written
    assert nested.section_type is SectionType.INTRODUCTION  # from the outer sec-type
    methods = _paragraph(numbered, "Cells were grown")
    assert methods.section_title == "Cell culture as in 19"
    assert methods.section_type is SectionType.METHODS  # from the outer heading words


def test_figure_inside_paragraph_is_its_own_caption(numbered: Document) -> None:
    paragraph = _paragraph(numbered, "Inline [12]")
    assert (
        paragraph.text == "Inline [12] and a table follow. The paragraph goes on after the figure."
    )
    caption = _paragraph(numbered, "Adapted from ref. 13.")
    assert caption.kind == "caption"
    assert _callout_ids(caption) == [("13", ("r-lima",))]
    assert _paragraph(numbered, "Growth curves.").kind == "caption"
    credit = _paragraph(numbered, "Image credit:")
    assert credit.kind == "caption" and _callout_ids(credit) == [("19", ("r-romeo",))]


def test_unknown_element_with_running_text_is_a_paragraph(numbered: Document) -> None:
    verse = _paragraph(numbered, "As the old song goes")
    assert _callout_ids(verse) == [("19", ("r-romeo",))]
    assert verse.section_title == "Cell culture as in 19"


def test_heading_that_cites_is_a_paragraph(numbered: Document) -> None:
    heading = _paragraph(numbered, "Cell culture as in 19")
    assert heading.kind == "heading" and _callout_ids(heading) == [("19", ("r-romeo",))]
    assert heading.section_title == "Cell culture as in 19"
    assert heading.section_type is SectionType.METHODS


def test_table_rows_footnotes_abstract_and_lists(numbered: Document) -> None:
    row = _paragraph(numbered, "K-12")
    assert (row.kind, row.text) == ("table", "K-12 | 14")
    assert _callout_ids(row) == [("14", ("r-mike",))]
    assert _paragraph(numbered, "As in 15.").kind == "footnote"
    abstract = numbered.paragraphs[0]
    assert abstract.kind == "abstract" and _callout_ids(abstract) == [("[1]", ("r-alpha",))]
    listed = _paragraph(numbered, "Steps:")
    assert listed.text == "Steps: grow cells (18) harvest them and freeze."
    # The row without a citation holds data, not a statement: it is not a paragraph.
    assert not any(p.text.startswith("Strain | Source") for p in numbered.paragraphs)


def test_ranges_expand_by_label_not_by_id_or_list_order(numbered: Document) -> None:
    paragraph = _paragraph(numbered, "Cell individuality")
    assert _callout_ids(paragraph) == [
        ("1", ("r-alpha",)),
        # [3]-[7]: the references labelled 4, 5 and 6 go with the first callout; ref 7
        # holds two citations, so its callout cites both of them.
        ("3", ("r-gamma", "r-delta", "r-echo", "r-foxtrot")),
        ("7", ("r-golf", "r-golf-2")),
        # [2-4]: label 3 is r-gamma; r-charlie (label 8) sits between them in list order.
        ("2", ("r-bravo", "r-gamma")),
        ("4", ("r-delta",)),
        ("1, 8", ("r-alpha", "r-charlie")),  # several rids in one xref
    ]


def test_range_of_twenty_or_more_is_not_expanded(numbered: Document) -> None:
    paragraph = _paragraph(numbered, "The whole field")
    assert _callout_ids(paragraph)[:2] == [("1", ("r-alpha",)), ("20", ("r-tango",))]


def test_unknown_rid_gives_unlinked_callout_and_superscripts_kept(numbered: Document) -> None:
    paragraph = _paragraph(numbered, "Cells were grown")
    assert paragraph.text == "Cells were grown as described16,17. Data were deposited.99"
    assert _callout_ids(paragraph) == [
        ("16", ("r-oscar",)),
        ("17", ("r-papa",)),
        ("99", ()),
    ]


def test_bibliography_fields_and_hidden_identifiers(numbered: Document) -> None:
    bib = {entry.ref_id: entry for entry in numbered.bibliography}
    assert [e.order for e in numbered.bibliography] == list(range(len(bib)))
    alpha = bib["r-alpha"]
    assert (alpha.label, alpha.title, alpha.source, alpha.year) == (
        "1",
        "Microbial cell individuality",
        "Nat Rev Microbiol",
        2006,
    )
    assert (alpha.volume, alpha.pages, alpha.doi, alpha.pmid) == (
        "4",
        "577-587",
        "10.1038/nrmicro1460",
        "16845428",
    )
    assert alpha.authors[0].family == "Avery" and alpha.authors[0].given == "SV"
    bravo = bib["r-bravo"]  # mixed-citation: "doi:" in the text, elocation-id for pages
    assert (bravo.doi, bravo.pages, bravo.authors[0].family) == (
        "10.1000/two.2001",
        "e1002",
        "Bell",
    )
    assert bravo.raw.startswith("Bell A (2001) Title two.")
    assert bib["r-charlie"].doi == "10.1000/eight"  # ext-link to dx.doi.org
    assert bib["r-gamma"].pmid == "12345678"  # nlm-citation, PMID in a comment
    assert bib["r-delta"].title == "A Book of Four"  # a book: the source is the title
    assert bib["r-echo"].doi == "10.1000/five"  # found in the other citation-alternative
    assert bib["r-golf"].title == "Seven a" and bib["r-golf-2"].doi == "10.1000/seven.b"


def test_article_without_doi_and_references_without_ids() -> None:
    doc = _parse("no_ids.xml")
    assert doc.meta.doi is None
    assert doc.meta.title == "An article with no DOI" and doc.meta.year == 2019
    assert [e.ref_id for e in doc.bibliography] == ["ref-0", "ref-1"]
    assert doc.bibliography[1].pmid == "11111111"
    assert doc.bibliography[1].pmcid == "PMC2222222"
    assert doc.paragraphs[0].section_title is None
    assert doc.paragraphs[0].section_type is SectionType.OTHER
    assert parse_jats((FIXTURES / "no_ids.xml").read_bytes()).bibliography == doc.bibliography


def test_author_year_callouts_and_dash_between_them_is_no_range() -> None:
    doc = _parse("author_year.xml")
    assert _callout_ids(doc.paragraphs[0]) == [
        ("Smith et al., 2001", ("bib1",)),
        ("Jones, 2002", ("bib2",)),
        ("Smith et al. (2001)", ("bib1",)),
        ("Smith et al., 2001", ("bib1",)),
        ("Young, 2003", ("bib3",)),
    ]
    assert doc.paragraphs[0].section_type is SectionType.RESULTS


def test_ranges_without_labels_follow_list_order() -> None:
    xml = b"""<article><body><p>Seen before [<xref ref-type="bibr" rid="q">1</xref>-<xref
        ref-type="bibr" rid="a">4</xref>].</p></body><back><ref-list>
        <ref id="q"><mixed-citation>One</mixed-citation></ref>
        <ref id="z"><mixed-citation>Two</mixed-citation></ref>
        <ref id="b"><mixed-citation>Three</mixed-citation></ref>
        <ref id="a"><mixed-citation>Four</mixed-citation></ref>
        </ref-list></back></article>"""
    doc = parse_jats(xml)
    assert _callout_ids(doc.paragraphs[0]) == [("1", ("q", "z", "b")), ("4", ("a",))]


def test_single_callout_written_as_a_range() -> None:
    refs = "".join(
        f'<ref id="x{n}"><label>{n}.</label><mixed-citation>Work {n}</mixed-citation></ref>'
        for n in range(1, 6)
    )
    xml = (
        '<article><body><p>Known <xref ref-type="bibr" rid="x2">2-4</xref>.</p></body>'
        f"<back><ref-list>{refs}</ref-list></back></article>"
    ).encode()
    doc = parse_jats(xml)
    assert _callout_ids(doc.paragraphs[0]) == [("2-4", ("x2", "x3", "x4"))]


def test_named_entity_without_dtd_becomes_its_character() -> None:
    # No DTD is loaded, so &nbsp; stays an entity node; it is read as the space it stands for.
    xml = b"""<!DOCTYPE article PUBLIC "-//NLM//DTD JATS//EN" "JATS-archivearticle1.dtd">
        <article><body><p>Ten&nbsp;mM was used (<xref ref-type="bibr" rid="r1">1</xref>).</p>
        </body><back><ref-list><ref id="r1"><mixed-citation>X</mixed-citation></ref>
        </ref-list></back></article>"""
    paragraph = parse_jats(xml).paragraphs[0]
    assert paragraph.text == "Ten mM was used (1)."
    callout = paragraph.callouts[0]
    assert paragraph.text[callout.start : callout.end] == "1"


def test_floats_group_captions_are_read() -> None:
    xml = b"""<article><body><p>See Table 1.</p></body><floats-group><table-wrap id="t1">
        <caption><p>Values from <xref ref-type="bibr" rid="r1">1</xref>.</p></caption>
        </table-wrap></floats-group><back><ref-list><ref id="r1"><label>1</label>
        <mixed-citation>One.</mixed-citation></ref></ref-list></back></article>"""
    doc = parse_jats(xml)
    caption = _paragraph(doc, "Values from")
    assert caption.kind == "caption" and _callout_ids(caption) == [("1", ("r1",))]


def test_reference_list_at_the_end_of_the_body() -> None:
    xml = b"""<article><body><sec><title>Intro</title><p>Known [<xref ref-type="bibr"
        rid="r1">1</xref>].</p></sec><ref-list><ref id="r1"><label>1</label><mixed-citation>
        One. doi:10.1000/one</mixed-citation></ref></ref-list></body></article>"""
    doc = parse_jats(xml)
    assert [p.text for p in doc.paragraphs] == ["Known [1]."]
    assert [(e.ref_id, e.doi) for e in doc.bibliography] == [("r1", "10.1000/one")]
