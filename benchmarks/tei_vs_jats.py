"""Citation statements from GROBID TEI vs from the publisher JATS of the same papers -> recall.

For each paper in grobid-tei/pmc-paired, every (citing sentence, cited work) pair that the JATS
path (parse_jats + extract) finds is looked for among the TEI path's (parse_tei + extract) pairs.

Matching rule (PDF text and JATS text differ: hyphenation, ligatures, callout punctuation):
- sentences: lower-cased, runs of non-alphanumerics collapsed, compared both with callout
  surfaces removed and with them kept (JATS author-year callouts often span only the year,
  GROBID's the whole "Smith et al. (2000)"); equal when rapidfuzz ratio >= 80, or
  partial_ratio >= 90 with the shorter one >= 20 characters (GROBID sometimes joins two
  sentences, or cuts one at a page break);
- cited work: equal DOIs when both entries have one; else normalised titles with
  token_sort_ratio >= 85; else, for a TEI entry whose title GROBID garbled, the JATS title
  found in the TEI raw reference (partial_ratio >= 90); else (untitled references) the same
  first-author family name (an unstructured JATS reference: the first word of its text) and
  year, and the same volume when both give one.
A JATS pair whose bib entry has no DOI, no title and no first author with a year is not
counted.

Run: python benchmarks/tei_vs_jats.py [DATA_DIR]   (default: <repo>/../shared/data)
"""

from __future__ import annotations

import csv
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import fuzz

from citelens.extract import extract
from citelens.model import BibEntry, Document, Statement
from citelens.parse.jats import parse_jats
from citelens.parse.tei import parse_tei

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
PAIRED = Path("articles") / "grobid-tei" / "pmc-paired"

SENTENCE_RATIO = 80
SENTENCE_PARTIAL = 90
PARTIAL_MIN_CHARS = 20
TITLE_RATIO = 85
RAW_PARTIAL = 90

_NON_WORD = re.compile(r"[^0-9a-z]+")


@dataclass(frozen=True)
class Pair:
    """One citing sentence (normalised, callouts removed) and the bib entry it cites."""

    sentence: str
    entry: BibEntry
    full: str = ""  # the sentence normalised with its callouts kept
    section: str = ""  # the statement's SectionType


@dataclass(frozen=True)
class PaperScore:
    name: str
    jats_pairs: int  # identifiable pairs found through JATS
    recovered: int  # of those, found through TEI too
    tei_pairs: int
    tei_matched: int  # TEI pairs that match some JATS pair
    same_section: int  # recovered pairs whose TEI statement has the JATS section type

    @property
    def recall(self) -> float:
        return self.recovered / self.jats_pairs if self.jats_pairs else 1.0


def _normalise(text: str) -> str:
    return _NON_WORD.sub(" ", text.lower()).strip()


def _without_callouts(statement: Statement) -> str:
    spans = sorted(
        [(s.start, s.end) for s in statement.callouts + statement.other_callouts], reverse=True
    )
    text = statement.text
    for start, end in spans:
        text = text[:start] + " " + text[end:]
    return _normalise(text)


def pairs_of(doc: Document) -> list[Pair]:
    """The (sentence, bib entry) pairs of a document's citation statements, without repeats."""
    entries = {entry.ref_id: entry for entry in doc.bibliography}
    seen: set[tuple[str, str]] = set()
    pairs = []
    for statement in extract(doc):
        entry = entries.get(statement.ref_id)
        if entry is None:
            continue
        sentence = _without_callouts(statement)
        if (sentence, entry.ref_id) not in seen:
            seen.add((sentence, entry.ref_id))
            pairs.append(
                Pair(sentence, entry, _normalise(statement.text), statement.section_type.value)
            )
    return pairs


def same_sentence(a: str, b: str) -> bool:
    if fuzz.ratio(a, b) >= SENTENCE_RATIO:
        return True
    return min(len(a), len(b)) >= PARTIAL_MIN_CHARS and fuzz.partial_ratio(a, b) >= (
        SENTENCE_PARTIAL
    )


def _first_author(entry: BibEntry) -> str:
    """First author's family name; for an unstructured reference, the raw text's first word."""
    if entry.authors:
        family = entry.authors[0].family
    else:
        family = re.split(r"[,\s(]", entry.raw.strip(), maxsplit=1)[0] if entry.raw else ""
    return _normalise(family).replace(" ", "")


