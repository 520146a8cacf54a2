"""A citation context -> what the model reads: marked text and a vector of cue-lexicon features.

The target callout becomes "[TARGET]" and other callouts in the sentence "[OTHER]", so the encoder
sees whom the sentence is about; the cue features carry the agreement / disagreement phrases.
"""

from __future__ import annotations

import re

import numpy as np

from citelens.classify.base import ClassifyInput
from citelens.classify.baseline import _CONTRASTING, _SUPPORTING, cue_window

TARGET_TOKEN = "[TARGET]"
OTHER_TOKEN = "[OTHER]"

# Callouts the statement does not mark: numeric brackets "[ 12,16-21]", superscript-like
# "(3, 4)", and author-year parentheses "(Smith et al., 2010; Jones 2011a)".
_OTHER_CALLOUT = re.compile(
    r"\[\s*\d[\d,\s\-–;]*\]"
    r"|\(\s*\d{1,3}(?:\s*[,\-–]\s*\d{1,3})*\s*\)"
    r"|\([^()]{0,120}?\b(?:19|20)\d\d[a-z]?\)"
)

_WORD_CUES: dict[str, re.Pattern[str]] = {
    "negation": re.compile(r"\b(?:not|no|neither|nor|without|never|none|lack(?:ed|s)?)\b", re.I),
    "concession": re.compile(r"\b(?:however|but|although|though|whereas|while|yet|despite)\b",
                             re.I),
    "own_work": re.compile(r"\b(?:we|our|us|this study|the present study|current study)\b", re.I),
    "comparison": re.compile(
        r"\b(?:higher|lower|greater|smaller|larger|more|less|fewer|increase[ds]?|decrease[ds]?|"
        r"reduc(?:ed|es|tion)|improv(?:ed|es|ement)|better|worse|significant(?:ly)?)\b", re.I),
    "hedge": re.compile(r"\b(?:may|might|could|suggest(?:s|ed)?|possibl[ey]|likely)\b", re.I),
    "finding": re.compile(r"\b(?:found|find|showed?|shown|demonstrat\w+|report\w*|observ\w+|"
                          r"result\w*|finding\w*|effect\w*)\b", re.I),
    "previous": re.compile(r"\b(?:previous(?:ly)?|prior|earlier|other (?:studies|trials|authors)"
                           r"|several (?:studies|trials)|literature)\b", re.I),
    "method": re.compile(r"\b(?:used|using|as described|according to|method\w*|protocol|"
                         r"performed|measured|assessed|defined|calculated)\b", re.I),
}

CUE_FEATURE_NAMES: tuple[str, ...] = (
    "contrast_cue_near",
    "support_cue_near",
    "contrast_cue_context",
    "support_cue_context",
    *(f"{name}_count" for name in _WORD_CUES),
    "other_callouts",
    "log_length",
    "target_position",
)


def callout_spans(text: str) -> list[tuple[int, int]]:
    """[start, end) of each callout in `text` that the callout pattern finds."""
    return [m.span() for m in _OTHER_CALLOUT.finditer(text)]


def marked_text(item: ClassifyInput) -> str:
    """The citing sentence with the target callout as [TARGET] and other callouts as [OTHER]."""
    if item.target is None:
        return _OTHER_CALLOUT.sub(OTHER_TOKEN, item.text)
    start, end = item.target
    head = _OTHER_CALLOUT.sub(OTHER_TOKEN, item.text[:start])
    tail = _OTHER_CALLOUT.sub(OTHER_TOKEN, item.text[end:])
    return f"{head}{TARGET_TOKEN}{tail}"


def cue_features(item: ClassifyInput) -> np.ndarray:
    """Counts of cue phrases and a few shape features, in CUE_FEATURE_NAMES order."""
    near = cue_window(item)
    context = f"{item.before} {item.text} {item.after}"
    values = [
        float(bool(_CONTRASTING.search(near))),
        float(bool(_SUPPORTING.search(near))),
        float(bool(_CONTRASTING.search(context))),
        float(bool(_SUPPORTING.search(context))),
    ]
    values.extend(float(len(pattern.findall(item.text))) for pattern in _WORD_CUES.values())
    values.append(float(len(_OTHER_CALLOUT.findall(item.text))))
    values.append(float(np.log1p(len(item.text))))
    position = item.target[0] / max(len(item.text), 1) if item.target else 0.5
    values.append(position)
    return np.asarray(values, dtype=np.float32)


def cue_matrix(items: list[ClassifyInput]) -> np.ndarray:
    """cue_features for a batch, one row per item."""
    if not items:
        return np.zeros((0, len(CUE_FEATURE_NAMES)), dtype=np.float32)
    return np.stack([cue_features(item) for item in items])
