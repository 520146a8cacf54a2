"""parse_jats + extract on real JATS articles, checked against truth read straight from the XML.

The truth comes from a small XPath routine written here independently of the parser: every
xref[@ref-type="bibr"] in the article body, with ranges ("[3]-[7]") expanded by labels, the
reference's DOI from pub-id, and the innermost enclosing section's title. An xref that prints
nothing (eLife uses empty ones as anchors) is no callout a reader sees and is not counted. Run
with -s to see the measured figures.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from lxml import etree

from citelens.extract import extract
from citelens.model import Document, Statement
from citelens.parse.jats import parse_jats

SETS = {
    "elife": ("articles/elife/interlinked-200", "*.xml", 200),
    "jats-misc": ("articles/jats-misc", "*.nxml", 10),
    "jose": ("articles/jose", "*.xml", 35),
    "pmc-paired": ("articles/grobid-tei/pmc-paired", "*/*.nxml", 10),
}


def _files(shared_data: Path, name: str) -> list[Path]:
    folder, pattern, expected = SETS[name]
    files = sorted((shared_data / folder).glob(pattern))
    assert len(files) == expected, f"{folder}: expected {expected} files, found {len(files)}"
    return files


def _norm(text: str) -> str:
    return " ".join(text.split())


def _truth_doi(text: str) -> str:
    text = text.strip().lower()
    for prefix in ("https://doi.org/", "http://dx.doi.org/", "http://doi.org/", "doi:"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    return text.strip()


def _truth(path: Path) -> tuple[Counter, Counter, dict[str, str]]:
    """(ref_id, callout surface) and (ref_id, surface, section title) counts, and ref DOIs."""
    tree = etree.parse(str(path), etree.XMLParser(load_dtd=False, no_network=True))
    refs = tree.xpath("/article/back//ref-list/ref")
    order = [r.get("id") for r in refs]
    labels: dict[int, str] = {}
    number_of: dict[str, int] = {}
    dois: dict[str, str] = {}
    for ref in refs:
        label = _norm("".join(ref.xpath("string(label)")))
        digits = re.fullmatch(r"\W*(\d+)\W*", label)
        if digits:
            labels.setdefault(int(digits.group(1)), ref.get("id"))
            number_of[ref.get("id")] = int(digits.group(1))
        doi = ref.xpath("string(.//pub-id[@pub-id-type='doi'][1])")
        if doi.strip():
            dois[ref.get("id")] = _truth_doi(doi)
    known = set(order)
    pairs: Counter = Counter()
    with_section: Counter = Counter()
    xrefs = tree.xpath("/article/body//xref[@ref-type='bibr']")
    for xref in xrefs:
        surface = _norm("".join(xref.itertext()))
        if not surface:
            continue
        rids = [r for r in (xref.get("rid") or "").split() if r in known]
        following = xref.getnext()
        tail = xref.tail or ""
        if (
            following is not None
            and following.tag == "xref"
            and following.get("ref-type") == "bibr"
            and re.fullmatch(r"\s*\]?\s*[-–—]\s*\[?\s*", tail)
            and re.fullmatch(r"\[?\d+\]?", surface)
            and re.fullmatch(r"\[?\d+\]?", _norm("".join(following.itertext())))
            and rids
        ):
            last = (following.get("rid") or "").split()[0]
            first = rids[-1]
            if first in number_of and last in number_of:
                low, high = number_of[first], number_of[last]
                if low < high and high - low + 1 < 20:
                    rids += [labels[n] for n in range(low + 1, high) if n in labels]
            elif first in known and last in known and first not in number_of:
                low, high = order.index(first), order.index(last)
                if low < high and high - low + 1 < 20:
                    rids += order[low + 1 : high]
        # The innermost section whose title says something (PMC has empty <title/>s).
        titles = (
            _norm("".join(s.find("title").itertext()))
            for s in xref.iterancestors("sec")
            if s.find("title") is not None
        )
        title = next((t for t in titles if t), None)
        for rid in dict.fromkeys(rids):
            pairs[(rid, surface)] += 1
            with_section[(rid, surface, title or None)] += 1
    return pairs, with_section, dois


def _found(doc: Document, statements: list[Statement]) -> tuple[Counter, Counter]:
    pairs: Counter = Counter()
    with_section: Counter = Counter()
    for st in statements:
        if doc.paragraphs[st.paragraph].kind == "abstract":
            continue
        for span in st.callouts:
            surface = st.text[span.start : span.end]
            pairs[(st.ref_id, surface)] += 1
            with_section[(st.ref_id, surface, st.section_title)] += 1
    return pairs, with_section


def _measure(files: list[Path]) -> dict[str, float]:
    truth_total = matched = section_right = 0
    doi_checked = doi_right = 0
    for path in files:
        doc = parse_jats(path.read_bytes())
        statements = extract(doc)
        for paragraph in doc.paragraphs:
            for callout in paragraph.callouts:
                assert paragraph.text[callout.start : callout.end] == callout.surface
        seen = set()
        for st in statements:
            key = (st.paragraph, st.sentence, st.ref_id)
            assert key not in seen, f"{path.name}: statement {key} twice"
            seen.add(key)
            for span in st.callouts:
                assert 0 <= span.start < span.end <= len(st.text)
        truth_pairs, truth_sections, dois = _truth(path)
        found_pairs, found_sections = _found(doc, statements)
        truth_total += sum(truth_pairs.values())
        matched += sum(min(n, found_pairs[k]) for k, n in truth_pairs.items())
        section_right += sum(min(n, found_sections[k]) for k, n in truth_sections.items())
        bib = {entry.ref_id: entry for entry in doc.bibliography}
        for st in statements:
            if st.ref_id in dois:
                doi_checked += 1
                doi_right += bib[st.ref_id].doi == dois[st.ref_id]
    return {
        "callouts": truth_total,
        "coverage": matched / truth_total,
        "section": section_right / matched,
        "doi_checked": doi_checked,
        "doi": doi_right / doi_checked if doi_checked else 1.0,
    }


def _report(name: str, figures: dict[str, float]) -> None:
    print(
        f"\n[{name}] truth callout-refs {figures['callouts']}: coverage "
        f"{figures['coverage']:.4f}, section title right {figures['section']:.4f}, "
        f"DOI right {figures['doi']:.4f} of {figures['doi_checked']} statements"
    )


@pytest.mark.parametrize("name", ["elife", "jats-misc", "pmc-paired"])
def test_callouts_dois_and_sections_match_xml_truth(shared_data: Path, name: str) -> None:
    figures = _measure(_files(shared_data, name))
    _report(name, figures)
    assert figures["coverage"] >= 0.99
    assert figures["doi"] >= 0.995
    assert figures["section"] >= 0.98


def test_jose_parses_and_covers_callouts(shared_data: Path) -> None:
    figures = _measure(_files(shared_data, "jose"))
    _report("jose", figures)
    assert figures["coverage"] >= 0.99
