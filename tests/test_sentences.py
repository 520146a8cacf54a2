"""split_sentences: abbreviations, numbers, initials, brackets and callouts at boundaries."""

from __future__ import annotations

import pytest

from citelens.sentences import protect_callouts, split_sentences


def _split(text: str, callouts: list[str] | None = None) -> list[str]:
    spans = []
    cursor = 0
    for surface in callouts or []:
        start = text.index(surface, cursor)
        spans.append((start, start + len(surface)))
        cursor = start + len(surface)
    protected = protect_callouts(text, spans)
    return [text[a:b] for a, b in split_sentences(text, protected)]


@pytest.mark.parametrize(
    "sentence",
    [
        "As Smith et al. showed in mice, it works.",
        "This is shown in Fig. 2 and in Figs. 3 and 4 below.",
        "Some strains, e.g. the mutant, grow faster.",
        "One strain, i.e. the mutant, grows faster.",
        "It took approx. 5 min to finish.",
        "As noted in ref. 12 and in refs. 13 and 14, it holds.",
        "Growth of E. coli was slower than of B. subtilis here.",
        "Treated vs. untreated cells differ.",
        "The book by J. Smith and A. B. Jones is cited.",
        "The effect was 0.05 in the first run and 1.5 in the second.",
        "The difference was significant (p < 0.05) in all runs.",
        "Samples were taken ca. 10 m apart.",
        "Our result differs, cf. the earlier model.",
        "Patient no. 5 recovered.",
        "As in Eq. 3 the rate doubles.",
        "See Suppl. Table 2 for the full list.",
        "The value (see Table 1. for details) was high.",
        'He called it "the best. result" in his notes.',
    ],
)
def test_one_sentence_stays_whole(sentence: str) -> None:
    text = f"{sentence} The next sentence follows."
    assert _split(text) == [sentence, "The next sentence follows."]


def test_plain_boundaries_and_offsets() -> None:
    text = "  First one.  Second one?\nThird one! Fourth"
    spans = split_sentences(text)
    assert [text[a:b] for a, b in spans] == ["First one.", "Second one?", "Third one!", "Fourth"]
    assert spans[0] == (2, 12)


def test_decimal_and_p_value_end_a_sentence() -> None:
    assert _split("The rate was p < 0.05. Then it fell.") == [
        "The rate was p < 0.05.",
        "Then it fell.",
    ]


def test_quotes_and_parentheses_end_a_sentence() -> None:
    assert _split('He said "It works." Then he left. (This was new.) Fine.') == [
        'He said "It works."',
        "Then he left.",
        "(This was new.)",
        "Fine.",
    ]


def test_callout_on_boundary_goes_with_the_sentence_before() -> None:
    text = "It was shown before. [12] Next we show it."
    assert _split(text, ["12"]) == ["It was shown before. [12]", "Next we show it."]


def test_superscript_callout_after_full_stop() -> None:
    text = "It was shown before.12,13 Next we show it."
    assert _split(text, ["12", "13"]) == ["It was shown before.12,13", "Next we show it."]


def test_author_year_callout_with_abbreviation_inside_never_splits() -> None:
    text = "Cells die (Smith et al., 2001; Jones et al., 2002). They do."
    assert _split(text, ["Smith et al., 2001", "Jones et al., 2002"]) == [
        "Cells die (Smith et al., 2001; Jones et al., 2002).",
        "They do.",
    ]


def test_narrative_callout_starts_the_next_sentence() -> None:
    text = "It was known. Smith et al. (2001) showed why. More."
    assert _split(text, ["Smith et al. (2001)"]) == [
        "It was known.",
        "Smith et al. (2001) showed why.",
        "More.",
    ]


def test_protected_span_never_holds_a_boundary() -> None:
    text = "Known before (see A. B. Smith. Nature. 2001) and since. Then more."
    start = text.index("see")
    end = text.index(")")
    spans = split_sentences(text, [(start, end)])
    for a, b in spans:
        assert not (a < start < b < end or start < a < end)
    assert [text[a:b] for a, b in spans][-1] == "Then more."


def test_stray_parenthesis_does_not_silence_the_paragraph() -> None:
    assert _split("Steps: 1) grow. Then harvest. Done.") == [
        "Steps: 1) grow.",
        "Then harvest.",
        "Done.",
    ]


def test_soft_abbreviations_end_sentences_before_capitals() -> None:
    assert _split("Spin for 5 min. The pellet was kept, etc. Then dry.") == [
        "Spin for 5 min.",
        "The pellet was kept, etc.",
        "Then dry.",
    ]


def test_empty_and_space_only_text() -> None:
    assert split_sentences("") == []
    assert split_sentences("   ") == []


def test_protect_callouts_joins_runs_and_takes_brackets() -> None:
    text = "Seen [3]–[5], [9] and (Smith, 2001; Jones, 2002) here."
    spans = [(6, 7), (10, 11), (15, 16), (23, 34), (36, 47)]
    assert [text[a:b] for a, b in spans] == ["3", "5", "9", "Smith, 2001", "Jones, 2002"]
    assert [text[a:b] for a, b in protect_callouts(text, spans)] == [
        "[3]–[5], [9]",
        "(Smith, 2001; Jones, 2002)",
    ]


def test_lower_case_gene_names_start_sentences() -> None:
    assert _split("Inserted into pDRFlip30. pDRFlip30 is a vector. We saw e.g. mRNA here.") == [
        "Inserted into pDRFlip30.",
        "pDRFlip30 is a vector.",
        "We saw e.g. mRNA here.",
    ]
    assert _split("Levels fell. mRNA levels rose. but not this.") == [
        "Levels fell.",
        "mRNA levels rose. but not this.",
    ]


def test_bullets_start_list_items() -> None:
    assert _split("Plan: ■ repeat five times ○ see power section ■ six conditions") == [
        "Plan:",
        "■ repeat five times",
        "○ see power section",
        "■ six conditions",
    ]