def same_work(jats: BibEntry, tei: BibEntry) -> bool:
    if jats.doi and tei.doi:
        return jats.doi == tei.doi
    if jats.title:
        jats_title = _normalise(jats.title)
        if tei.title and fuzz.token_sort_ratio(jats_title, _normalise(tei.title)) >= TITLE_RATIO:
            return True
        if tei.raw and fuzz.partial_ratio(jats_title, _normalise(tei.raw)) >= RAW_PARTIAL:
            return True
    # Untitled references (crystallography: "Sheldrick, G. M. (2008). Acta Cryst. A64, 112.")
    # are the same work when first author and year agree, and volumes too where both have one.
    if jats.year is None or jats.year != tei.year or not _first_author(jats):
        return False
    if _first_author(jats) != _first_author(tei):
        return False
    return not (jats.volume and tei.volume) or jats.volume == tei.volume


def identifiable(entry: BibEntry) -> bool:
    return bool(entry.doi or entry.title or (_first_author(entry) and entry.year))


def _matches(a: Pair, b: Pair) -> bool:
    if not same_work(a.entry, b.entry):
        return False
    return same_sentence(a.sentence, b.sentence) or same_sentence(a.full, b.full)


def compare_paper(name: str, jats: bytes, tei: bytes) -> PaperScore:
    """Score one paper: how many identifiable JATS pairs the TEI path finds too."""
    jats_pairs = [p for p in pairs_of(parse_jats(jats)) if identifiable(p.entry)]
    tei_pairs = pairs_of(parse_tei(tei))
    recovered = same_section = 0
    for j in jats_pairs:
        found = [t for t in tei_pairs if _matches(j, t)]
        recovered += bool(found)
        same_section += any(t.section == j.section for t in found)
    tei_matched = sum(1 for t in tei_pairs if any(_matches(j, t) for j in jats_pairs))
    return PaperScore(name, len(jats_pairs), recovered, len(tei_pairs), tei_matched, same_section)


def paired_papers(data: Path) -> list[tuple[str, Path, Path]]:
    """(name, JATS path, TEI path) for each paper listed in pmc-paired/file-list.tsv."""
    root = data / PAIRED
    papers = []
    with (root / "file-list.tsv").open(newline="") as listing:
        for row in csv.DictReader(listing, delimiter="\t"):
            jats = root / row["xml_url"]
            tei = jats.with_name(jats.name.removesuffix(".nxml") + ".grobid.tei.xml")
            if jats.is_file() and tei.is_file():
                papers.append((jats.parent.name, jats, tei))
    return papers


def compare_all(data: Path) -> list[PaperScore]:
    return [
        compare_paper(name, jats.read_bytes(), tei.read_bytes())
        for name, jats, tei in paired_papers(data)
    ]


def main(argv: list[str]) -> int:
    data = Path(argv[1]) if len(argv) > 1 else DEFAULT_DATA
    if not (data / PAIRED / "file-list.tsv").is_file():
        print(f"no paired GROBID/JATS data under {data / PAIRED}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    scores = compare_all(data)
    elapsed = time.perf_counter() - started
    print(f"{'paper':<62} {'JATS':>5} {'found':>5} {'recall':>7} {'TEI':>5} {'agree':>6}")
    for s in scores:
        agree = s.tei_matched / s.tei_pairs if s.tei_pairs else 1.0
        print(
            f"{s.name[:62]:<62} {s.jats_pairs:>5} {s.recovered:>5} {s.recall:>7.1%}"
            f" {s.tei_pairs:>5} {agree:>6.1%}"
        )
    total_jats = sum(s.jats_pairs for s in scores)
    total_found = sum(s.recovered for s in scores)
    total_tei = sum(s.tei_pairs for s in scores)
    total_agree = sum(s.tei_matched for s in scores)
    print(
        f"{'TOTAL (' + str(len(scores)) + ' papers)':<62} {total_jats:>5} {total_found:>5}"
        f" {total_found / max(total_jats, 1):>7.1%} {total_tei:>5}"
        f" {total_agree / max(total_tei, 1):>6.1%}"
    )
    same_section = sum(s.same_section for s in scores)
    print(
        f"section type agrees on {same_section} of {total_found} recovered pairs"
        f" ({same_section / max(total_found, 1):.1%})"
    )
    print(
        f"recall: share of JATS (sentence, cited work) pairs the TEI path recovers; "
        f"agree: share of TEI pairs that match a JATS pair; {elapsed:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
