"""Section headings and JATS sec-type values -> a SectionType (introduction, methods, ...).

Used by every parser: JATS gives sec-type on some sections, TEI and most JATS only a heading;
the outermost section that says something wins, since subsection titles rarely name the part.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from citelens.model import SectionType

_SEC_TYPES: dict[str, SectionType] = {
    "intro": SectionType.INTRODUCTION,
    "introduction": SectionType.INTRODUCTION,
    "background": SectionType.INTRODUCTION,
    "methods": SectionType.METHODS,
    "materials": SectionType.METHODS,
    "materials|methods": SectionType.METHODS,
    "materials-and-methods": SectionType.METHODS,
    "subjects": SectionType.METHODS,
    "results": SectionType.RESULTS,
    "results|discussion": SectionType.RESULTS,
    "cases": SectionType.RESULTS,
    "discussion": SectionType.DISCUSSION,
    "conclusions": SectionType.CONCLUSION,
    "conclusion": SectionType.CONCLUSION,
    "discussion|conclusions": SectionType.DISCUSSION,
}

# Heading words in the order they are tried; the match that starts earliest in the heading
# decides, so "Results and discussion" is results and "Discussion and conclusions" discussion.
_HEADING_WORDS: tuple[tuple[str, SectionType], ...] = (
    (
        r"introduction|background|overview|motivation|statement of need|related work"
        r"|literature review|state of the art"
        # Spanish, Portuguese, French, German (SciELO, OJS and European journals)
        r"|introducci[oó]n|introdu[cç][aã]o|antecedentes|einleitung|hintergrund",
        SectionType.INTRODUCTION,
    ),
    (
        r"methods?|methodology|materials|experimental(?: procedures| section| design)?"
        r"|study design|statistical analys[ie]s|data analysis|participants|patients and"
        r"|procedures?|protocols?|data collection|implementation|power calculations?"
        r"|sample size"
        r"|m[eé]todos?|metodolog[ií]a|m[ée]thodes?|m[ée]thodologie|methoden|methodik",
        SectionType.METHODS,
    ),
    (
        r"results?|findings|observations|evaluation|experiments"
        r"|case (?:presentation|report|description|history|study|series)"
        r"|resultados|r[ée]sultats|ergebnisse",
        SectionType.RESULTS,
    ),
    (r"discussion|limitations|discusi[oó]n|discuss[aã]o|diskussion", SectionType.DISCUSSION),
    (
        r"conclusions?|concluding remarks|summary and outlook|outlook|future work"
        r"|future directions"
        r"|conclusi[oó]n(?:es)?|conclus[aã]o|conclus[oõ]es|considera[cç][oõ]es finais"
        r"|schlussfolgerung(?:en)?|fazit",
        SectionType.CONCLUSION,
    ),
)
_HEADING = re.compile(
    "|".join(f"(?P<g{i}>\\b(?:{words})\\b)" for i, (words, _) in enumerate(_HEADING_WORDS)),
    re.IGNORECASE,
)


def section_type(title: str | None, sec_type: str | None = None) -> SectionType:
    """The type of one section from its JATS sec-type (preferred) or its heading words."""
    if sec_type:
        key = sec_type.strip().lower()
        known = _SEC_TYPES.get(key)
        if known is not None:
            return known
        # Publishers spell the same types their own way ("materials-methods",
        # "methods|materials", "Results_Discussion"): read the value as heading words.
        match = _HEADING.search(re.sub(r"[|_\-]+", " ", key))
        if match and match.lastgroup:
            return _HEADING_WORDS[int(match.lastgroup[1:])][1]
    if title:
        match = _HEADING.search(title)
        if match and match.lastgroup:
            return _HEADING_WORDS[int(match.lastgroup[1:])][1]
    return SectionType.OTHER


def section_type_of_path(path: Sequence[tuple[str | None, str | None]]) -> SectionType:
    """The type of a nested section from its (title, sec_type) pairs, outermost first.

    The outermost section that maps to a type decides: a subsection "Cell culture" under
    "Materials and methods" is methods whatever its own words say.
    """
    for title, sec_type in path:
        kind = section_type(title, sec_type)
        if kind is not SectionType.OTHER:
            return kind
    return SectionType.OTHER
