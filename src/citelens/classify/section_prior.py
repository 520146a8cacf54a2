"""How often a citation compares results depends on where it stands: the section prior.

The classifiers are calibrated on clinical statements from discussion sections, where about a
quarter of citations support or contrast. In a methods section almost none do: there a citation
names a method or material that was reused ("cultured as described previously [5]"), and the
words that read as agreement in a discussion ("as in", "same as", "similar to") mean reuse.
SciCite labels citations from every section as background, method or result (a comparison of
findings, either way); its share of `result` per section type, over its share in discussion
sections, is how much rarer supporting and contrasting are in that section than in the
calibration data. A classifier's probabilities are moved to that prior (Saerens et al., 2002):
p'(y | x) is proportional to p(y | x) * prior'(y) / prior(y).

`estimate_factors` is the pure core (SciCite rows -> a factor per section type);
`shift_to_sections` applies them to a probability matrix. Statements without a known section
are left as they are, so labelled sets without sections are scored exactly as before.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from citelens.classify.metrics import LABEL_INDEX
from citelens.errors import InputError, ModelError
from citelens.model import Label, SectionType
from citelens.sections import section_type

DEFAULT_SECTION_PRIOR = Path(__file__).parent / "models" / "section_prior.json"
# The classes the factor scales: the two that compare findings.
_COMPARING = [LABEL_INDEX[Label.SUPPORTING], LABEL_INDEX[Label.CONTRASTING]]
# A section type needs this many SciCite citations for a factor; fewer leave it unshifted.
MIN_CITATIONS = 200
# The calibration data's own share of supporting + contrasting (clinical statements:
# 577 + 233 of 3,304), the prior the classifiers' probabilities were fitted under.
CALIBRATION_COMPARING = (577 + 233) / 3304


def estimate_factors(rows: Iterable[tuple[str | None, str]],
                     min_citations: int = MIN_CITATIONS) -> dict[str, dict[str, float]]:
    """(section heading, SciCite intent) pairs -> per section type: citations, share of
    `result`, and the factor (that share over the discussion sections' share)."""
    totals: Counter[str] = Counter()
    results: Counter[str] = Counter()
    for heading, intent in rows:
        kind = section_type(heading).value
        totals[kind] += 1
        results[kind] += intent == "result"
    base_n = totals[SectionType.DISCUSSION.value]
    if base_n < min_citations or results[SectionType.DISCUSSION.value] == 0:
        raise ModelError(f"too few discussion-section citations ({base_n}) to anchor the "
                         "section prior")
    base = results[SectionType.DISCUSSION.value] / base_n
    out: dict[str, dict[str, float]] = {}
    for kind, n in sorted(totals.items()):
        if n < min_citations or kind == SectionType.OTHER.value:
            continue
        share = results[kind] / n
        # Capped at 1: a section where comparisons are as common as in discussions is left as
        # it is (only rarer comparisons shift).
        out[kind] = {"citations": n, "result_share": round(share, 4),
                     "factor": round(min(1.0, share / base), 4)}
    return out


def shift_to_sections(p: np.ndarray, sections: Sequence[str | None],
                      factors: dict[str, float]) -> np.ndarray:
    """Class probabilities (rows: supporting, mentioning, contrasting) moved to each row's
    section prior: supporting and contrasting scaled by the section's factor k, mentioning by
    (1 - k c) / (1 - c) with c the calibration data's comparing share, then renormalised.
    Rows whose section has no factor are returned unchanged."""
    out = np.array(p, dtype=float, copy=True)
    k = np.array([factors.get(section or "", 1.0) for section in sections], dtype=float)
    rows = np.flatnonzero(k < 1.0)
    if rows.size == 0:
        return out
    k = k[rows, None]
    weights = np.repeat((1 - k * CALIBRATION_COMPARING) / (1 - CALIBRATION_COMPARING),
                        out.shape[1], axis=1)
    weights[:, _COMPARING] = k
    shifted = out[rows] * weights
    out[rows] = shifted / shifted.sum(axis=1, keepdims=True)
    return out


def scicite_rows(labeled_dir: Path, split: str = "train") -> list[tuple[str | None, str]]:
    """(section heading, intent) of each SciCite citation in one split."""
    path = labeled_dir / "scicite" / f"{split}.jsonl"
    if not path.is_file():
        raise InputError(str(path), "labelled data file not found (is shared/data present?)")
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise InputError(f"{path}:{number}", f"not JSON ({error.msg})") from None
            heading = row.get("sectionName")
            rows.append((heading if isinstance(heading, str) else None, str(row.get("label"))))
    return rows


def save_prior(table: dict[str, dict[str, float]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"source": "SciCite train split: share of `result` citations per section type, "
                         "over the discussion sections' share",
               "sections": table}
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


def prior_path(model_path: Path) -> Path:
    """The section prior that goes with a lexical model file: section_prior.json beside it."""
    return model_path.parent / DEFAULT_SECTION_PRIOR.name


def load_factors(path: Path = DEFAULT_SECTION_PRIOR) -> dict[str, float]:
    """Section type -> factor from a file written by save_prior; {} when there is none."""
    if not path.is_file():
        return {}
    try:
        table = json.loads(path.read_text(encoding="utf-8"))["sections"]
        return {kind: float(entry["factor"]) for kind, entry in table.items()}
    except (ValueError, KeyError, TypeError) as error:
        raise ModelError(f"{path}: not a citelens section prior ({error})") from error
