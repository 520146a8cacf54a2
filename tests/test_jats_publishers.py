"""parse_jats + extract on small hand-written articles shaped like each publisher's JATS.

Each fixture in fixtures/jats/publishers/ copies one publisher's structure (ids, callout
markup, reference markup, sections, encoding) in a few lines of our own words; the tests say
which callouts, reference DOIs, sections and statements a reader of that article would expect.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from citelens.errors import ParseError
from citelens.extract import extract
from citelens.model import Document, SectionType
from citelens.parse.jats import parse_jats

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "jats" / "publishers"
ALL = sorted(FIXTURES.glob("*.xml"))


def _parse(name: str) -> Document:
    return parse_jats((FIXTURES / name).read_bytes())


def _callouts(doc: Document) -> list[tuple[str, tuple[str, ...]]]:
    return [(c.surface, c.ref_ids) for p in doc.paragraphs for c in p.callouts]


def _dois(doc: Document) -> dict[str, str | None]:
    return {entry.ref_id: entry.doi for entry in doc.bibliography}


def _statements(doc: Document) -> list[tuple[str, str]]:
    return [(st.ref_id, st.text) for st in extract(doc)]


def _sections(doc: Document) -> dict[str, SectionType]:
    return {st.text: st.section_type for st in extract(doc)}


# ----------------------------------------------------------------------- every fixture


def _truth_callouts(data: bytes) -> int:
    """Non-empty bibliographic xrefs of the main article, by an XPath of its own (any namespace)."""
    root = etree.fromstring(data, etree.XMLParser(load_dtd=False, no_network=True))
    xrefs = root.xpath(
        "//*[local-name()='xref'][@ref-type='bibr']"
        "[not(ancestor::*[local-name()='sub-article' or local-name()='response'"
        " or local-name()='ref-list'])]"
    )
    return sum(1 for x in xrefs if "".join(x.itertext()).strip())


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_every_callout_is_found_linked_and_exact(path: Path) -> None:
    data = path.read_bytes()
    doc = parse_jats(data)
    found = [c for p in doc.paragraphs for c in p.callouts]
    if b"&nbsp;" not in data:  # the truth's own parser refuses undeclared entities
        typed = _truth_callouts(data)
        assert len(found) >= typed > 0
    for paragraph in doc.paragraphs:
        for callout in paragraph.callouts:
            assert paragraph.text[callout.start : callout.end] == callout.surface
            assert callout.ref_ids, f"{path.name}: {callout.surface!r} links to no reference"
    known = {entry.ref_id for entry in doc.bibliography}
    statements = extract(doc)
    assert statements
    keys = [(st.paragraph, st.sentence, st.ref_id) for st in statements]
    assert len(keys) == len(set(keys)), "a statement twice"
    for st in statements:
        assert st.ref_id in known
        for span in st.callouts:
            assert st.text[span.start : span.end].strip()


# ----------------------------------------------------------------------- publishers


def test_wiley_bracketed_numbers_glossary_and_citing_table_row() -> None:
    doc = _parse("wiley_bracketed.xml")
    bib = "cac299001-bib-000"
    assert _callouts(doc) == [
        ("1", (f"{bib}1",)),
        ("2", (f"{bib}2",)),
        ("3", (f"{bib}3",)),
        ("3", (f"{bib}3",)),
    ]
    assert _dois(doc) == {
        f"{bib}1": "10.1101/sqb.1989.054.01.003",
        f"{bib}2": "10.1038/nature07317",
        f"{bib}3": "10.1126/science.1232458",
    }
    assert doc.bibliography[1].pmid == "18724357"
    statements = _statements(doc)
    assert (f"{bib}2", "The sensor itself was found later [2, 3].") in statements
    assert (f"{bib}3", "Ubiquitination | [3]") in statements  # the citing row, not the "NA" row
    assert _sections(doc)["Receptors that recognise patterns were proposed long ago [1]."] is (
        SectionType.INTRODUCTION
    )
    assert doc.meta.publication_type == "review-article"


def test_taylor_francis_superscripts_and_ranges_inside_one_xref() -> None:
    doc = _parse("taylor_francis_superscript_ranges.xml")
    assert _callouts(doc) == [
        ("1", ("cit0001",)),
        ("2", ("cit0002",)),
        ("3-5", ("cit0003", "cit0004", "cit0005")),
        ("2–4", ("cit0002", "cit0003", "cit0004")),
    ]
    assert _dois(doc)["cit0001"] == "10.1038/nri1745"
    assert _dois(doc)["cit0004"] == "10.1136/gutjnl-2018-317178"
    assert _dois(doc)["cit0003"] is None
    statements = _statements(doc)
    # A superscript after the full stop belongs to the sentence before it.
    assert ("cit0002", "Fungal walls are sensed by lectin receptors.1,2") in statements
    assert ("cit0005", "Fungi also make bioactive lipids.3-5") in statements
    assert all("Nothing is cited" not in text for _, text in statements)


def test_elsevier_superscript_stop_figure_in_paragraph_and_multi_rid() -> None:
    doc = _parse("elsevier_superscript.xml")
    assert _callouts(doc) == [
        ("1", ("bib1",)),
        ("2", ("bib2",)),
        ("3", ("bib3",)),
        ("1", ("bib1",)),
        ("2", ("bib2",)),
        ("[2], [3]", ("bib2", "bib3")),
        ("3", ("bib3",)),
    ]
    assert _dois(doc) == {
        "bib1": None,
        "bib2": "10.1016/j.cell.2013.12.010",
        "bib3": "10.1126/science.abf0529",
    }
    assert doc.bibliography[0].pmid == "22632970"
    kinds = [p.kind for p in doc.paragraphs if p.callouts]
    assert kinds == ["body", "caption", "body", "footnote"]
    statements = _statements(doc)
    assert ("bib1", "Off-target toxicity must be kept low1.") in statements
    assert ("bib2", "Reprinted from Ref. 2.") in statements  # "Ref." ends no sentence
    assert all(section is SectionType.RESULTS for section in _sections(doc).values())


def test_mdpi_long_ids_dash_range_and_typed_sections() -> None:
    doc = _parse("mdpi_numbered.xml")
    b = "-ijms-99-00001"
    assert _callouts(doc) == [
        ("1", (f"B1{b}",)),
        ("2", (f"B2{b}",)),
        ("1", (f"B1{b}", f"B2{b}", f"B3{b}")),  # "[1–4]" written as two xrefs
        ("4", (f"B4{b}",)),
        ("3", (f"B3{b}",)),
    ]
    assert _dois(doc)[f"B1{b}"] == "10.1096/fasebj.9.8.7768349"
    assert _dois(doc)[f"B3{b}"] is None
    assert doc.meta.pmcid == "PMC9900001"
    sections = _sections(doc)
    assert sections["Their activity rises at p<0.05 in stressed roots [1–4]."] is (
        SectionType.INTRODUCTION
    )
    assert sections["Seedlings were grown as described [3]."] is SectionType.METHODS
    titles = {st.section_title for st in extract(doc)}
    assert titles == {"1. Introduction", "4.1. Plant Growth"}


def test_frontiers_author_year_dois_from_links_and_printed_text() -> None:
    doc = _parse("frontiers_author_year.xml")
    assert _callouts(doc) == [
        ("Gebhardt et al., 2009", ("B2",)),
        ("Clark, 2015", ("B1",)),
        ("Mackay et al. (2013)", ("B3",)),
    ]
    assert _dois(doc) == {
        "B1": "10.1126/scitranslmed.3010641",
        "B2": "10.1038/ni.1718",
        "B3": "10.1038/ni.2744",
    }
    assert _statements(doc)[-1] == ("B3", "Mackay et al. (2013) showed how they form.")
    assert set(_sections(doc).values()) == {SectionType.DISCUSSION}


def test_copernicus_dotted_ids_and_author_year_dash_is_no_range() -> None:
    doc = _parse("copernicus_dotted_ids.xml")
    assert _callouts(doc) == [
        ("(Bauer et al., 2004)", ("bib1.bibx1",)),
        ("Vlasenko et al. (2006)", ("bib1.bibx2",)),
        ("Bauer et al. (2004)", ("bib1.bibx1",)),
    ]
    assert _dois(doc) == {
        "bib1.bibx1": "10.1029/2003jd003868",
        "bib1.bibx2": "10.5194/acp-6-2147-2006",
    }
    assert doc.bibliography[1].year == 2006


def test_nlm2_citation_collab_object_id_and_refs_in_back_sec() -> None:
    doc = _parse("nlm2_citation.xml")
    assert _callouts(doc) == [("1,2", ("B1", "B2")), ("3", ("B3",)), ("2", ("B2",))]
    assert _dois(doc) == {
        "B1": None,
        "B2": "10.1000/vhs.2001.1",
        "B3": "10.1016/s0749-3797(99)00106-4",
    }
    first, second, _ = doc.bibliography
    assert first.pmid == "16034315"
    assert [a.family for a in first.authors] == ["Centers for Disease Control and Prevention"]
    assert [a.family for a in second.authors] == ["Smith", "Battaglia"]
    assert first.raw.startswith("Centers for Disease Control and Prevention. National coverage")
    # A body without sections and a section without a title: text is kept, typed "other".
    assert {st.section_type for st in extract(doc)} == {SectionType.OTHER}
    assert len(_statements(doc)) == 4
    assert doc.meta.pmcid == "PMC1700001" and doc.meta.pmid == "17000001"


def test_author_manuscript_latin1_articleset_printed_identifiers() -> None:
    doc = _parse("author_manuscript_latin1.xml")
    assert doc.meta.title == "Café workers and asthma"
    assert _callouts(doc) == [("1", ("R1", "R2")), ("3", ("R3",)), ("4", ("R4",))]
    bib = {entry.ref_id: entry for entry in doc.bibliography}
    assert bib["R1"].pmid == "15575923"  # "[PubMed: 15575923]"
    assert bib["R2"].doi == "10.1097/01.jom.0000000001"  # no trailing full stop
    assert bib["R3"].doi == "10.1136/thx.53.1.20"  # inside <comment>
    assert bib["R4"].pmid == "16055882"
    assert bib["R1"].raw.startswith("Keller A, Müller B.")
    statements = _statements(doc)
    assert [ref for ref, _ in statements] == ["R1", "R2", "R3", "R4"]
    assert statements[0][1] == "Participants were recruited in Zürich cafés.1–3"
    assert {st.section_type for st in extract(doc)} == {SectionType.METHODS}


def test_namespaced_jats_with_bom_reads_like_plain_jats() -> None:
    doc = _parse("ojs_namespaced_bom.xml")
    assert doc.meta.doi == "10.9999/ojs.2099.1"
    assert doc.meta.title == "Erosión de suelos andinos"
    assert _callouts(doc) == [("García, 2010", ("B1",)), ("Ruiz y Soto, 2015", ("B2",))]
    assert _dois(doc) == {"B1": "10.9999/ra.2010.3", "B2": "10.9999/agro.2015.7"}
    assert [a.family for a in doc.bibliography[1].authors] == ["Ruiz"]
    # MathML stays inline text; Spanish headings are typed.
    assert _statements(doc)[0] == ("B1", "La pérdida anual supera 10 t/ha (García, 2010).")
    assert list(_sections(doc).values()) == [SectionType.INTRODUCTION, SectionType.METHODS]


def test_scielo_translation_sub_article_does_not_double_statements() -> None:
    doc = _parse("scielo_translation.xml")
    assert _callouts(doc) == [("1", ("B1",)), ("2", ("B2",))]
    # One entry per ref although B1 carries a printed and a tagged rendering side by side.
    assert [entry.ref_id for entry in doc.bibliography] == ["B1", "B2"]
    sato = doc.bibliography[0]
    assert sato.doi == "10.11606/s1518-8787.2018052001199"
    assert sato.title == "What is the importance of vaccine hesitancy?"
    assert sato.raw.startswith("1. Sato APS. What is the importance")
    statements = _statements(doc)
    assert len(statements) == 2
    assert all("Coverage" not in text for _, text in statements)
    assert set(_sections(doc).values()) == {SectionType.INTRODUCTION}


def test_odd_links_loose_types_parts_of_refs_and_number_lists() -> None:
    doc = _parse("odd_links.xml")
    assert _callouts(doc) == [
        ("[1]", ("r1",)),  # no ref-type, rid names a ref
        ("[2]", ("r2",)),  # ref-type="bib"
        ("[1-3,5]", ("r1", "r5", "r2", "r3")),  # the empty xref before it is an anchor
        ("[4]", ("r4",)),  # rid names the element-citation inside r4
        ("[6b]", ("r6-2",)),  # rid names the second ref nested in r6
        ("[8]", ("r8",)),  # rid "R8" for ref "r8"
        ("[7]", ("r7",)),  # a box title that cites
    ]
    dois = _dois(doc)
    assert dois["r1"] == "10.1002/(sici)1097-4636(199603)30:3<385::aid-jbm13>3.0.co;2-j"
    assert dois["r2"] == "10.1016/s0043-1648(01)00001-1"  # from the note beside the citation
    assert dois["r3"] == "10.1023/a:1022604001111"  # the href of a <uri> reading "Full text"
    assert dois["r7"] == "10.1080/17453670810016588"  # an ext-link without href
    assert dois["r8"] == "10.5301/hip.2009.1234"  # <pub-id xlink:href="..."/>
    assert next(e for e in doc.bibliography if e.ref_id == "r8").pmid == "19123456"
    assert dois["r4"] == "10.1177/112070000501500101"
    assert dois["r5"] == "10.1016/j.knee.2006.01.001"  # the second reference list
    assert dois["r6"] == "10.1016/j.wear.2006.01.001"
    assert dois["r6-2"] == "10.1016/j.wear.2006.01.009"
    assert ("r2", "Coatings help [2] (see Fig. 1).") in _statements(doc)


def test_case_report_sections_and_ranges_without_labels() -> None:
    doc = _parse("cureus_case_report.xml")
    assert _callouts(doc) == [
        ("1", ("REF1", "REF2")),
        ("3", ("REF3",)),
        ("4", ("REF4",)),
        ("2-4", ("REF2", "REF4", "REF3")),
    ]
    sections = _sections(doc)
    assert sections["Imaging was done as advised [4]."] is SectionType.RESULTS
    assert sections["Our case differs from earlier reports [2-4]."] is SectionType.DISCUSSION
    assert doc.meta.publication_type == "case-report"


def test_springer_bmc_doi_link_and_results_and_discussion() -> None:
    doc = _parse("springer_bmc.xml")
    assert _callouts(doc) == [
        ("1", ("CR1", "CR2")),
        ("3", ("CR3",)),
        ("2", ("CR2",)),
        ("3", ("CR3",)),
        ("4", ("CR4",)),
    ]
    assert _dois(doc) == {
        "CR1": "10.1093/ije/dyq272",
        "CR2": "10.1016/s2352-4642(19)30323-2",
        "CR3": None,
        "CR4": None,
    }
    chapter = doc.bibliography[3]
    assert [a.family for a in chapter.authors] == ["Troiano", "Freedson"]  # not the editor
    assert chapter.title == "Measuring activity with accelerometers"
    assert chapter.year == 2002 and chapter.pages == "1-20"
    sections = _sections(doc)
    assert sections["Activity falls in adolescence [1–3]."] is SectionType.INTRODUCTION
    assert sections["Our estimates match the survey [3]."] is SectionType.RESULTS


# ----------------------------------------------------------------------- encodings


def test_html_entities_without_a_doctype_are_read_as_characters() -> None:
    doc = _parse("html_entities_no_dtd.xml")
    assert doc.meta.title == "Café culture"
    assert _statements(doc) == [("B1", "Samples were taken at 4–8 °C [1].")]
    assert _dois(doc) == {"B1": "10.1000/fr.2019.5"}


def test_an_unknown_entity_is_still_refused_by_name() -> None:
    data = b"<article><body><p>A &notanentity; b</p></body></article>"
    with pytest.raises(ParseError, match="notanentity"):
        parse_jats(data)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_article_parses_like_utf8(encoding: str) -> None:
    text = (FIXTURES / "mdpi_numbered.xml").read_text("utf-8")
    text = text.replace('encoding="UTF-8"', f'encoding="{encoding.upper()}"')
    utf16 = parse_jats(text.encode(encoding))
    utf8 = _parse("mdpi_numbered.xml")
    assert _callouts(utf16) == _callouts(utf8)
    assert _statements(utf16) == _statements(utf8)


def test_a_doctype_naming_a_dtd_nobody_can_reach_is_not_fetched() -> None:
    text = (FIXTURES / "springer_bmc.xml").read_bytes()
    doctype = (
        b'<!DOCTYPE article PUBLIC "-//NLM//DTD JATS (Z39.96) Journal Publishing DTD v1.2//EN" '
        b'"http://127.0.0.1:9/unreachable/JATS-journalpublishing1.dtd">\n'
    )
    data = text.replace(b"?>\n", b"?>\n" + doctype, 1)
    assert data != text
    assert _callouts(parse_jats(data)) == _callouts(_parse("springer_bmc.xml"))


def test_acs_minus_sign_ranges_and_grouped_works() -> None:
    doc = _parse("acs_minus_ranges.xml")
    assert _callouts(doc) == [
        ("1", ("ref1", "ref2", "ref2-2")),  # "1−3": the grouped ref 2 brings both its works
        ("3", ("ref3",)),
        ("4−6", ("ref4", "ref5", "ref6")),
        ("2", ("ref2", "ref2-2")),
        ("6", ("ref6",)),
    ]
    assert _dois(doc)["ref2"] == "10.1002/anie.200300594"
    assert _dois(doc)["ref2-2"] == "10.1021/cr8002505"
    statements = _statements(doc)
    assert ("ref3", "Cross-coupling is widely used.1−3") in statements
    sections = _sections(doc)
    assert sections["Yields matched earlier reports.2"] is SectionType.RESULTS
    assert sections["Reagents were dried as described.6"] is SectionType.METHODS


def test_block_structures_keep_their_callouts_once() -> None:
    doc = _parse("block_structures.xml")
    assert _dois(doc) == {
        "R1": "10.1000/mic.2001.4",  # "(doi:...)." loses the bracket and the stop
        "R2": "10.1000/lab.2002.5",  # an unmatched ")" is punctuation
        "R3": "10.1000/(kin)2003.6",  # a matched one is part of the DOI
        "R4": None,
    }
    kinds = {(p.kind, p.text) for p in doc.paragraphs if p.callouts}
    assert ("heading", "Methods after Abe (2001)") in kinds
    assert ("footnote", "Kits were bought, see [4].") in kinds  # a footnote inside a <p>
    assert ("body", "[2]") in kinds  # a callout standing between blocks
    assert ("footnote", "Funding as stated earlier [1].") in kinds
    statements = _statements(doc)
    assert ("R2", "Three steps followed: lysis [2]; washing.") in statements
    assert ("R3", "The rate obeys r=k as derived before [3].") in statements
    assert ("R3", "Counts per minute [3].") in statements
    assert ("R4", "Raw counts follow the protocol [4].") in statements
    assert all("disagree" not in text for _, text in statements)  # the reply is not ours
    assert len(statements) == 9
    sections = _sections(doc)
    assert sections["Strains were typed as in [1]."] is SectionType.METHODS


def test_nature_untitled_introduction_before_titled_sections() -> None:
    doc = _parse("nature_untitled_intro.xml")
    assert _callouts(doc) == [
        ("1", ("CR1",)),  # in the abstract
        ("1", ("CR1",)),
        ("2", ("CR2",)),
        ("2", ("CR2",)),
        ("3", ("CR3",)),
        ("3", ("CR3",)),
        ("2", ("CR2",)),
    ]
    body = [st for st in extract(doc) if doc.paragraphs[st.paragraph].kind != "abstract"]
    typed = {(st.text, st.section_title, st.section_type) for st in body}
    # Text before the first heading is the introduction, with no title of its own ...
    assert ("Most lie far from promoters.2", None, SectionType.INTRODUCTION) in typed
    # ... but a figure placed there floats and says nothing of its section.
    assert (
        "Enhancer counts per tissue, as defined before.3",
        None,
        SectionType.OTHER,
    ) in typed
    assert ("Reads were aligned with a standard tool.2", "Online Methods", SectionType.METHODS) in (
        typed
    )
    assert [entry.year for entry in doc.bibliography] == [2009, 2014, 2012]


@pytest.mark.parametrize(
    ("declared", "codec"),
    [("UTF8", "utf-8"), ("utf_8", "utf-8"), ("GB2312", "gb2312"), ("mac-roman", "mac-roman")],
)
def test_encodings_python_reads_parse_whatever_libxml2_calls_them(
    declared: str, codec: str
) -> None:
    title = "中文" if codec == "gb2312" else "Café"
    data = (
        f'<?xml version="1.0" encoding="{declared}"?><article><front><article-meta>'
        f"<title-group><article-title>{title}</article-title></title-group></article-meta>"
        "</front><body><p>x</p></body></article>"
    ).encode(codec)
    assert parse_jats(data).meta.title == title


def test_peerj_author_year_labels_years_and_referee_reports() -> None:
    doc = _parse("peerj_f1000_reviews.xml")
    assert _callouts(doc) == [
        ("Baldock et al., 2015", ("ref-1",)),
        ("Hall et al., 2012a", ("ref-2",)),
        ("2012b", ("ref-3",)),
        ("Hall et al. (2012b)", ("ref-3",)),
        ("2010", ("ref-4",)),  # "2010–2012": two reports, not the 2011 one listed between
        ("2012", ("ref-6",)),
    ]
    # The referee report's own reference list stays out of the article's bibliography.
    assert [entry.ref_id for entry in doc.bibliography] == [f"ref-{n}" for n in range(1, 7)]
    assert [entry.year for entry in doc.bibliography[:3]] == [2015, 2012, 2012]
    statements = _statements(doc)
    assert all("Potts" not in text and "should also cite" not in text for _, text in statements)
    sections = _sections(doc)
    assert sections["Transects followed Hall et al. (2012b)."] is SectionType.METHODS
