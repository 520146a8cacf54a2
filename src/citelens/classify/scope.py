"""The part of a citing sentence that is about its target callout (the reference's scope).

A sentence can agree with one work and disagree with another: "Our results agree with [1] but
contradict [2]". Read whole, both callouts get the sentence's dominant reading. Following the
reference-scope idea of Abu-Jbara and Radev (2012), the sentence is cut into clauses at the
words that can switch the verdict from one work to another (but, whereas, although, unlike, in
contrast to, a semicolon, ...) and at the comma that closes an opening "Unlike [3], ..." or "In
line with [4], ..."; when another callout stands in another clause than the target, the
target's clause is a second view of the statement, which the classifiers read beside the
whole sentence (`merge_views`). A sentence whose callouts share one clause ("Smith [1], Jones [2]
and Lee [3] showed ...") has no second view: its targets share the verdict.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from itertools import pairwise

import numpy as np

from citelens.classify.base import ClassifyInput
from citelens.classify.features import callout_spans

# Weight of the clause's probabilities against the whole sentence's (merge_views), used by the
# lexical and default classifiers. Clinical grouped CV (benchmarks/target_scope.py, encoder
# seed 0): 0 -> 0.698, 0.25 -> 0.701, 0.5 -> 0.703, 0.75 -> 0.705, 1 -> 0.704; on MultiCite's
# test split (shipped model) 0.5 was best (0.631 -> 0.632) and 0.75 below none (0.630): 0.5.
CLAUSE_WEIGHT = 0.5

# Where a new clause starts: before a contrastive conjunction or preposition, or after a
# semicolon. The conjunction stays with the clause it opens.
_PIVOT = re.compile(
    r"(?:,\s*|\s+)(?=(?:but|whereas|while|although|though|however|yet|unlike|"
    r"in contrast (?:to|with)|contrary to|as opposed to|rather than)\b)|;\s*",
    re.IGNORECASE,
)
# A sentence-initial phrase about one work, closed by its comma: "Unlike [3], we ...".
_OPENER = re.compile(
    r"^\s*(?:unlike|in contrast (?:to|with)|contrary to|as opposed to|like|"
    r"in (?:line|agreement|accordance|keeping) with|consistent with|similar(?:ly)? to|"
    r"as (?:in|with|reported by|shown by))\b",
    re.IGNORECASE,
)
# What a clause may start with that belongs to the cut, not to the clause.
_LEAD = " ,;\t\n"


def _bracketed(text: str) -> list[bool]:
    """For each character, whether it stands inside parentheses or square brackets (where a
    callout group such as "(Lee et al., 2013; Kanno et al., 2012)" keeps its commas and
    semicolons); an unbalanced closing bracket is ignored."""
    inside, depth = [], 0
    for char in text:
        if char in "([":
            depth += 1
        inside.append(depth > 0)
        if char in ")]" and depth:
            depth -= 1
    return inside


def clauses(text: str) -> list[tuple[int, int]]:
    """[start, end) spans that tile `text`: its clauses, cut as the module docstring says, never
    inside brackets."""
    inside = _bracketed(text)
    cuts = {0, len(text)}
    opener = _OPENER.match(text)
    if opener:
        # The first comma after the opening words outside brackets, unless a semicolon comes
        # first (the pivots cut there).
        for match in re.finditer(r"[,;]", text[opener.end():]):
            at = opener.end() + match.start()
            if inside[at]:
                continue
            if match.group() == ",":
                cuts.add(at + 1)
            break
    cuts.update(m.start() for m in _PIVOT.finditer(text) if m.start() > 0 and not inside[m.start()])
    ordered = sorted(cuts)
    return [(a, b) for a, b in pairwise(ordered) if b > a]


def target_scope(text: str, target: tuple[int, int]) -> tuple[int, int] | None:
    """The [start, end) of the clause holding the target callout, trimmed of the cut's
    punctuation, when another callout stands in another clause; None when there is none."""
    start, end = target
    others = [(a, b) for a, b in callout_spans(text) if b <= start or a >= end]
    if not others:
        return None
    mine = next(((a, b) for a, b in clauses(text) if a <= start < b), None)
    if mine is None or all(mine[0] <= a < mine[1] for a, _ in others):
        return None
    a, b = mine
    while a < start and text[a] in _LEAD:
        a += 1
    while b > end and text[b - 1] in _LEAD:
        b -= 1
    return a, b


def scoped(item: ClassifyInput) -> ClassifyInput | None:
    """The statement cut to its target's clause (neighbours and section kept), or None when
    the whole sentence is the target's scope."""
    if item.target is None:
        return None
    span = target_scope(item.text, item.target)
    if span is None:
        return None
    a, b = span
    start, end = item.target
    return replace(item, text=item.text[a:b], target=(start - a, end - a))


def merge_views(whole: np.ndarray, clause: np.ndarray, weight: float) -> np.ndarray:
    """Probabilities from both views: the normalised weighted geometric mean, `weight` on the
    clause's (0: the whole sentence alone, 1: the clause alone). Rows sum to one."""
    logs = (1.0 - weight) * np.log(np.clip(whole, 1e-12, 1.0)) \
        + weight * np.log(np.clip(clause, 1e-12, 1.0))
    logs -= logs.max(axis=1, keepdims=True)
    p = np.exp(logs)
    return p / p.sum(axis=1, keepdims=True)


def version_suffix(weight: float = CLAUSE_WEIGHT) -> str:
    """What a classifier's version string carries for the clause views ("" when unused)."""
    return f"+clause{weight:g}" if weight > 0 else ""


def with_clause_views(items: Sequence[ClassifyInput],
                      probabilities: Callable[[Sequence[ClassifyInput]], np.ndarray],
                      weight: float) -> np.ndarray:
    """`probabilities(items)`, with each statement that has a clause of its own (`scoped`)
    merged with its clause's probabilities (`merge_views`; one more call for those)."""
    p = probabilities(items)
    if weight <= 0.0:
        return p
    views = [(row, view) for row, item in enumerate(items) if (view := scoped(item)) is not None]
    if views:
        rows = [row for row, _ in views]
        p[rows] = merge_views(p[rows], probabilities([view for _, view in views]), weight)
    return p
