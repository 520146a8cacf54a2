"""Citation classifiers: a citation context in, supporting / mentioning / contrasting out.

`load_classifier(name)` picks one: "baseline" (cue phrases, no dependencies) or "default"
(the trained lexical model shipped in classify/models/default.npz; needs only numpy).
"""

from __future__ import annotations

from citelens.classify.base import Classifier, ClassifyInput, Prediction
from citelens.classify.baseline import CueBaseline
from citelens.errors import ModelError

__all__ = ["Classifier", "ClassifyInput", "CueBaseline", "Prediction", "load_classifier"]

CLASSIFIER_NAMES = ("default", "baseline")


def load_classifier(name: str = "default") -> Classifier:
    """The classifier called `name`; raises ModelError for an unknown name or a missing model."""
    if name == "baseline":
        return CueBaseline()
    if name == "default":
        from citelens.classify.lexical import LexicalClassifier

        return LexicalClassifier()
    raise ModelError(f"unknown classifier {name!r}: choose one of {', '.join(CLASSIFIER_NAMES)}")
