"""Section headings and JATS sec-type values -> SectionType (shared with the TEI parser)."""

from __future__ import annotations

import pytest

from citelens.model import SectionType
from citelens.sections import section_type, section_type_of_path


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Introduction", SectionType.INTRODUCTION),
        ("1. Background", SectionType.INTRODUCTION),
        ("Statement of need", SectionType.INTRODUCTION),
        ("Materials and Methods", SectionType.METHODS),
        ("Experimental procedures", SectionType.METHODS),
        ("Patients and methods", SectionType.METHODS),
        ("Results", SectionType.RESULTS),
        ("Results and discussion", SectionType.RESULTS),
        ("Discussion", SectionType.DISCUSSION),
        ("Discussion and conclusions", SectionType.DISCUSSION),
        ("Conclusions", SectionType.CONCLUSION),
        ("Concluding remarks", SectionType.CONCLUSION),
        ("Acknowledgements", SectionType.OTHER),
        ("Cell culture", SectionType.OTHER),
        ("", SectionType.OTHER),
        (None, SectionType.OTHER),
    ],
)
def test_heading_words(title: str | None, expected: SectionType) -> None:
    assert section_type(title) is expected


def test_sec_type_wins_over_heading_words() -> None:
    assert section_type("Overview of the screen", "results") is SectionType.RESULTS
    assert section_type("Experimental", "materials|methods") is SectionType.METHODS
    assert section_type("Discussion", "unknown-type") is SectionType.DISCUSSION


def test_outermost_section_that_says_something_decides() -> None:
    assert (
        section_type_of_path([("Materials and methods", None), ("Statistical analysis", None)])
        is SectionType.METHODS
    )
    assert (
        section_type_of_path([("Results", "results"), ("Conclusions from the screen", None)])
        is SectionType.RESULTS
    )
    assert section_type_of_path([("Main text", None), ("Methods", None)]) is SectionType.METHODS
    assert section_type_of_path([]) is SectionType.OTHER
