"""What the section prior does: comparisons found and false ones avoided, per section type.

Two measurements, each with the prior (classify/models/section_prior.json, estimated on SciCite's
train split) and without it:

1. SciCite's test split (never used for the prior): a citation whose intent is `result`
   compares findings (either way), `background` and `method` ones do not. Per section type,
   the share of non-comparisons the classifier labels supporting or contrasting (false
   comparisons) and the share of comparisons it does (recall).
2. The eLife-200 statements (what ingest sees): the share of each label per section type.

    python benchmarks/section_prior.py [--classifier default --classifier lexical] [--models DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from collections import Counter, defaultdict
from pathlib import Path

from classify import LABELED, classifier_named, elife_statements  # benchmarks/classify.py

from citelens.classify.base import ClassifyInput
from citelens.sections import section_type

KINDS = ("introduction", "methods", "results", "discussion", "conclusion", "other")


def scicite_test() -> list[tuple[ClassifyInput, bool]]:
    """SciCite test citations with their section type, and whether each compares results."""
    rows = []
    with (LABELED / "scicite" / "test.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            text, start, end = row["string"], row["citeStart"], row["citeEnd"]
            ok = start == start and end == end  # NaN where SciCite has no span
            target = (int(start), int(end)) if ok and 0 <= start < end <= len(text) else None
            heading = row.get("sectionName")
            kind = section_type(heading if isinstance(heading, str) else None).value
            rows.append((ClassifyInput(text, target=target, section=kind),
                         row["label"] == "result"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classifier", action="append", default=None)
    parser.add_argument("--models", type=Path, default=None)
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    scicite = scicite_test()
    elife = elife_statements(10**9)
    print(f"SciCite test: {len(scicite)} citations; eLife-200: {len(elife)} statements")
    for name in args.classifier or ["default", "lexical"]:
        classifier = classifier_named(name, args.models)
        factors = dict(classifier.factors)  # type: ignore[attr-defined]
        for with_prior in (False, True):
            classifier.factors = factors if with_prior else {}  # type: ignore[attr-defined]
            tag = f"{name} {'with' if with_prior else 'without'} the section prior"
            labels = [p.label.value for p in classifier.predict([item for item, _ in scicite])]
            counts: dict[str, Counter[str]] = defaultdict(Counter)
            for (item, compares), label in zip(scicite, labels, strict=True):
                said = label != "mentioning"
                kind = item.section or "other"
                counts[kind]["n"] += 1
                counts[kind]["compares"] += compares
                counts[kind]["false"] += said and not compares
                counts[kind]["found"] += said and compares
            print(f"\n{tag}: SciCite test, per section: false comparisons among the others / "
                  "comparisons found")
            for kind in (*KINDS, "all"):
                c = (sum((counts[k] for k in KINDS), Counter()) if kind == "all"
                     else counts.get(kind, Counter()))
                if not c["n"]:
                    continue
                others = c["n"] - c["compares"]
                print(f"  {kind:<13} n {c['n']:>4}  false {c['false'] / max(others, 1):6.1%} "
                      f"of {others:>4}  found {c['found'] / max(c['compares'], 1):6.1%} "
                      f"of {c['compares']:>3}")
            got = classifier.predict(elife)
            by: dict[str, Counter[str]] = defaultdict(Counter)
            for item, p in zip(elife, got, strict=True):
                by[item.section or "other"][p.label.value] += 1
                by["all"][p.label.value] += 1
            print(f"{tag}: eLife-200 labels per section (supporting / mentioning / contrasting)")
            for kind in (*KINDS, "all"):
                c = by.get(kind)
                if not c:
                    continue
                n = sum(c.values())
                print(f"  {kind:<13} n {n:>5}  " + " / ".join(
                    f"{c[k] / n:5.1%}" for k in ("supporting", "mentioning", "contrasting")))


if __name__ == "__main__":
    main()
