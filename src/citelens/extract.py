"""A Document -> citation statements: one per (citing sentence, cited bib entry).

Each statement keeps its sentence with the sentences before and after it in the same
paragraph, the spans of its callouts in the sentence, and the paragraph's section.
"""

from __future__ import annotations

from bisect import bisect_right

from citelens.model import Callout, Document, Paragraph, Span, Statement
from citelens.sentences import protect_callouts, split_sentences


def extract(doc: Document) -> list[Statement]:
    """Every citation statement of the document, in reading order."""
    statements: list[Statement] = []
    for index, paragraph in enumerate(doc.paragraphs):
        if any(callout.ref_ids for callout in paragraph.callouts):
            statements.extend(paragraph_statements(paragraph, index))
    return statements


def paragraph_statements(paragraph: Paragraph, index: int) -> list[Statement]:
    """The statements of one paragraph (index: its position in Document.paragraphs)."""
    text = paragraph.text
    spans = paragraph.sentences
    if spans is None:
        protected = protect_callouts(text, [(c.start, c.end) for c in paragraph.callouts])
        spans = split_sentences(text, protected)
    spans = _cover_callouts(spans, paragraph.callouts, len(text))
    starts = [start for start, _ in spans]
    by_sentence: dict[int, list[Callout]] = {}
    for callout in paragraph.callouts:
        k = max(bisect_right(starts, callout.start) - 1, 0)
        by_sentence.setdefault(k, []).append(callout)
    statements: list[Statement] = []
    for k, callouts in sorted(by_sentence.items()):
        start, end = spans[k]
        sentence = text[start:end]
        before = text[slice(*spans[k - 1])] if k > 0 else ""
        after = text[slice(*spans[k + 1])] if k + 1 < len(spans) else ""
        cited: list[str] = []
        for callout in callouts:
            for ref_id in callout.ref_ids:
                if ref_id not in cited:
                    cited.append(ref_id)
        for ref_id in cited:
            mine = [Span(c.start - start, c.end - start) for c in callouts if ref_id in c.ref_ids]
            others = [
                Span(c.start - start, c.end - start) for c in callouts if ref_id not in c.ref_ids
            ]
            statements.append(
                Statement(
                    ref_id=ref_id,
                    text=sentence,
                    before=before,
                    after=after,
                    callouts=mine,
                    other_callouts=others,
                    section_title=paragraph.section_title,
                    section_type=paragraph.section_type,
                    paragraph=index,
                    sentence=k,
                )
            )
    return statements


def _cover_callouts(
    spans: list[tuple[int, int]], callouts: list[Callout], length: int
) -> list[tuple[int, int]]:
    """Sentence spans widened so that every callout lies inside one sentence.

    Our own splitter never cuts a callout, but sentence markup from a source (TEI <s>) can
    leave a callout across a boundary or between sentences; the sentence where the callout
    starts takes all of it, so that text[start:end] is still the callout's surface.
    """
    if not spans:
        return [(0, length)]
    fixed = [list(span) for span in spans]
    starts = [start for start, _ in spans]
    for callout in callouts:
        k = max(bisect_right(starts, callout.start) - 1, 0)
        if callout.start < fixed[k][0]:
            fixed[k][0] = callout.start
        if callout.end > fixed[k][1]:
            fixed[k][1] = callout.end
            for later in fixed[k + 1 :]:
                if later[0] < callout.end:
                    later[0] = min(callout.end, later[1])
    return [(start, end) for start, end in fixed if end > start or start == 0]
