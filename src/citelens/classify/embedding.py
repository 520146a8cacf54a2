"""Citation contexts -> labels with calibrated confidences, from a frozen MiniLM encoder plus the
trained head that citelens ships (classify/models/default.npz).

The head's metadata names the features it was trained on; this module rebuilds exactly those.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from citelens.classify.base import ClassifyInput, Prediction
from citelens.classify.encoder import Encoder
from citelens.classify.features import context_text, cue_matrix, marked_text
from citelens.classify.head import Head, load_head
from citelens.classify.metrics import LABELS
from citelens.errors import ModelError

DEFAULT_HEAD = Path(__file__).parent / "models" / "default.npz"

# Feature blocks a head can be trained on, in the order they are concatenated.
FEATURE_BLOCKS = ("marked", "context", "cues")


def feature_matrix(
    items: Sequence[ClassifyInput], blocks: Sequence[str], embed: Encoder | None
) -> np.ndarray:
    """The feature rows for `items`: the named blocks side by side."""
    parts = []
    for block in blocks:
        if block == "cues":
            parts.append(cue_matrix(list(items)))
        elif block in ("marked", "context"):
            if embed is None:
                raise ModelError(f"feature block {block!r} needs the encoder")
            text_of = marked_text if block == "marked" else context_text
            parts.append(embed.encode([text_of(item) for item in items]))
        else:
            raise ModelError(f"unknown feature block {block!r}: expected one of {FEATURE_BLOCKS}")
    return np.hstack(parts).astype(np.float64)


def predictions_from_probabilities(probabilities: np.ndarray) -> list[Prediction]:
    """The most probable label of each row, with its probability as the confidence."""
    chosen = probabilities.argmax(axis=1)
    return [
        Prediction(LABELS[c], float(np.clip(probabilities[i, c], 0.0, 1.0)))
        for i, c in enumerate(chosen)
    ]


class EmbeddingClassifier:
    """MiniLM sentence embeddings + cue features -> a linear head; a Classifier."""

    def __init__(self, head_path: Path = DEFAULT_HEAD, encoder: Encoder | None = None) -> None:
        self.head: Head = load_head(head_path)
        self.blocks: list[str] = list(self.head.meta.get("blocks", ["marked", "cues"]))
        needs_encoder = any(block != "cues" for block in self.blocks)
        self.encoder = encoder if encoder is not None or not needs_encoder else Encoder()
        digest = hashlib.sha256(head_path.read_bytes()).hexdigest()[:10]
        self.version = f"minilm-head-{digest}"

    def predict(self, items: Sequence[ClassifyInput]) -> list[Prediction]:
        if not items:
            return []
        features = feature_matrix(items, self.blocks, self.encoder)
        return predictions_from_probabilities(self.head.probabilities(features))
