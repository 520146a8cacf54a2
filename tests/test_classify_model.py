"""The shipped model: loads with no network, gives confidences in [0, 1], round-trips through
its file, matches scikit-learn's TF-IDF, and `train` is deterministic on a small sample."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from citelens.classify import ClassifyInput, load_classifier
from citelens.classify.lexical import (
    DEFAULT_MODEL,
    char_ngrams,
    fit_lexical,
    fit_vocabulary,
    load_model,
    ngrams,
    save_model,
    tfidf_rows,
)
from citelens.errors import ModelError
from citelens.model import Label

ITEMS = [
    ClassifyInput("Our results are consistent with those of Smith et al. [3].", target=(52, 55)),
    ClassifyInput("In contrast to earlier reports [4], we found no effect.", target=(31, 34)),
    ClassifyInput("Cells were cultured as described [5].", target=(33, 36)),
]


def test_lexical_model_loads_offline_and_labels_plain_cases(no_network: None) -> None:
    classifier = load_classifier("lexical")
    assert classifier.version.startswith("lexical-")
    predictions = classifier.predict(ITEMS)
    assert [p.label for p in predictions] == [Label.SUPPORTING, Label.CONTRASTING,
                                              Label.MENTIONING]
    assert all(0.0 <= p.confidence <= 1.0 for p in predictions)
    assert classifier.predict([]) == []


def test_encoder_loads_from_the_installed_package_offline(no_network: None) -> None:
    pytest.importorskip("sentence_transformers")
    from citelens.classify.encoder import Encoder

    vectors = Encoder().encode(["Unlike [TARGET], we saw growth.", "See [OTHER]."])
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)


def test_shipped_model_is_small_and_calibrated_probabilities_sum_to_one() -> None:
    assert DEFAULT_MODEL.stat().st_size < 10 * 1024 * 1024
    model = load_model(DEFAULT_MODEL)
    p = model.probabilities(ITEMS)
    assert np.allclose(p.sum(axis=1), 1.0)
    assert model.temperature > 0 and model.meta["seed"] == 0


def test_negation_scope_marks_the_next_words() -> None:
    assert ngrams("Not consistent with [TARGET] at all here.")[:6] == [
        "not", "not_consistent", "not_with", "not_target", "at", "all"]


def test_lexical_model_reads_negated_agreement_as_contrasting() -> None:
    classifier = load_classifier("lexical")
    text = "These results are not consistent with previous reports [3]."
    start = text.index("[3]")
    (prediction,) = classifier.predict([ClassifyInput(text, target=(start, start + 3))])
    assert prediction.label is Label.CONTRASTING


def test_tfidf_matches_scikit_learn_without_negators() -> None:
    pytest.importorskip("sklearn")
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = ["Unlike [TARGET], we saw growth.", "We saw little growth, unlike [OTHER].",
             "Growth was seen as in [TARGET].", "We saw growth too."]
    vocabulary, idf = fit_vocabulary(texts, min_df=2)
    reference = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    expected = reference.fit_transform(texts).toarray()
    assert vocabulary == list(reference.get_feature_names_out())
    ours = np.zeros_like(expected)
    for r, (cols, vals) in enumerate(tfidf_rows(texts, {t: i for i, t in enumerate(vocabulary)},
                                                idf)):
        ours[r, cols] = vals
    assert np.allclose(ours, expected)


def test_model_file_round_trip_and_corrupt_file(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    items = ITEMS * 4
    gold = np.array([0, 2, 1] * 4)
    model = fit_lexical(items, gold, np.ones(len(items)), regularisation=1.0, min_df=1)
    path = tmp_path / "m.npz"
    save_model(model, path)
    again = load_model(path)
    assert np.allclose(again.scores(items), model.scores(items), atol=1e-4)
    (tmp_path / "bad.npz").write_bytes(b"not a model")
    with pytest.raises(ModelError, match=r"bad\.npz"):
        load_model(tmp_path / "bad.npz")
    with pytest.raises(ModelError, match="citelens train"):
        load_model(tmp_path / "missing.npz")


def test_train_is_deterministic_on_a_small_sample(shared_data: Path) -> None:
    pytest.importorskip("sklearn")
    from citelens.classify.train import TrainConfig, train

    config = TrainConfig(shared_data / "labeled", limit=300, held_out=False, folds=3)
    first, second = train(config), train(config)
    assert first.used == second.used == {"clinical": 300, "multicite": 300, "acl-arc": 300}
    assert np.array_equal(first.model.term_weights, second.model.term_weights)
    assert first.model.temperature == second.model.temperature
    assert first.clinical_cv.confusion == second.clinical_cv.confusion
    assert 0.0 <= first.clinical_cv.ece <= 1.0
    # The model says what built it: the seed alone does not pin the numbers down.
    built = first.model.meta["built_with"]
    assert built["numpy"] == np.__version__ and "scikit-learn" in built and built["machine"]
    # The statements whose target has a clause of its own were scored by it too, as the
    # shipped classifier scores them, and only those.
    from citelens.classify.data import load_source
    from citelens.classify.scope import scoped

    items = [r.item for r in load_source(shared_data / "labeled", "clinical")[:300]]
    has = first.out_of_fold["has_clause"]
    assert list(has) == [scoped(item) is not None for item in items] and has.sum() >= 3
    clause = first.out_of_fold["lexical_clause"]
    assert np.all(np.abs(clause[has]).sum(axis=1) > 0) and not clause[~has].any()
    assert not np.allclose(clause[has], first.out_of_fold["lexical"][has])


def test_character_ngrams_match_scikit_learn_char_wb() -> None:
    pytest.importorskip("sklearn")
    from sklearn.feature_extraction.text import TfidfVectorizer

    analyzer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5)).build_analyzer()
    for text in ["Not consistent with [TARGET] a b.  I x", "ab  cd\tE abc abcd", "I"]:
        assert char_ngrams(text) == analyzer(text)


def test_character_block_round_trips_and_changes_scores(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    items = ITEMS * 4
    gold = np.array([0, 2, 1] * 4)
    words_only = fit_lexical(items, gold, np.ones(len(items)), regularisation=1.0, min_df=1)
    model = fit_lexical(items, gold, np.ones(len(items)), regularisation=1.0, min_df=1,
                        char_min_df=1)
    assert model.char_weights.shape == (3, len(model.char_vocabulary)) and model.char_vocabulary
    assert not np.allclose(model.scores(items), words_only.scores(items))
    save_model(model, tmp_path / "m.npz")
    again = load_model(tmp_path / "m.npz")
    assert again.char_vocabulary == model.char_vocabulary
    assert np.allclose(again.scores(items), model.scores(items), atol=1e-4)
    # A model without the block (all models before it) still loads and scores as before.
    save_model(words_only, tmp_path / "w.npz")
    assert np.allclose(load_model(tmp_path / "w.npz").scores(items), words_only.scores(items),
                       atol=1e-4)


def test_neighbour_block_reads_the_context_and_round_trips(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    items = [ClassifyInput(i.text, before=b, after="", target=i.target) for i, b in zip(
        ITEMS * 4, ["These differ.", "Nothing else.", "As usual here."] * 4, strict=True)]
    gold = np.array([0, 2, 1] * 4)
    model = fit_lexical(items, gold, np.ones(len(items)), regularisation=1.0, min_df=1,
                        context_weight=0.4)
    assert "differ" in model.context_vocabulary
    assert model.context_weights.shape == (3, len(model.context_vocabulary))
    swapped = [ClassifyInput(i.text, before="Nothing else.", target=i.target) for i in items]
    assert not np.allclose(model.scores(items), model.scores(swapped))
    save_model(model, tmp_path / "m.npz")
    again = load_model(tmp_path / "m.npz")
    assert np.allclose(again.scores(items), model.scores(items), atol=1e-4)
