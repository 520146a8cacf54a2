"""extract: one statement per (sentence, cited entry), with spans, neighbours and section."""

from __future__ import annotations

from pathlib import Path

from citelens.extract import extract
from citelens.model import Callout, Document, Paragraph, SectionType, Span, WorkMeta
from citelens.parse.jats import parse_jats

FIXTURES = Path(__file__).parent / "fixtures" / "jats"


def _doc(*paragraphs: Paragraph) -> Document:
    return Document(
        meta=WorkMeta(), paragraphs=list(paragraphs), bibliography=[], source_format="t"
    )


def _paragraph(text: str, cited: list[tuple[str, tuple[str, ...]]], **kw: object) -> Paragraph:
    callouts = []
    cursor = 0
    for surface, ref_ids in cited:
        start = text.index(surface, cursor)
        callouts.append(Callout(start, start + len(surface), surface, ref_ids))
        cursor = start + len(surface)
    return Paragraph(
        text=text,
        callouts=callouts,
        section_title=kw.get("title", "Results"),  # type: ignore[arg-type]
        section_type=SectionType.RESULTS,
        sentences=kw.get("sentences"),  # type: ignore[arg-type]
    )


def test_one_statement_per_sentence_and_cited_entry() -> None:
    paragraph = _paragraph(
        "First we looked. Two works agree [1, 2] and one disagrees [3]. Last words.",
        [("1", ("a",)), ("2", ("b",)), ("3", ("c",))],
    )
    statements = extract(_doc(paragraph))
    assert [s.ref_id for s in statements] == ["a", "b", "c"]
    for st in statements:
        assert st.text == "Two works agree [1, 2] and one disagrees [3]."
        assert st.before == "First we looked." and st.after == "Last words."
        assert (st.paragraph, st.sentence) == (0, 1)
        assert st.section_title == "Results" and st.section_type is SectionType.RESULTS
    a, _, c = statements
    assert [a.text[s.start : s.end] for s in a.callouts] == ["1"]
    assert [a.text[s.start : s.end] for s in a.other_callouts] == ["2", "3"]
    assert [c.text[s.start : s.end] for s in c.callouts] == ["3"]


def test_same_entry_twice_in_a_sentence_is_one_statement_with_two_spans() -> None:
    paragraph = _paragraph(
        "Smith (2001) disagreed with Smith (2001) later.",
        [("Smith (2001)", ("s",)), ("Smith (2001)", ("s",))],
    )
    [statement] = extract(_doc(paragraph))
    assert statement.callouts == [Span(0, 12), Span(28, 40)]
    assert statement.before == "" and statement.after == ""


def test_a_range_callout_gives_a_statement_per_reference() -> None:
    paragraph = _paragraph("It is known [3]–[5].", [("3", ("c", "d")), ("5", ("e",))])
    statements = extract(_doc(paragraph))
    assert [(s.ref_id, s.callouts, s.other_callouts) for s in statements] == [
        ("c", [Span(13, 14)], [Span(17, 18)]),
        ("d", [Span(13, 14)], [Span(17, 18)]),
        ("e", [Span(17, 18)], [Span(13, 14)]),
    ]


def test_unlinked_callouts_give_no_statement_but_are_other_callouts() -> None:
    paragraph = _paragraph("Seen [1] and [2].", [("1", ("a",)), ("2", ())])
    [statement] = extract(_doc(paragraph))
    assert statement.ref_id == "a" and statement.other_callouts == [Span(14, 15)]
    assert extract(_doc(_paragraph("Seen [2].", [("2", ())]))) == []


def test_source_sentences_are_widened_to_whole_callouts() -> None:
    # TEI <s> markup can cut a callout; the sentence where it starts takes all of it.
    text = "It grows (Smith et al. 2001). Then stops."
    cut = text.index("al.") + 3
    paragraph = _paragraph(
        text,
        [("Smith et al. 2001", ("s",))],
        sentences=[(0, cut), (cut + 1, len(text))],
    )
    [statement] = extract(_doc(paragraph))
    assert statement.text[statement.callouts[0].start : statement.callouts[0].end] == (
        "Smith et al. 2001"
    )
    assert statement.text.startswith("It grows (Smith et al. 2001")


def test_fixture_article_statements_are_unique_and_spans_exact() -> None:
    doc = parse_jats((FIXTURES / "numbered.xml").read_bytes())
    statements = extract(doc)
    keys = [(s.paragraph, s.sentence, s.ref_id) for s in statements]
    assert len(keys) == len(set(keys))
    surfaces = {
        (p, c.start, c.end): c.surface
        for p, paragraph in enumerate(doc.paragraphs)
        for c in paragraph.callouts
    }
    for st in statements:
        for span in [*st.callouts, *st.other_callouts]:
            assert st.text[span.start : span.end] in surfaces.values()
    # "It was shown before. [9] Next we show it again.10": each callout stays with the
    # sentence before the boundary it sits on.
    nine = next(s for s in statements if s.ref_id == "r-hotel")
    assert nine.text == "It was shown before. [9]"
    assert nine.after == "Next we show it again.10"
    ten = next(s for s in statements if s.ref_id == "r-india")
    assert ten.text == "Next we show it again.10" and ten.before == nine.text
    # Ranges: 3 cited refs in "[3]–[7]" + the two citations in ref 7.
    ranged = [s.ref_id for s in statements if s.text == "Several groups saw it [3]–[7]."]
    assert ranged == ["r-gamma", "r-delta", "r-echo", "r-foxtrot", "r-golf", "r-golf-2"]
    # The unlinked callout "99" gives no statement.
    assert all(s.ref_id != "r-unknown" for s in statements)
    assert len(statements) == 28
