"""Labelled citation-statement sets (files under shared/data/labeled) -> LabeledContext records.

Each loader maps its corpus's labels to supporting / mentioning / contrasting with the mapping
in the data README and keeps the citing article as the group, so splits never share an article.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from citelens.classify.base import ClassifyInput
from citelens.errors import InputError
from citelens.model import Label


@dataclass(frozen=True, slots=True)
class LabeledContext:
    """One citation context with its gold label and the citing article it comes from."""

    item: ClassifyInput
    label: Label
    group: str  # citing article id: the unit of every train/test split
    source: str  # corpus name, e.g. "clinical"
    split: str = "train"  # the corpus's own split where it has one


CLINICAL_LABELS = {
    "POSITIVE": Label.SUPPORTING,
    "NEGATIVE": Label.CONTRASTING,
    "NEUTRAL": Label.MENTIONING,
}
ATHAR_LABELS = {"p": Label.SUPPORTING, "n": Label.CONTRASTING, "o": Label.MENTIONING}
ACL_ARC_LABELS = {"Compares-Results": Label.SUPPORTING, "Contrasts-Results": Label.CONTRASTING}

_CITE_TAG = re.compile(r"<cite>(.*?)</cite>", re.DOTALL)


def parse_clinical(lines: Iterable[str], name: str = "clinical") -> Iterator[LabeledContext]:
    """Clinical citation sentiment JSONL: confirm / refute / neutral per callout `marker`."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        sentence, marker = row["sentence"], row["marker"]
        start = sentence.find(marker)
        if start < 0:
            raise InputError(f"{name}:{number}", f"marker {marker!r} is not in the sentence")
        label = CLINICAL_LABELS.get(row["label"])
        if label is None:
            raise InputError(f"{name}:{number}", f"unknown label {row['label']!r}")
        item = ClassifyInput(sentence, target=(start, start + len(marker)))
        yield LabeledContext(item, label, f"clinical:{row['doc_id']}", "clinical")


def multicite_label(intents: str) -> Label | None:
    """MultiCite's space-separated intents -> our label; None for the ambiguous both-ways ones."""
    names = set(intents.split())
    similar, different = "similarities" in names, "differences" in names
    if similar and different:
        return None
    if similar:
        return Label.SUPPORTING
    if different:
        return Label.CONTRASTING
    return Label.MENTIONING


def strip_cite_tags(tagged: str) -> tuple[str, tuple[int, int] | None]:
    """Text without <cite> tags and the span of the first tagged callout in it."""
    parts: list[str] = []
    target: tuple[int, int] | None = None
    last = 0
    length = 0
    for match in _CITE_TAG.finditer(tagged):
        parts.append(tagged[last : match.start()])
        length += match.start() - last
        if target is None:
            target = (length, length + len(match.group(1)))
        parts.append(match.group(1))
        length += len(match.group(1))
        last = match.end()
    parts.append(tagged[last:])
    return "".join(parts), target


def parse_multicite(
    one_sentence: list[dict], three_sentence: list[dict], split: str
) -> Iterator[LabeledContext]:
    """MultiCite classification files: the citing sentence(s), neighbours from the 3-context."""
    # A few 3-context rows come as a list of sentences instead of one string.
    wide = {
        row["id"]: row["x"] if isinstance(row["x"], str) else " ".join(row["x"])
        for row in three_sentence
    }
    for row in one_sentence:
        label = multicite_label(row["y"])
        if label is None or not row["x"]:
            continue
        tagged = " ".join(row["x"])
        before = after = ""
        context = wide.get(row["id"], "")
        at = context.find(tagged)
        if at >= 0:
            before = strip_cite_tags(context[:at])[0].strip()
            after = strip_cite_tags(context[at + len(tagged) :])[0].strip()
        text, target = strip_cite_tags(tagged)
        group = "multicite:" + row["id"].rsplit("_", 1)[0]
        yield LabeledContext(ClassifyInput(text, before, after, target), label, group, "multicite",
                             split)


def parse_acl_arc(lines: Iterable[str]) -> Iterator[LabeledContext]:
    """ACL-ARC (Jurgens et al.) citations: results comparisons and contrasts; Unknown dropped."""
    for line in lines:
        if not line.strip():
            continue
        row = json.loads(line)
        if row["label"] == "Unknown":
            continue
        label = ACL_ARC_LABELS.get(row["label"], Label.MENTIONING)
        sentence, cite = row["sentence_approx"], row["cite_text"]
        start = sentence.find(cite)
        target = (start, start + len(cite)) if start >= 0 else None
        yield LabeledContext(ClassifyInput(sentence, target=target), label,
                             f"acl-arc:{row['citing_paper']}", "acl-arc")


