"""The shipped classifier: lexical scores plus fine-tuned encoder logits, calibrated together.

score = lexical scores + mix * encoder logits; label and confidence from
softmax((score + offsets) / temperature). A cheap first pass runs the lexical model alone and
keeps its answer where its own calibrated confidence is at least `first_pass`; only the rest go
through the encoder (most statements are plain mentions the lexical model is sure of).

The encoder part lives in classify/models/encoder.npz: the LoRA adapter and head
(classify/finetune.py), the mix weight, offsets, temperature, first-pass threshold, and the
digest of the lexical model it was calibrated with: the pair is loaded together or not at all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from citelens.classify.base import ClassifyInput, Prediction
from citelens.classify.calibration import softmax
from citelens.classify.finetune import Adapter, EncoderScorer, load_adapter, save_adapter
from citelens.classify.lexical import DEFAULT_MODEL, LexicalModel, load_model
from citelens.classify.metrics import LABELS
from citelens.classify.scope import CLAUSE_WEIGHT, version_suffix, with_clause_views
from citelens.classify.section_prior import load_factors, prior_path, shift_to_sections
from citelens.classify.usage import use_sections, use_suffix
from citelens.errors import ModelError

DEFAULT_ENCODER_MODEL = DEFAULT_MODEL.parent / "encoder.npz"


def combine(lexical_scores: np.ndarray, encoder_logits: np.ndarray, mix: float) -> np.ndarray:
    """The combined class scores (before offsets and temperature)."""
    return lexical_scores + mix * encoder_logits


def first_pass_probabilities(
    lexical_scores: np.ndarray,
    lexical_calibration: tuple[np.ndarray, float],
    encode: Callable[[np.ndarray], np.ndarray],
    model: CombinedModel,
    sections: Sequence[str | None] = (),
    factors: dict[str, float] | None = None,
) -> tuple[np.ndarray, int]:
    """Calibrated probabilities: the lexical model's (offsets, temperature) where its confidence
    reaches `model.first_pass`, the combined scores' elsewhere. `encode(rows)` gives the encoder
    logits of those rows only. With `factors`, both are first moved to each row's section prior
    (`sections`, one per row), so a statement the prior makes sure of skips the encoder.
    Returns the probabilities and how many rows were encoded."""
    offsets, temperature = lexical_calibration
    p = softmax((lexical_scores + offsets) / temperature)
    if factors:
        p = shift_to_sections(p, sections, factors)
    unsure = np.flatnonzero(p.max(axis=1) < model.first_pass)
    if unsure.size:
        scores = combine(lexical_scores[unsure], encode(unsure), model.mix)
        q = softmax((scores + model.offsets) / model.temperature)
        if factors:
            q = shift_to_sections(q, [sections[i] for i in unsure], factors)
        p[unsure] = q
    return p, int(unsure.size)


@dataclass(slots=True)
class CombinedModel:
    adapter: Adapter
    mix: float
    offsets: np.ndarray
    temperature: float
    first_pass: float  # lexical confidence at or above which the encoder is skipped (> 1: never)
    lexical_digest: str  # sha256 of the lexical model file this was calibrated with
    meta: dict[str, Any] = field(default_factory=dict)


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_combined(model: CombinedModel, path: Path) -> None:
    save_adapter(model.adapter, path, {
        "mix": np.array([model.mix]),
        "offsets": np.asarray(model.offsets, dtype=np.float64),
        "temperature": np.array([model.temperature]),
        "first_pass": np.array([model.first_pass]),
        "lexical_digest": np.array(model.lexical_digest),
        "meta": np.array(json.dumps(model.meta, sort_keys=True)),
    })


def load_combined(path: Path) -> CombinedModel:
    if not path.is_file():
        raise ModelError(f"{path}: encoder model not found (rebuild it with `citelens train`)")
    try:
        with np.load(path, allow_pickle=False) as data:
            return CombinedModel(
                adapter=load_adapter(data),
                mix=float(data["mix"][0]),
                offsets=np.asarray(data["offsets"], dtype=np.float64),
                temperature=float(data["temperature"][0]),
                first_pass=float(data["first_pass"][0]),
                lexical_digest=str(data["lexical_digest"]),
                meta=json.loads(str(data["meta"])),
            )
    except (OSError, KeyError, ValueError) as error:
        raise ModelError(f"{path}: not a citelens encoder model ({error})") from error


class CombinedClassifier:
    """Lexical first pass, then lexical + encoder for the statements it is unsure of."""

    def __init__(self, lexical_path: Path = DEFAULT_MODEL,
                 path: Path = DEFAULT_ENCODER_MODEL, threads: int | None = None,
                 use_rule: bool = True) -> None:
        self.model = load_combined(path)
        digest = file_digest(lexical_path)
        if digest != self.model.lexical_digest:
            raise ModelError(f"{path} was calibrated with another lexical model than "
                             f"{lexical_path}: rebuild both with `citelens train`")
        self.lexical: LexicalModel = load_model(lexical_path)
        self.scorer = EncoderScorer(self.model.adapter, threads=threads)
        prior = prior_path(lexical_path)
        self.factors = load_factors(prior)
        self.use_rule = use_rule  # statements of use take the methods prior (usage.py)
        self.version = (f"lexical+minilm-lora-{digest[:6]}"
                        f"{hashlib.sha256(path.read_bytes()).hexdigest()[:6]}"
                        + (f"+sp{file_digest(prior)[:6]}" if self.factors else "")
                        + version_suffix() + (use_suffix() if self.factors and use_rule else ""))
        self.encoded = 0  # statements that went through the encoder (for benchmarks)

    def probabilities(self, items: Sequence[ClassifyInput]) -> np.ndarray:
        """Calibrated class probabilities: lexical where it is sure, combined elsewhere; a
        statement whose target has a clause of its own also reads that clause (scope.py)."""
        if not items:
            return np.zeros((0, len(LABELS)))
        return with_clause_views(items, self._sentence_probabilities, CLAUSE_WEIGHT)

    def _sentence_probabilities(self, items: Sequence[ClassifyInput]) -> np.ndarray:
        p, encoded = first_pass_probabilities(
            self.lexical.scores(items), (self.lexical.offsets, self.lexical.temperature),
            lambda rows: self.scorer.logits([items[i] for i in rows]), self.model,
            use_sections(items, self.use_rule), self.factors)
        self.encoded += encoded
        return p

    def predict(self, items: Sequence[ClassifyInput]) -> list[Prediction]:
        p = self.probabilities(items)
        chosen = p.argmax(axis=1)
        return [Prediction(LABELS[c], float(np.clip(p[i, c], 0.0, 1.0)))
                for i, c in enumerate(chosen)]
