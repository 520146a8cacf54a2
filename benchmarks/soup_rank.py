"""How much does cutting the shipped encoder's weight update to a lower rank change its answers?

The shipped adapter is a soup of three rank-16 fits (rank 48 in all; docs/classifier.md). For
each rank given, the update of every layer is cut to its top singular values
(finetune.truncate_adapter), the encoder model is written with the shipped calibration to a
temporary file, and the shipped classifier (first pass, clause views, section prior, use rule)
reads real statements with it: the clinical set (every statement; the shipped encoder was
fitted on all of them), MultiCite's test split and ACL-ARC (gold labels, none seen by the
encoder), and the statements ingest extracts from the eLife-200 articles (no gold). Prints,
per rank and set, how many labels differ from the full-rank classifier's, the largest change
of a chosen label's probability, macro-F1 where there is gold, and the file's size.

    python benchmarks/soup_rank.py [--rank 32 --rank 24 --rank 16] [--elife N]
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
from classify import LABELED, elife_statements

from citelens.classify.base import ClassifyInput
from citelens.classify.combined import (
    DEFAULT_ENCODER_MODEL,
    CombinedClassifier,
    load_combined,
    save_combined,
)
from citelens.classify.data import load_source
from citelens.classify.finetune import truncate_adapter
from citelens.classify.lexical import DEFAULT_MODEL
from citelens.classify.metrics import LABELS, evaluate_predictions


def statement_sets(elife: int) -> dict[str, tuple[list[ClassifyInput], list[str] | None]]:
    multicite = [r for r in load_source(LABELED, "multicite") if r.split == "test"]
    sets: dict[str, tuple[list[ClassifyInput], list[str] | None]] = {}
    for name, records in (("clinical", load_source(LABELED, "clinical")),
                          ("multicite-test", multicite),
                          ("acl-arc", load_source(LABELED, "acl-arc"))):
        sets[name] = ([r.item for r in records], [r.label for r in records])
    sets["elife-200"] = (elife_statements(elife), None)
    return sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rank", type=int, action="append", default=None)
    parser.add_argument("--elife", type=int, default=8000, help="eLife-200 statements read")
    args = parser.parse_args()
    shipped = load_combined(DEFAULT_ENCODER_MODEL)
    sets = statement_sets(args.elife)
    full = CombinedClassifier(DEFAULT_MODEL, DEFAULT_ENCODER_MODEL)
    reference = {name: full.probabilities(items) for name, (items, _) in sets.items()}
    print(f"shipped: rank {shipped.adapter.rank}, "
          f"{DEFAULT_ENCODER_MODEL.stat().st_size / 1e6:.2f} MB")
    print("rank  size MB  set             changed labels      max |dp|  macro-F1 (full)")
    with tempfile.TemporaryDirectory() as folder:
        for rank in [shipped.adapter.rank, *(args.rank or [32, 24, 16])]:
            path = Path(folder) / f"encoder-{rank}.npz"
            cut = truncate_adapter(shipped.adapter, rank)
            save_combined(replace(shipped, adapter=cut), path)
            classifier = CombinedClassifier(DEFAULT_MODEL, path)
            for name, (items, gold) in sets.items():
                p, q = reference[name], classifier.probabilities(items)
                changed = int((p.argmax(1) != q.argmax(1)).sum())
                chosen = np.arange(len(p)), p.argmax(1)
                shift = float(np.abs(p[chosen] - q[chosen]).max())
                score = ""
                if gold is not None:
                    cut_f1 = evaluate_predictions(gold, [LABELS[c] for c in q.argmax(1)],
                                                  q.max(1)).macro_f1
                    full_f1 = evaluate_predictions(gold, [LABELS[c] for c in p.argmax(1)],
                                                   p.max(1)).macro_f1
                    score = f"{cut_f1:.3f} ({full_f1:.3f})"
                print(f"{rank:4d}  {path.stat().st_size / 1e6:7.2f}  {name:15s} "
                      f"{changed:5d} of {len(items):6d}   {shift:8.3f}  {score}", flush=True)


if __name__ == "__main__":
    main()
