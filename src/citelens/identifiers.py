"""Identifier strings as printed (URLs, "doi:" prefixes, PMC numbers) -> one normalised form.

DOIs become lower case with no resolver prefix, PMIDs bare digits, PMCIDs "PMC" + digits,
ORCIDs "0000-0000-0000-000X". Every function returns None for text that is not an identifier.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

# Registrant codes are 4-9 digits (a few old ones carry sub-codes "10.1000.10/..."), then a
# suffix of any printable characters.
_DOI_SHAPE = re.compile(r"^10\.\d{4,9}(?:\.\d+)*/\S+$")
# Angle brackets end a DOI in text (they start markup) except in the "<...::...>" group of
# SICI DOIs of the 1990s ("10.1002/(SICI)1097-4636(199603)30:3<385::AID-JBM13>3.0.CO;2-J").
_DOI_IN_TEXT = re.compile(r"10\.\d{4,9}(?:\.\d+)*/(?:[^\s\"<>]|<[^\s\"<>]*::[^\s\"<>]*>)+")
_DOI_PREFIX = re.compile(
    r"^(?:https?://)?(?:(?:dx\.|www\.)?doi\.org/|doi\.org/)|^(?:doi|DOI)\s*[:=]?\s*",
    re.IGNORECASE,
)
_TRAILING = ".,;:'\"!?>]}"
# "PMID: 123", and PMC author manuscripts' "[PubMed: 123]" or "PubMed PMID: 123".
_PMID_IN_TEXT = re.compile(
    r"\b(?:PMID|PubMed(?:\s+PMID|\s+ID)?)\s*[:=]?\s*(\d{1,9})\b", re.IGNORECASE
)
_PMCID_IN_TEXT = re.compile(r"\bPMC\s*(\d{1,9})\b", re.IGNORECASE)
_ORCID = re.compile(r"(\d{4})-?(\d{4})-?(\d{4})-?(\d{3}[\dXx])")


def normalise_doi(value: str | None) -> str | None:
    """'https://doi.org/10.1000/ABC.' -> '10.1000/abc'; None when no DOI can be read."""
    if not value:
        return None
    doi = value.strip()
    if "%" in doi:
        doi = unquote(doi)
    # Prefixes can stack ("doi: https://doi.org/10..."): strip until none is left.
    previous = None
    while previous != doi:
        previous = doi
        doi = _DOI_PREFIX.sub("", doi, count=1).strip()
    # A DOI holds no whitespace; a space in a tagged DOI ("10.1146/ annurev...") is a typo.
    doi = "".join(_strip_trailing(doi).split()).lower()
    return doi if _DOI_SHAPE.match(doi) else None


def _strip_trailing(doi: str) -> str:
    """Drop punctuation that ends the surrounding sentence, not the DOI.

    A closing parenthesis is kept when the DOI opened one ("10.1016/0006-2952(91)90053-9)").
    """
    while doi:
        last = doi[-1]
        if last in _TRAILING or (last == ")" and doi.count("(") < doi.count(")")):
            doi = doi[:-1]
        else:
            break
    return doi


def find_dois(text: str) -> list[str]:
    """Every distinct DOI in free text, normalised, in order of appearance."""
    found: list[str] = []
    for match in _DOI_IN_TEXT.finditer(unquote(text) if "%2" in text else text):
        doi = normalise_doi(match.group(0))
        if doi and doi not in found:
            found.append(doi)
    return found


def normalise_pmid(value: str | int | None) -> str | None:
    """'PMID: 0012345' -> '12345'; None unless the value is a positive number of <= 9 digits."""
    if value is None:
        return None
    text = str(value).strip()
    text = re.sub(r"^(?:pmid|pubmed)\s*[:=]?\s*", "", text, flags=re.IGNORECASE)
    if not text.isdigit() or len(text) > 9 or int(text) == 0:
        return None
    return str(int(text))


def normalise_pmcid(value: str | int | None) -> str | None:
    """'pmc 123', '123', 'PMC123' -> 'PMC123'; None otherwise."""
    if value is None:
        return None
    text = re.sub(r"\s+", "", str(value)).upper()
    if text.startswith("PMCID:"):
        text = text[6:]
    if text.startswith("PMC"):
        text = text[3:]
    if not text.isdigit() or len(text) > 9 or int(text) == 0:
        return None
    return f"PMC{int(text)}"


def find_pmids(text: str) -> list[str]:
    """PMIDs written as 'PMID: 123' in free text, in order, without repeats."""
    found: list[str] = []
    for match in _PMID_IN_TEXT.finditer(text):
        pmid = normalise_pmid(match.group(1))
        if pmid and pmid not in found:
            found.append(pmid)
    return found


def find_pmcids(text: str) -> list[str]:
    """PMCIDs written as 'PMC123' in free text, in order, without repeats."""
    found: list[str] = []
    for match in _PMCID_IN_TEXT.finditer(text):
        pmcid = normalise_pmcid(match.group(1))
        if pmcid and pmcid not in found:
            found.append(pmcid)
    return found


def normalise_orcid(value: str | None) -> str | None:
    """'https://orcid.org/0000-0002-1825-0097' -> '0000-0002-1825-0097'; None otherwise."""
    if not value:
        return None
    match = _ORCID.search(value)
    if not match:
        return None
    return "-".join(match.groups()).upper()
