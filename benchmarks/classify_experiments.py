"""Feature and model variants of the lexical classifier -> clinical grouped-CV and held-out scores.

Same harness as `citelens train` (article-grouped 5 folds, cross-fitted offsets and temperature,
auxiliary corpora x0.1; MultiCite test and ACL-ARC scored by fits that never saw them). For speed
the TF-IDF vocabularies are fitted once on all texts (unsupervised), so figures are for ranking.

    python benchmarks/classify_experiments.py base char ...
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from citelens.classify.calibration import fit_temperature, softmax, tune_offsets
from citelens.classify.combined import combine
from citelens.classify.data import LabeledContext, load_source
from citelens.classify.features import TARGET_TOKEN, cue_matrix, marked_text
from citelens.classify.lexical import ngrams
from citelens.classify.metrics import LABELS, evaluate_predictions, grouped_folds
from citelens.classify.train import TrainConfig, crossfit, first_pass_evaluation, labels_of

REPO = Path(__file__).resolve().parents[1]
LABELED = REPO / ".." / "shared" / "data" / "labeled"


def window(text: str, words: int = 6) -> str:
    """The words around [TARGET] in a marked text (the whole text when there is no target)."""
    at = text.find(TARGET_TOKEN)
    if at < 0:
        return text
    head = text[:at].split()[-words:]
    tail = text[at + len(TARGET_TOKEN):].split()[:words]
    return " ".join([*head, "TGT", *tail])


def blocks(variant: str, records: list[LabeledContext]) -> sparse.csr_matrix:
    """The feature matrix a variant names: word n-grams, optional blocks, standardised cues."""
    texts = [marked_text(r.item) for r in records]
    parts = []
    word = TfidfVectorizer(analyzer=ngrams, min_df=2, sublinear_tf=True)
    parts.append(word.fit_transform(texts))
    if "char" in variant:
        char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=3, sublinear_tf=True,
                               lowercase=True, max_features=200000)
        parts.append(char.fit_transform(texts) * (0.7 if "char07" in variant else 1.0))
    if "win" in variant:
        vec = TfidfVectorizer(analyzer=ngrams, min_df=2, sublinear_tf=True)
        parts.append(vec.fit_transform([window(t) for t in texts]) * 0.7)
    if "nbr" in variant:
        vec = TfidfVectorizer(analyzer=ngrams, min_df=2, sublinear_tf=True)
        parts.append(vec.fit_transform([f"{r.item.before} {r.item.after}" for r in records]) * 0.4)
    cues = cue_matrix([r.item for r in records]).astype(np.float64)
    if "lex228" in variant:
        cues = np.hstack([cues, lexicon_matrix(texts)])
    if "tri" in variant:
        tri = TfidfVectorizer(analyzer=trigrams, min_df=2, sublinear_tf=True)
        parts.append(tri.fit_transform(texts) * 0.5)
    cues = (cues - cues.mean(axis=0)) / (cues.std(axis=0) + 1e-6)
    parts.append(sparse.csr_matrix(cues))
    return sparse.hstack(parts).tocsr()


SVM_WEIGHT = 0.0
LEXICON = LABELED / "clinical-citation-sentiment" / "term_228.dic"


def trigrams(text: str) -> list[str]:
    """Word trigrams (of the same tokens as `ngrams`, negation marks included)."""
    words = [w for w in ngrams(text) if " " not in w]
    return [" ".join(words[i : i + 3]) for i in range(len(words) - 2)]


def lexicon_matrix(texts: list[str]) -> np.ndarray:
    """Counts of the clinical authors' dictionary terms (term_228.dic) per category, in the
    sentence and within 8 words of [TARGET]."""
    entries: dict[str, list[str]] = {}
    for line in LEXICON.read_text(encoding="utf-8").splitlines():
        term, _, kind = line.partition("\t")
        if term and kind:
            entries.setdefault(kind.strip(), []).append(re.escape(term.strip().lower()))
    patterns = [re.compile(r"\b(?:" + "|".join(sorted(terms, key=len, reverse=True)) + r")\b")
                for _, terms in sorted(entries.items())]
    rows = []
    for text in texts:
        low = text.lower()
        near = window(low.replace("[target]", TARGET_TOKEN), 8).lower()
        rows.append([len(p.findall(low)) for p in patterns]
                    + [len(p.findall(near)) for p in patterns])
    return np.asarray(rows, dtype=np.float64)


def fit_scores(
    x: sparse.csr_matrix, y: np.ndarray, w: np.ndarray, xt: sparse.csr_matrix, c: float
) -> np.ndarray:
    """Class-balanced LR (plus SVM margins when SVM_WEIGHT) fitted on x, scored on xt."""
    mass = np.array([w[y == k].sum() for k in range(3)])
    bal = w * (mass.sum() / (3 * mass))[y]
    m = LogisticRegression(C=c, max_iter=3000, random_state=0)
    m.fit(x, y, sample_weight=bal)
    out = m.decision_function(xt)
    if SVM_WEIGHT:
        # A linear SVM's margins added to the LR logits: still one linear model at inference.
        svm = LinearSVC(C=0.1, random_state=0, max_iter=5000)
        svm.fit(x, y, sample_weight=bal)
        out = out + SVM_WEIGHT * svm.decision_function(xt)
    return out


def run(variant: str) -> None:
    """Score one variant (names combine: char, char07, win, nbr, svm, c2, c8, noheld)."""
    global SVM_WEIGHT
    SVM_WEIGHT = 3.0 if "svm" in variant else 0.0
    started = time.perf_counter()
    clinical = load_source(LABELED, "clinical")
    aux = [r for s in ("multicite", "acl-arc") for r in load_source(LABELED, s)]
    records = clinical + aux
    x = blocks(variant, records)
    y = labels_of(records)
    n = len(clinical)
    c = 2.0 if "c2" in variant else 8.0 if "c8" in variant else 4.0
    w_all = np.concatenate([np.ones(n), np.full(len(aux), 0.1)])
    gold = y[:n]
    folds = grouped_folds([r.group for r in clinical], 5, 0)
    oof = np.zeros((n, 3))
    for f in range(5):
        keep = np.concatenate([folds != f, np.ones(len(aux), bool)])
        held = np.flatnonzero(folds == f)
        oof[held] = fit_scores(x[keep], y[keep], w_all[keep], x[held], c)
    chosen = np.zeros(n, int)
    conf = np.zeros(n)
    for f in range(5):
        h = folds == f
        off = tune_offsets(oof[~h], gold[~h])
        t = fit_temperature(oof[~h] + off, gold[~h])
        p = softmax((oof[h] + off) / t)
        chosen[h], conf[h] = p.argmax(1), p.max(1)
    res = evaluate_predictions([LABELS[g] for g in gold], [LABELS[k] for k in chosen], conf)
    mixed = []
    # ENCODER_OOF: benchmarks/encoder_snapshots.py outputs (same folds) whose epoch-5 logits
    # are mixed with these lexical scores as the shipped model does.
    paths = [p for p in os.environ.get("ENCODER_OOF", "").split(",") if p]
    if paths:
        shipped = TrainConfig(LABELED)
        _, lexical_p = crossfit(oof, gold, folds)
    for path in paths:
        with np.load(path) as data:
            encoder = data["encoder-epoch5"]
        _, mixed_p = crossfit(combine(oof, encoder, shipped.mix), gold, folds)
        mixed.append(first_pass_evaluation(lexical_p, mixed_p, gold,
                                           shipped.first_pass)[0].macro_f1)
    off = tune_offsets(oof, gold)
    t = fit_temperature(oof + off, gold)
    out = [f"{variant}: clinical {res.macro_f1:.3f} ("
           + " ".join(f"{s.f1:.3f}" for s in res.per_class.values()) + f") ece {res.ece:.3f}"]
    if mixed:
        out.append("with encoders " + " ".join(f"{m:.3f}" for m in mixed))
    if "noheld" not in variant:
        src = np.array([r.source for r in aux])
        split = np.array([r.split for r in aux])
        for name, test in (("multicite-test", (src == "multicite") & (split == "test")),
                           ("acl-arc", src == "acl-arc")):
            keep = np.concatenate([np.ones(n, bool), ~test])
            tidx = n + np.flatnonzero(test)
            p = softmax((fit_scores(x[keep], y[keep], w_all[keep], x[tidx], c) + off) / t)
            r2 = evaluate_predictions([LABELS[g] for g in y[tidx]],
                                      [LABELS[k] for k in p.argmax(1)], p.max(1))
            out.append(f"{name} {r2.macro_f1:.3f} ("
                       + " ".join(f"{s.f1:.3f}" for s in r2.per_class.values()) + ")")
    print(" | ".join(out) + f" | {time.perf_counter() - started:.0f}s dims {x.shape[1]}",
          flush=True)


if __name__ == "__main__":
    for v in sys.argv[1:]:
        run(v)
