"""Identifier normalisation: DOIs, PMIDs, PMCIDs and ORCIDs as publishers print them."""

from __future__ import annotations

import pytest

from citelens.identifiers import (
    find_dois,
    find_pmcids,
    find_pmids,
    normalise_doi,
    normalise_orcid,
    normalise_pmcid,
    normalise_pmid,
)


@pytest.mark.parametrize(
    ("raw", "doi"),
    [
        ("10.1038/NRMICRO1460", "10.1038/nrmicro1460"),
        ("https://doi.org/10.7554/eLife.00011", "10.7554/elife.00011"),
        ("http://dx.doi.org/10.1038/Nsmb.1455", "10.1038/nsmb.1455"),
        ("https://www.doi.org/10.1000/abc", "10.1000/abc"),
        ("doi:10.1000/abc", "10.1000/abc"),
        ("DOI: 10.1000/abc", "10.1000/abc"),
        ("doi: https://doi.org/10.1000/abc", "10.1000/abc"),
        ("  10.1000/abc.  ", "10.1000/abc"),
        ("10.1000/abc;", "10.1000/abc"),
        ("10.1000/abc),", "10.1000/abc"),
        ("https://doi.org/10.1002%2F%28SICI%291097-4636", "10.1002/(sici)1097-4636"),
        ("10.1016/0006-2952(91)90053-9", "10.1016/0006-2952(91)90053-9"),
        ("10.1146/ annurev.earth.33.031504.103001", "10.1146/annurev.earth.33.031504.103001"),
        ("", None),
        (None, None),
        ("not a doi", None),
        ("10.12/too-short-registrant", None),
        ("https://example.org/10.1000", None),
    ],
)
def test_normalise_doi(raw: str | None, doi: str | None) -> None:
    assert normalise_doi(raw) == doi


def test_find_dois_in_free_text() -> None:
    text = (
        "Smith J. A work. J 1:2 (2001). doi:10.1000/xyz123, see also "
        "https://doi.org/10.5555/ABC). And 10.1000/xyz123 again."
    )
    assert find_dois(text) == ["10.1000/xyz123", "10.5555/abc"]
    assert find_dois("no identifiers here") == []


@pytest.mark.parametrize(
    ("raw", "pmid"),
    [
        ("12345", "12345"),
        ("PMID: 0012345", "12345"),
        (12345, "12345"),
        ("abc", None),
        ("0", None),
        ("1234567890", None),
        (None, None),
    ],
)
def test_normalise_pmid(raw: str | int | None, pmid: str | None) -> None:
    assert normalise_pmid(raw) == pmid


@pytest.mark.parametrize(
    ("raw", "pmcid"),
    [
        ("PMC123", "PMC123"),
        ("pmc 123", "PMC123"),
        ("123", "PMC123"),
        ("PMCID: PMC77", "PMC77"),
        ("PMCabc", None),
        (None, None),
    ],
)
def test_normalise_pmcid(raw: str | None, pmcid: str | None) -> None:
    assert normalise_pmcid(raw) == pmcid


def test_find_pmids_and_pmcids() -> None:
    text = "Cited as PMID: 16845428; PMID 123. Free text PMC3333 and PMCID: PMC4444."
    assert find_pmids(text) == ["16845428", "123"]
    assert find_pmcids(text) == ["PMC3333", "PMC4444"]


def test_normalise_orcid() -> None:
    assert normalise_orcid("https://orcid.org/0000-0002-1825-0097") == "0000-0002-1825-0097"
    assert normalise_orcid("0000000218250097") == "0000-0002-1825-0097"
    assert normalise_orcid("0000-0001-5109-370x") == "0000-0001-5109-370X"
    assert normalise_orcid("orcid") is None
