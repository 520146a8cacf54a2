"""The Classifier interface: a batch of citation contexts in, a label and a confidence out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from citelens.model import Label


@dataclass(frozen=True, slots=True)
class ClassifyInput:
    """What a classifier sees for one (statement, cited reference) pair.

    `target` is the [start, end) span in `text` of the callout that points at the cited work
    (None when unknown); a sentence citing several works is classified once per target.
    `section` is the type of the section the statement stands in (a SectionType value such as
    "methods"; None when unknown): the models move their probabilities to that section's prior
    (classify/section_prior.py).
    """

    text: str
    before: str = ""
    after: str = ""
    target: tuple[int, int] | None = None
    section: str | None = None


@dataclass(frozen=True, slots=True)
class Prediction:
    label: Label
    confidence: float  # calibrated probability of `label`, in [0, 1]


class Classifier(Protocol):
    version: str

    def predict(self, items: Sequence[ClassifyInput]) -> list[Prediction]: ...
