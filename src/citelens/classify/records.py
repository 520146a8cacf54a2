"""JSON lines of citation statements -> the same records with a label and a confidence.

The core of `citelens classify` and `citelens evaluate`: a malformed line becomes an error that
names its line number, and every other line is still classified, in batches.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from citelens.classify.base import Classifier, ClassifyInput
from citelens.classify.metrics import Evaluation, evaluate_predictions
from citelens.errors import InputError
from citelens.model import Label, SectionType

SECTION_TYPES = tuple(kind.value for kind in SectionType)


@dataclass(frozen=True, slots=True)
class LineError:
    line: int
    problem: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.problem}"


def parse_statement_line(line: str, number: int) -> tuple[dict[str, Any], ClassifyInput]:
    """One JSON line {"id", "text", "before"?, "after"?, "target"?, "section"?} ->
    (record, input). `section` is a section type (introduction, methods, results, discussion,
    conclusion, other).

    Raises ValueError with the problem (the caller adds the line number).
    """
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(f"not JSON ({error.msg} at column {error.colno})") from None
    if not isinstance(record, dict):
        raise ValueError("expected a JSON object")
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError('missing or empty "text"')
    for key in ("before", "after", "target", "section"):
        if record.get(key) is not None and not isinstance(record[key], str):
            raise ValueError(f'"{key}" must be a string')
    section = (record.get("section") or "").strip().lower() or None
    if section is not None and section not in SECTION_TYPES:
        raise ValueError(f'"section" {section!r} is not one of {", ".join(SECTION_TYPES)}')
    span = None
    target = record.get("target")
    if target:
        start = text.find(target)
        if start < 0:
            raise ValueError(f'target {target!r} does not occur in "text"')
        span = (start, start + len(target))
    item = ClassifyInput(text, record.get("before") or "", record.get("after") or "", span,
                         section)
    return record, item


def classify_lines(
    lines: Iterable[str], classifier: Classifier, batch_size: int = 256
) -> Iterator[dict[str, Any] | LineError]:
    """Each non-blank line's record with `label` and `confidence` added, or its LineError,
    in input order."""
    pending: list[tuple[int, dict[str, Any] | LineError, ClassifyInput | None]] = []

    def flush() -> Iterator[dict[str, Any] | LineError]:
        items = [item for _, _, item in pending if item is not None]
        predictions = iter(classifier.predict(items)) if items else iter(())
        for _, record, item in pending:
            if item is None or isinstance(record, LineError):
                yield record
                continue
            prediction = next(predictions)
            yield record | {"label": prediction.label.value,
                            "confidence": round(prediction.confidence, 4)}
        pending.clear()

    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record, item = parse_statement_line(line, number)
            pending.append((number, record, item))
        except ValueError as error:
            pending.append((number, LineError(number, str(error)), None))
        if len(pending) >= batch_size:
            yield from flush()
    yield from flush()


def gold_label(record: dict[str, Any]) -> Label:
    """The gold `label` of an evaluation record; ValueError when absent or unknown."""
    value = record.get("label")
    try:
        return Label(value)
    except ValueError:
        raise ValueError(f"gold label {value!r} is not one of "
                         + ", ".join(label.value for label in Label)) from None


def evaluate_lines(
    lines: Iterable[str], classifier: Classifier, batch_size: int = 256
) -> tuple[Evaluation, list[LineError]]:
    """Score `classifier` on JSON lines that carry a gold `label`; bad lines come back apart."""
    errors: list[LineError] = []
    items: list[ClassifyInput] = []
    gold: list[Label] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record, item = parse_statement_line(line, number)
            gold.append(gold_label(record))
            items.append(item)
        except ValueError as error:
            errors.append(LineError(number, str(error)))
    if not items:
        raise InputError("evaluation file", "no valid labelled statements")
    predictions = []
    for at in range(0, len(items), batch_size):
        predictions.extend(classifier.predict(items[at : at + batch_size]))
    result = evaluate_predictions(
        gold, [p.label for p in predictions], [p.confidence for p in predictions]
    )
    return result, errors
