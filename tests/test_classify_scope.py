"""The target's clause (classify/scope.py): where sentences are cut, and how the views merge."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from citelens.classify.base import ClassifyInput
from citelens.classify.scope import clauses, merge_views, scoped, target_scope, with_clause_views


def _item(text: str, callout: str, **extra: str) -> ClassifyInput:
    start = text.index(callout)
    return ClassifyInput(text, target=(start, start + len(callout)), **extra)


def _clause(text: str, callout: str) -> str | None:
    view = scoped(_item(text, callout))
    return None if view is None else view.text


@pytest.mark.parametrize("text", [
    "Our results agree with [1] but contradict [2].",
    "Unlike [12], we found no association; this agrees with [13], whereas [14] differs.",
    "",
    "No callout, but a conjunction.",
])
def test_clauses_tile_the_sentence(text: str) -> None:
    spans = clauses(text)
    assert "".join(text[a:b] for a, b in spans) == text
    assert all(a < b for a, b in spans)


def test_each_callout_gets_its_own_clause_at_a_contrastive_word_or_a_semicolon() -> None:
    text = "Our results agree with [1] but contradict [2]."
    assert _clause(text, "[1]") == "Our results agree with [1]"
    assert _clause(text, "[2]") == "but contradict [2]."
    text = ("These findings are consistent with Smith et al. (2010) but not with "
            "Jones et al. (2012).")
    assert _clause(text, "Jones et al. (2012)") == "but not with Jones et al. (2012)."
    text = "Mortality fell in [3]; it rose in [4]."
    assert _clause(text, "[3]") == "Mortality fell in [3]"
    assert _clause(text, "[4]") == "it rose in [4]."
    text = "Our data confirm [10], whereas they are at odds with [11]."
    assert _clause(text, "[11]") == "whereas they are at odds with [11]."


def test_an_opening_phrase_about_one_work_ends_at_its_comma() -> None:
    text = "In contrast to [3], we observed no effect, in line with [4]."
    assert _clause(text, "[3]") == "In contrast to [3]"
    assert _clause(text, "[4]") == "we observed no effect, in line with [4]."


def test_callouts_sharing_a_clause_share_the_sentence() -> None:
    # A list of works that showed the same thing, and a sentence with one callout: no cut.
    assert _clause("Smith [1], Jones [2] and Lee [3] showed an increase.", "[2]") is None
    assert _clause("Our results agree with [1], but the effect was small.", "[1]") is None
    assert _clause("Consistent with [5, 6] and (Lee et al., 2001), we saw it.", "[5, 6]") is None
    assert scoped(ClassifyInput("Our results agree with [1] but contradict [2].")) is None


def test_the_clause_keeps_the_target_its_neighbours_and_its_section() -> None:
    item = _item("Unlike Smith et al. (2010), we found that X rose (Lee 2012).", "(Lee 2012)",
                 before="Before.", after="After.", section="discussion")
    view = scoped(item)
    assert view is not None
    assert view.text == "we found that X rose (Lee 2012)."
    assert view.target is not None
    assert view.text[view.target[0]:view.target[1]] == "(Lee 2012)"
    assert (view.before, view.after, view.section) == ("Before.", "After.", "discussion")
    assert target_scope(item.text, item.target or (0, 0)) == (item.text.index("we"),
                                                              len(item.text))


def test_merge_views_is_a_weighted_geometric_mean() -> None:
    whole = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]])
    clause = np.array([[0.1, 0.2, 0.7], [0.1, 0.8, 0.1]])
    assert np.allclose(merge_views(whole, clause, 0.0), whole)
    assert np.allclose(merge_views(whole, clause, 1.0), clause)
    half = merge_views(whole, clause, 0.5)
    root = np.sqrt(whole * clause)
    assert np.allclose(half, root / root.sum(axis=1, keepdims=True))
    assert half[0, 0] == pytest.approx(half[0, 2])  # 0.7 x 0.1 either way round
    assert np.allclose(half[1], whole[1])  # views that agree stay as they were


def test_with_clause_views_reads_each_clause_once_more() -> None:
    calls: list[list[str]] = []

    def probabilities(items: Sequence[ClassifyInput]) -> np.ndarray:
        calls.append([item.text for item in items])
        # A reader that sees only words: "contradict" anywhere reads as contrasting.
        return np.array([[0.05, 0.05, 0.9] if "contradict" in item.text else [0.9, 0.05, 0.05]
                         for item in items])

    text = "Our results agree with [1] but contradict [2]."
    items = [_item(text, "[1]"), _item(text, "[2]"), _item("As in [9], cells grew.", "[9]")]
    whole = with_clause_views(items, probabilities, 0.0)
    assert list(whole.argmax(axis=1)) == [2, 2, 0] and len(calls) == 1
    calls.clear()
    merged = with_clause_views(items, probabilities, 0.75)
    assert list(merged.argmax(axis=1)) == [0, 2, 0]
    assert calls[1] == ["Our results agree with [1]", "but contradict [2]."]
    assert np.allclose(merged.sum(axis=1), 1.0)


def test_no_cut_inside_brackets() -> None:
    # A semicolon or a "but" inside a callout group is not a clause boundary.
    text = ("Members of the NPF family (Leran et al., 2013; Kanno et al., 2012) transport "
            "nitrate (Chiba et al., 2015).")
    assert _clause(text, "Kanno et al., 2012") is None
    assert clauses("X (a; b but c) y") == [(0, len("X (a; b but c) y"))]
    text = "Unlike (Lee et al., 2001; Kim, 2003), we saw it [4]."
    assert _clause(text, "[4]") == "we saw it [4]."
