"""Work identity keys and the pure fuzzy matcher, on records built here."""

from __future__ import annotations

from citelens.identity import fold, raw_key, shares_author, title_key, work_key
from citelens.model import Author
from citelens.resolve import WorkSketch, match_stubs

DOE = [Author("Doe", "Jane")]


def sketch(
    work_id: int, title: str, year: int | None = 2010, family: str = "doe", full_text: bool = False
):
    return WorkSketch(work_id, fold(title), year, family, full_text)


def test_work_key_prefers_doi_then_pmid_then_pmcid_then_title() -> None:
    common = {"title": "A title", "year": 2001, "authors": DOE}
    assert (
        work_key(doi="https://doi.org/10.1234/ABC", pmid="1", pmcid="PMC2", **common)
        == "doi:10.1234/abc"
    )
    assert work_key(doi=None, pmid="PMID: 0012", pmcid="PMC2", **common) == "pmid:12"
    assert work_key(doi=None, pmid=None, pmcid="pmc 77", **common) == "pmcid:PMC77"
    assert work_key(doi="not a doi", pmid=None, pmcid=None, **common).startswith("t:")
    assert work_key(doi=None, pmid=None, pmcid=None, title=None, year=2001, authors=DOE) is None


def test_title_key_ignores_case_punctuation_and_diacritics_but_not_year_or_author() -> None:
    key = title_key("Über die Zellteilung: a study", 1999, [Author("Müller", "K")])
    assert key == title_key("uber die zellteilung - A STUDY.", 1999, [Author("Muller", "Karl")])
    assert key != title_key("Uber die Zellteilung: a study", 2000, [Author("Muller", "K")])
    assert key != title_key("Uber die Zellteilung: a study", 1999, [Author("Miller", "K")])
    assert raw_key("Doe J. 2001. Notes.") == raw_key("doe j 2001 notes")


def test_shares_author() -> None:
    assert shares_author(
        [Author("Ng", "A", "0000-0001-2345-6789")],
        [Author("X", "Y", "https://orcid.org/0000-0001-2345-6789")],
    )
    assert shares_author([Author("García", "María")], [Author("Garcia", "M.")])
    assert not shares_author([Author("Garcia", "Maria")], [Author("Garcia", "J")])
    assert not shares_author([Author("Garcia", "")], [Author("Garcia", "")])  # no initial: unsure


def test_match_tolerates_typo_year_and_author_spelling() -> None:
    works = [
        sketch(1, "Dynamics of membrane proteins in living cells", 2015, "lee", True),
        sketch(2, "Cryo-EM enters a new era", 2014, "kuhlbrandt", True),
    ]
    stubs = [
        sketch(10, "Dynamics of membrane protiens in living cells", 2014, "lee"),
        sketch(11, "Cryo-EM enters a new era", 2014, "kuehlbrandt"),
    ]
    found = {m.stub_id: (m.work_id, m.score) for m in match_stubs(stubs, works)}
    assert found[10][0] == 1 and 90 <= found[10][1] < 100
    assert found[11] == (2, 100.0)


def test_no_match_across_years_authors_data_sets_or_different_titles() -> None:
    works = [
        sketch(1, "Comment on a paper about dosage compensation in flies", 2013, "ferrari"),
        sketch(2, "Postnatal development of sound transformations: binaural cues", 2009, "tollin"),
        sketch(3, "The contrasting phylodynamics of human influenza B viruses", 2015, "vij", True),
        sketch(4, "A long enough title about one specific protein complex", 2010, "doe"),
    ]
    stubs = [
        sketch(10, "Comment on a paper about dosage compensation in flies", 2013, "straub"),
        sketch(
            11, "Chromatin states in dividing yeast cells and their inheritance", 2009, "tollin"
        ),
        sketch(
            12, "Data from: The contrasting phylodynamics of human influenza B viruses", 2015, "vij"
        ),
        sketch(13, "A long enough title about one specific protein complex", 2012, "doe"),
    ]
    assert match_stubs(stubs, works) == []


def test_ties_go_to_the_full_text_work_and_authorless_titles_must_be_long() -> None:
    title = "Physiological and stem cell compartmentalization within the Drosophila midgut"
    works = [
        sketch(1, title, 2013, "marianes", full_text=False),  # a figure DOI of the same article
        sketch(2, title, 2013, "marianes", full_text=True),
        sketch(3, "Editorial", 2013, ""),
    ]
    stubs = [
        sketch(10, title, 2013, "marianes"),
        sketch(11, title, 2013, ""),
        sketch(12, "Editorial", 2013, ""),
    ]
    found = {m.stub_id: m.work_id for m in match_stubs(stubs, works)}
    assert found == {10: 2, 11: 2}
