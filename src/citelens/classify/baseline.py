"""Cue-phrase baseline: a citation context in, supporting / mentioning / contrasting out.

Looks for agreement and disagreement phrases in the citing sentence, near the target callout
when its span is known. Cheap, dependency-free, and the fallback when the shipped model
cannot be read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from citelens.classify.base import ClassifyInput, Prediction
from citelens.model import Label

# Phrases that say the citing paper's findings disagree with the cited ones. Bare "however"
# and "not" are left out on purpose: they mark contrast between clauses far more often than
# disagreement with a reference.
CONTRASTING_CUES: tuple[str, ...] = (
    r"in contrast (?:to|with)",
    r"contrary to",
    r"\bunlike\b",
    r"\b(?:not |in)consistent with",
    r"not in (?:agreement|accordance|line) with",
    r"\bdisagree",
    r"\bcontradict",
    r"\bconflict(?:s|ing)? with",
    r"\bfail(?:ed|s)? to (?:confirm|replicate|reproduce|find|show|detect|observe)",
    r"\bdiffer(?:s|ed|ent)? from (?:those|that|the results|the findings|previous|earlier)",
    r"\bopposite to",
    r"\bwas not (?:confirmed|replicated|observed|found)",
    r"\bcould not (?:confirm|replicate|reproduce)",
    r"\brefute",
    r"\bdoes not support",
    r"\bdid not (?:find|show|observe|confirm|support)",
)

# Phrases that say the citing paper's findings agree with, confirm or replicate the cited ones.
SUPPORTING_CUES: tuple[str, ...] = (
    r"(?<!in)consistent with",
    r"in (?:agreement|accordance|line|keeping) with",
    r"\bagree(?:s|d)? with",
    r"\bconfirm(?:s|ed|ing)?\b",
    r"\bcorroborat",
    r"\breplicat(?:e|es|ed|ing)\b",
    r"\bsimilar (?:to|results|findings|observations)",
    r"\bsimilarly\b",
    r"\bcomparable (?:to|with)",
    r"\bsupport(?:s|ed|ing)? (?:the|our|these|this|previous|earlier|findings)",
    r"\bas (?:previously )?(?:reported|observed|shown|described) (?:by|in|previously)",
    r"\bmatch(?:es|ed)? (?:the|those|previous)",
    r"\bin concordance with",
)

_CONTRASTING = re.compile("|".join(CONTRASTING_CUES), re.IGNORECASE)
_SUPPORTING = re.compile("|".join(SUPPORTING_CUES), re.IGNORECASE)

# Characters either side of the target callout in which a cue counts; a cue in another clause
# of a long sentence is usually about another reference.
CUE_WINDOW = 160

# Confidence of each decision: the precision each rule had on all 3,304 clinical statements
# (measured 2026-11-30; re-measure with `citelens evaluate` after changing the cue lists).
BASELINE_CONFIDENCE: dict[Label, float] = {
    Label.CONTRASTING: 0.50,
    Label.SUPPORTING: 0.85,
    Label.MENTIONING: 0.82,
}


def cue_window(item: ClassifyInput) -> str:
    """The part of the citing sentence that a cue must fall in to be about the target."""
    if item.target is None:
        return item.text
    start, end = item.target
    return item.text[max(0, start - CUE_WINDOW) : end + CUE_WINDOW]


def classify_by_cues(item: ClassifyInput) -> Label:
    """The label the cue phrases give one citation context; contrast wins over agreement."""
    window = cue_window(item)
    if _CONTRASTING.search(window):
        return Label.CONTRASTING
    if _SUPPORTING.search(window):
        return Label.SUPPORTING
    return Label.MENTIONING


class CueBaseline:
    """The cue-phrase classifier; satisfies the Classifier protocol."""

    version = "baseline-cues-1"

    def predict(self, items: Sequence[ClassifyInput]) -> list[Prediction]:
        predictions = []
        for item in items:
            label = classify_by_cues(item)
            predictions.append(Prediction(label, BASELINE_CONFIDENCE[label]))
        return predictions
