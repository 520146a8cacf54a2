"""What the section prior does: comparisons found and false ones avoided, per section type.

Two measurements, each without the prior, with it (classify/models/section_prior.json,
estimated on SciCite's train split) but without the use rule (classify/usage.py: statements of
use take the methods prior wherever they stand), and with both (what ships):

1. SciCite's test split (never used for the prior): a citation whose intent is `result`
   compares findings (either way), `background` and `method` ones do not. Per section type,
   the share of non-comparisons the classifier labels supporting or contrasting (false
   comparisons) and the share of comparisons it does (recall); then the same citations with
   their sections taken away (as `citelens classify` input without a `section` usually comes),
   with the use rule and without it.
2. The eLife-200 statements (what ingest sees): the share of each label per section type.

    python benchmarks/section_prior.py [--classifier default --classifier lexical] [--models DIR]
                                       [--skip-elife]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from collections import Counter, defaultdict
from dataclasses import replace
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
    parser.add_argument("--skip-elife", action="store_true")
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    scicite = scicite_test()
    elife = [] if args.skip_elife else elife_statements(10**9)
    print(f"SciCite test: {len(scicite)} citations; eLife-200: {len(elife)} statements")
    unsectioned = [(replace(item, section=None), compares) for item, compares in scicite]
    conditions = (  # (what, prior, use rule, citations)
        ("without the section prior", False, False, scicite),
        ("with the section prior, without the use rule", True, False, scicite),
        ("with the section prior and the use rule (shipped)", True, True, scicite),
        ("no sections, without the use rule", True, False, unsectioned),
        ("no sections, with the use rule (shipped)", True, True, unsectioned),
    )
    for name in args.classifier or ["default", "lexical"]:
        classifier = classifier_named(name, args.models)
        factors = dict(classifier.factors)  # type: ignore[attr-defined]
        for what, with_prior, use_rule, citations in conditions:
            classifier.factors = factors if with_prior else {}  # type: ignore[attr-defined]
            classifier.use_rule = use_rule  # type: ignore[attr-defined]
            tag = f"{name} {what}"
            labels = [p.label.value for p in classifier.predict([i for i, _ in citations])]
            counts: dict[str, Counter[str]] = defaultdict(Counter)
            for (item, compares), label in zip(citations, labels, strict=True):
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
            if not elife or citations is unsectioned:
                continue
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
