"""Citation contexts -> calibrated labels with the shipped lexical model: TF-IDF word uni- and
bigrams of the marked sentence plus cue-lexicon features, into a linear softmax head.

Inference needs only numpy (the model file holds the vocabulary, idf and weights); training
uses scikit-learn's logistic regression.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from citelens.classify.base import ClassifyInput, Prediction
from citelens.classify.calibration import softmax
from citelens.classify.features import cue_matrix, marked_text
from citelens.classify.metrics import LABELS
from citelens.classify.scope import CLAUSE_WEIGHT, version_suffix, with_clause_views
from citelens.classify.section_prior import load_factors, prior_path, shift_to_sections
from citelens.classify.usage import use_sections, use_suffix
from citelens.errors import ModelError

MODEL_FORMAT = 1
DEFAULT_MODEL = Path(__file__).parent / "models" / "default.npz"
_TOKEN = re.compile(r"(?u)\b\w\w+\b")


# Words that negate what follows; "didn't" tokenises to "didn" (one-letter tokens are dropped).
NEGATORS = frozenset({"not", "no", "never", "neither", "nor", "without", "cannot", "didn",
                      "doesn", "don", "wasn", "weren", "isn", "aren", "couldn", "failed", "fail",
                      "fails"})
NEGATION_SCOPE = 3


def ngrams(text: str) -> list[str]:
    """Lower-cased word unigrams and bigrams of `text` ([TARGET] reads as the word "target").

    The few words after a negator carry a "not_" prefix, so "not consistent with" does not
    share its features with "consistent with".
    """
    words = _TOKEN.findall(text.lower())
    scope = 0
    for i, word in enumerate(words):
        if word in NEGATORS:
            scope = NEGATION_SCOPE
        elif scope:
            words[i] = f"not_{word}"
            scope -= 1
    return words + [f"{a} {b}" for a, b in pairwise(words)]


CHAR_RANGE = (2, 5)


def char_ngrams(text: str) -> list[str]:
    """Lower-cased character 2- to 5-grams inside each space-padded word (scikit-learn's char_wb).

    They share evidence between inflections and spellings ("contradict", "contradictory",
    "contradicts") that the word n-grams keep apart.
    """
    low, high = CHAR_RANGE
    out = []
    for word in text.lower().split():
        padded = f" {word} "
        size = len(padded)
        for n in range(low, high + 1):
            out.extend(padded[i : i + n] for i in range(max(size - n + 1, 1)))
            if size <= n:  # the whole padded word once, then no longer grams (as scikit-learn)
                break
    return out


def fit_vocabulary(
    texts: Iterable[str], min_df: int = 2, analyzer: Callable[[str], list[str]] = ngrams
) -> tuple[list[str], np.ndarray]:
    """The terms `analyzer` finds in at least `min_df` texts, sorted, and their smoothed idf."""
    df: Counter[str] = Counter()
    n = 0
    for text in texts:
        df.update(set(analyzer(text)))
        n += 1
    vocabulary = sorted(term for term, count in df.items() if count >= min_df)
    idf = np.array([math.log((1 + n) / (1 + df[t])) + 1.0 for t in vocabulary])
    return vocabulary, idf


def tfidf_rows(
    texts: Sequence[str],
    index: dict[str, int],
    idf: np.ndarray,
    analyzer: Callable[[str], list[str]] = ngrams,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per text, (column indices, values): sublinear tf times idf, L2-normalised."""
    rows = []
    for text in texts:
        counts = Counter(term for term in analyzer(text) if term in index)
        cols = np.fromiter((index[t] for t in counts), dtype=np.int64, count=len(counts))
        vals = np.fromiter((1.0 + math.log(c) for c in counts.values()), dtype=np.float64,
                           count=len(counts)) * idf[cols]
        norm = np.linalg.norm(vals)
        rows.append((cols, vals / norm if norm else vals))
    return rows


def neighbours(item: ClassifyInput) -> str:
    """The sentences before and after the citing sentence, as one text."""
    return f"{item.before} {item.after}"


@dataclass(slots=True)
class LexicalModel:
    vocabulary: list[str]
    idf: np.ndarray  # (V,)
    term_weights: np.ndarray  # (k, V)
    cue_weights: np.ndarray  # (k, C)
    cue_mean: np.ndarray  # (C,)
    cue_scale: np.ndarray  # (C,)
    bias: np.ndarray  # (k,)
    offsets: np.ndarray = field(default_factory=lambda: np.zeros(len(LABELS)))
    temperature: float = 1.0
    meta: dict[str, Any] = field(default_factory=dict)
    # Optional character n-gram block (its own TF-IDF, L2-normalised apart from the words).
    char_vocabulary: list[str] = field(default_factory=list)
    char_idf: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (W,)
    char_weights: np.ndarray = field(default_factory=lambda: np.zeros((len(LABELS), 0)))
    # Optional block of the word n-grams of the neighbour sentences (before + after); its
    # weights already include the block's down-weighting.
    context_vocabulary: list[str] = field(default_factory=list)
    context_idf: np.ndarray = field(default_factory=lambda: np.zeros(0))
    context_weights: np.ndarray = field(default_factory=lambda: np.zeros((len(LABELS), 0)))
    _index: dict[str, int] = field(default_factory=dict, repr=False)
    _char_index: dict[str, int] = field(default_factory=dict, repr=False)
    _context_index: dict[str, int] = field(default_factory=dict, repr=False)

    def index(self) -> dict[str, int]:
        if not self._index:
            self._index = {term: i for i, term in enumerate(self.vocabulary)}
        return self._index

    def char_index(self) -> dict[str, int]:
        if not self._char_index:
            self._char_index = {term: i for i, term in enumerate(self.char_vocabulary)}
        return self._char_index

    def scores(self, items: Sequence[ClassifyInput]) -> np.ndarray:
        """Class scores before offsets and temperature, one row per item."""
        texts = [marked_text(item) for item in items]
        rows = tfidf_rows(texts, self.index(), self.idf)
        cues = (cue_matrix(list(items)) - self.cue_mean) / self.cue_scale
        out = cues @ self.cue_weights.T + self.bias
        for r, (cols, vals) in enumerate(rows):
            out[r] += self.term_weights[:, cols] @ vals
        if self.char_vocabulary:
            char_rows = tfidf_rows(texts, self.char_index(), self.char_idf, char_ngrams)
            for r, (cols, vals) in enumerate(char_rows):
                out[r] += self.char_weights[:, cols] @ vals
        if self.context_vocabulary:
            if not self._context_index:
                self._context_index = {t: i for i, t in enumerate(self.context_vocabulary)}
            context_rows = tfidf_rows([neighbours(item) for item in items], self._context_index,
                                      self.context_idf)
            for r, (cols, vals) in enumerate(context_rows):
                out[r] += self.context_weights[:, cols] @ vals
        return out

    def probabilities(self, items: Sequence[ClassifyInput]) -> np.ndarray:
        return softmax((self.scores(items) + self.offsets) / self.temperature)


def save_model(model: LexicalModel, path: Path) -> None:
    """Write the model as one compressed .npz (float32 weights, vocabulary as one string)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path,
        format=np.array(MODEL_FORMAT),
        vocabulary=np.array("\n".join(model.vocabulary)),
        idf=model.idf.astype(np.float32),
        term_weights=model.term_weights.astype(np.float32),
        cue_weights=model.cue_weights.astype(np.float32),
        cue_mean=model.cue_mean.astype(np.float32),
        cue_scale=model.cue_scale.astype(np.float32),
        bias=model.bias.astype(np.float32),
        offsets=model.offsets.astype(np.float32),
        temperature=np.array(model.temperature, dtype=np.float64),
        meta=np.array(json.dumps(model.meta, sort_keys=True)),
        char_vocabulary=np.array("\n".join(model.char_vocabulary)),
        char_idf=model.char_idf.astype(np.float32),
        char_weights=model.char_weights.astype(np.float32),
        context_vocabulary=np.array("\n".join(model.context_vocabulary)),
        context_idf=model.context_idf.astype(np.float32),
        context_weights=model.context_weights.astype(np.float32),
    )


def load_model(path: Path) -> LexicalModel:
    """Read a model written by save_model; ModelError names the file and what is wrong."""
    if not path.is_file():
        raise ModelError(f"model file {path} not found: run `citelens train` to build it")
    try:
        with np.load(path, allow_pickle=False) as data:
            if int(data["format"]) != MODEL_FORMAT:
                raise ModelError(f"{path}: model format {int(data['format'])}, expected "
                                 f"{MODEL_FORMAT}; rebuild it with `citelens train`")
            arrays = {key: data[key].astype(np.float64) for key in (
                "idf", "term_weights", "cue_weights", "cue_mean", "cue_scale", "bias", "offsets")}
            vocabulary = str(data["vocabulary"]).split("\n")
            temperature = float(data["temperature"])
            meta = json.loads(str(data["meta"]))
            # The optional blocks: models written before them (or without them) score as before.
            block_vocabulary: dict[str, list[str]] = {}
            for block in ("char", "context"):
                block_vocabulary[block] = []
                if f"{block}_vocabulary" in data.files and str(data[f"{block}_vocabulary"]):
                    for part in ("idf", "weights"):
                        arrays[f"{block}_{part}"] = data[f"{block}_{part}"].astype(np.float64)
                    block_vocabulary[block] = str(data[f"{block}_vocabulary"]).split("\n")
            char_vocabulary = block_vocabulary["char"]
            context_vocabulary = block_vocabulary["context"]
    except (KeyError, ValueError, OSError) as error:
        raise ModelError(f"{path} is not a citelens classifier model: {error}") from error
    if arrays["term_weights"].shape != (len(LABELS), len(vocabulary)):
        raise ModelError(f"{path}: weights do not match the vocabulary; rebuild the model")
    if char_vocabulary and arrays["char_weights"].shape != (len(LABELS), len(char_vocabulary)):
        raise ModelError(f"{path}: character weights do not match their vocabulary; rebuild it")
    if context_vocabulary and arrays["context_weights"].shape != (len(LABELS),
                                                                  len(context_vocabulary)):
        raise ModelError(f"{path}: context weights do not match their vocabulary; rebuild it")
    return LexicalModel(vocabulary=vocabulary, temperature=temperature, meta=meta,
                        char_vocabulary=char_vocabulary, context_vocabulary=context_vocabulary,
                        **arrays)


def fit_lexical(
    items: Sequence[ClassifyInput],
    gold: np.ndarray,
    weights: np.ndarray,
    regularisation: float = 4.0,
    min_df: int = 2,
    seed: int = 0,
    char_min_df: int | None = None,
    context_weight: float | None = None,
) -> LexicalModel:
    """A multinomial logistic regression over TF-IDF n-grams and standardised cue features.

    Classes are balanced by their weighted mass so the rare contrasting class counts as much.
    With `char_min_df`, character 2-5-grams seen in that many texts join as a second block;
    with `context_weight`, the word n-grams of the neighbour sentences join as a block scaled by
    that factor (so they count for less than the citing sentence's own words).
    """
    try:
        from scipy import sparse
        from sklearn.linear_model import LogisticRegression
    except ImportError as error:
        raise ModelError("training needs scikit-learn: pip install 'citelens[train]'") from error
    present = set(np.unique(gold).tolist())
    if present != set(range(len(LABELS))):
        raise ModelError("training data lacks a class: has only "
                         + ", ".join(LABELS[c].value for c in sorted(present)))
    texts = [marked_text(item) for item in items]
    vocabulary, idf = fit_vocabulary(texts, min_df)
    index = {term: i for i, term in enumerate(vocabulary)}

    def block(rows: list[tuple[np.ndarray, np.ndarray]], width: int) -> Any:
        indptr = np.cumsum([0] + [len(cols) for cols, _ in rows])
        return sparse.csr_matrix(
            (np.concatenate([v for _, v in rows]), np.concatenate([c for c, _ in rows]), indptr),
            shape=(len(rows), width),
        )

    terms = block(tfidf_rows(texts, index, idf), len(vocabulary))
    char_vocabulary: list[str] = []
    char_idf = np.zeros(0)
    blocks = [terms]
    if char_min_df is not None:
        char_vocabulary, char_idf = fit_vocabulary(texts, char_min_df, char_ngrams)
        char_index = {term: i for i, term in enumerate(char_vocabulary)}
        blocks.append(block(tfidf_rows(texts, char_index, char_idf, char_ngrams),
                            len(char_vocabulary)))
    context_vocabulary: list[str] = []
    context_idf = np.zeros(0)
    if context_weight is not None:
        around = [neighbours(item) for item in items]
        context_vocabulary, context_idf = fit_vocabulary(around, min_df)
        context_index = {term: i for i, term in enumerate(context_vocabulary)}
        blocks.append(block(tfidf_rows(around, context_index, context_idf),
                            len(context_vocabulary)) * context_weight)
    cues = cue_matrix(list(items)).astype(np.float64)
    cue_mean, cue_scale = cues.mean(axis=0), cues.std(axis=0) + 1e-6
    features = sparse.hstack([*blocks, (cues - cue_mean) / cue_scale]).tocsr()
    mass = np.array([weights[gold == c].sum() for c in range(len(LABELS))])
    balanced = weights * (mass.sum() / (len(LABELS) * mass))[gold]
    regression = LogisticRegression(C=regularisation, max_iter=3000, random_state=seed)
    regression.fit(features, gold, sample_weight=balanced)
    coef = regression.coef_
    words, chars, contexts = len(vocabulary), len(char_vocabulary), len(context_vocabulary)
    dense = words + chars + contexts
    return LexicalModel(
        vocabulary=vocabulary,
        idf=idf,
        term_weights=coef[:, :words].copy(),
        cue_weights=coef[:, dense:].copy(),
        cue_mean=cue_mean,
        cue_scale=cue_scale,
        bias=regression.intercept_.copy(),
        char_vocabulary=char_vocabulary,
        char_idf=char_idf,
        char_weights=coef[:, words : words + chars].copy(),
        context_vocabulary=context_vocabulary,
        context_idf=context_idf,
        # The block's scale folded into its weights: inference reads plain TF-IDF rows.
        context_weights=coef[:, words + chars : dense] * (context_weight or 0.0),
    )


class LexicalClassifier:
    """The shipped model as a Classifier; `version` names the model file's content."""

    def __init__(self, path: Path = DEFAULT_MODEL, use_rule: bool = True) -> None:
        self.model = load_model(path)
        self.use_rule = use_rule  # statements of use take the methods prior (usage.py)
        prior = prior_path(path)
        self.factors = load_factors(prior)
        self.version = "lexical-" + hashlib.sha256(path.read_bytes()).hexdigest()[:10] + (
            "+sp" + hashlib.sha256(prior.read_bytes()).hexdigest()[:6] if self.factors else ""
        ) + version_suffix() + (use_suffix() if self.factors and use_rule else "")

    def _sentence_probabilities(self, items: Sequence[ClassifyInput]) -> np.ndarray:
        return shift_to_sections(self.model.probabilities(items),
                                 use_sections(items, self.use_rule), self.factors)

    def predict(self, items: Sequence[ClassifyInput]) -> list[Prediction]:
        if not items:
            return []
        p = with_clause_views(items, self._sentence_probabilities, CLAUSE_WEIGHT)
        chosen = p.argmax(axis=1)
        return [Prediction(LABELS[c], float(np.clip(p[i, c], 0.0, 1.0)))
                for i, c in enumerate(chosen)]
