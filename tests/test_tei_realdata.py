"""parse_tei on every real GROBID output in the shared data (0.5.5 - 0.8.2), and the PDF path's
recall of citation statements against the publisher JATS of the same ten papers."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from citelens.parse.tei import parse_tei

REPO = Path(__file__).resolve().parents[1]
GROBID_TEI = REPO / ".." / "shared" / "data" / "articles" / "grobid-tei"
TEI_FILES = sorted(GROBID_TEI.glob("misc/*.tei.xml")) + sorted(
    GROBID_TEI.glob("pmc-paired/*/*.grobid.tei.xml")
)

pytestmark = pytest.mark.skipif(not TEI_FILES, reason="shared GROBID TEI data not present")


@pytest.mark.parametrize("path", TEI_FILES, ids=lambda p: p.name[:40])
def test_real_tei_parses_with_sound_offsets_and_links(path: Path) -> None:
    doc = parse_tei(path.read_bytes())
    assert doc.source_format == "tei"
    assert doc.meta.title
    assert doc.bibliography, "every file here has a reference list"
    assert [b.order for b in doc.bibliography] == list(range(len(doc.bibliography)))
    bib_ids = {b.ref_id for b in doc.bibliography}
    assert len(bib_ids) == len(doc.bibliography)

    body = [p for p in doc.paragraphs if p.kind == "body"]
    assert body
    callouts = [c for p in doc.paragraphs for c in p.callouts]
    assert callouts
    for paragraph in doc.paragraphs:
        assert paragraph.text == paragraph.text.strip()
        assert "  " not in paragraph.text
        for callout in paragraph.callouts:
            assert paragraph.text[callout.start : callout.end] == callout.surface
            assert set(callout.ref_ids) <= bib_ids
    linked = sum(1 for c in callouts if c.ref_ids)
    # GROBID links most callouts itself; a file where most stay unlinked means a parse bug.
    assert linked / len(callouts) >= 0.7


def test_numeric_callouts_grobid_left_unlinked_are_recovered() -> None:
    path = next(GROBID_TEI.glob("pmc-paired/Acta_Oncol_*/*.grobid.tei.xml"))
    source = path.read_bytes()
    unlinked_in_source = source.count(b'<ref type="bibr">')
    doc = parse_tei(source)
    unlinked = [c for p in doc.paragraphs for c in p.callouts if not c.ref_ids]
    assert unlinked_in_source >= 10
    assert len(unlinked) <= 3
    # "[9 -11]" names three printed references; GROBID split reference 4 in two, so they are
    # entries b11-b13 (checked by hand against the JATS reference list of the same paper).
    ranges = [c for p in doc.paragraphs for c in p.callouts if c.surface == "[9 -11]"]
    assert ranges and all(c.ref_ids == ("b11", "b12", "b13") for c in ranges)


def _benchmark():
    spec = importlib.util.spec_from_file_location(
        "tei_vs_jats", REPO / "benchmarks" / "tei_vs_jats.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