def parse_athar(lines: Iterable[str]) -> Iterator[LabeledContext]:
    """Athar's citation sentiment corpus (citing id, cited id, p/n/o, sentence); no callout span."""
    for row in csv.reader(lines, delimiter="\t"):
        if len(row) != 4 or row[2] not in ATHAR_LABELS:
            continue
        yield LabeledContext(ClassifyInput(row[3]), ATHAR_LABELS[row[2]], f"athar:{row[0]}",
                             "athar")


SCICITE_MENTIONING = ("background", "method")


def parse_scicite(lines: Iterable[str], split: str,
                  kinds: tuple[str, ...] = SCICITE_MENTIONING) -> Iterator[LabeledContext]:
    """SciCite: background and method citations (or only those of `kinds`) are mentions;
    `result` (agreeing or not) and rows whose callout span does not fit the text are left
    out."""
    wanted = set(kinds) & set(SCICITE_MENTIONING)
    for line in lines:
        if not line.strip():
            continue
        row = json.loads(line)
        if row.get("label") not in wanted:
            continue
        text = row["string"]
        start, end = int(row["citeStart"]), int(row["citeEnd"])
        target = (start, end) if 0 <= start < end <= len(text) else None
        if target is None:
            continue
        yield LabeledContext(ClassifyInput(text, target=target), Label.MENTIONING,
                             f"scicite:{row['citingPaperId']}", "scicite", split)


def load_source(labeled_dir: Path, source: str) -> list[LabeledContext]:
    """Every record of one labelled corpus under `labeled_dir` (shared/data/labeled)."""
    if source == "clinical":
        path = labeled_dir / "clinical-citation-sentiment" / "clinical_train.jsonl"
        with _open(path) as handle:
            return list(parse_clinical(handle, path.name))
    if source == "multicite":
        records: list[LabeledContext] = []
        for split in ("train", "dev", "test"):
            folder = labeled_dir / "multicite"
            one = _read_json(folder / "classification_1_context" / f"{split}.json")
            three = _read_json(folder / "classification_3_context" / f"{split}.json")
            records.extend(parse_multicite(one, three, split))
        return records
    if source == "acl-arc":
        path = labeled_dir / "acl-arc-jurgens-raw" / "acl_arc_raw_citations.jsonl"
        with _open(path) as handle:
            return list(parse_acl_arc(handle))
    if source == "athar":
        path = labeled_dir / "athar-citation-sentiment" / "citation_sentiment_corpus.txt"
        with _open(path) as handle:
            return list(parse_athar(handle))
    if source == "scicite":
        records = []
        for split in ("train", "dev", "test"):
            with _open(labeled_dir / "scicite" / f"{split}.jsonl") as handle:
                records.extend(parse_scicite(handle, split))
        return records
    raise InputError(str(labeled_dir), f"unknown labelled corpus {source!r}")


SOURCES = ("clinical", "multicite", "acl-arc", "athar", "scicite")

# Words a statement of use shares with a statement of agreement: "the same protocol as [5]",
# "similar to the method of [5]", "as described previously [5]", "as in [5]".
REUSE_WORDING = re.compile(
    r"\b(?:same|similar|identical)\b"
    r"|\bas (?:previously |originally |already )?(?:described|reported|published|detailed)\b"
    r"|\bas in\b",
    re.IGNORECASE,
)


def reuse_statements(labeled_dir: Path) -> list[LabeledContext]:
    """SciCite's training-split `method` citations (the citing work uses the cited work's
    method, material or data) worded as an agreement could be (REUSE_WORDING): mentions that
    look like support."""
    with _open(labeled_dir / "scicite" / "train.jsonl") as handle:
        return [r for r in parse_scicite(handle, "train", kinds=("method",))
                if REUSE_WORDING.search(r.item.text)]


def _open(path: Path) -> TextIO:
    if not path.is_file():
        raise InputError(str(path), "labelled data file not found (is shared/data present?)")
    return path.open(encoding="utf-8")


def _read_json(path: Path) -> list[dict]:
    with _open(path) as handle:
        return json.load(handle)
