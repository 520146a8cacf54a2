"""Domain-adaptive pretraining (classify/domain.py): BERT's masking, the citing sentences it
reads from a tarball of articles, and a seeded masked-word fit that moves only the LoRA
matrices and leaves a fresh head for the labelled stages."""

from __future__ import annotations

import io
import tarfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from citelens.classify.base import ClassifyInput
from citelens.classify.domain import corpus_sentences, mask_tokens
from citelens.errors import ModelError

FIXTURES = Path(__file__).parent / "fixtures" / "jats"
SPECIAL = frozenset({0, 101, 102})


def test_masking_chooses_a_share_of_ordinary_pieces_and_never_special_ones() -> None:
    ids = [101, *range(1000, 1040), 102, 0, 0]
    inputs, labels = mask_tokens(ids, SPECIAL, 103, 30522, 0.15, np.random.default_rng(1))
    chosen = [k for k, label in enumerate(labels) if label != -100]
    assert len(chosen) == 6  # 15% of 40
    assert all(ids[k] not in SPECIAL for k in chosen)
    assert all(labels[k] == ids[k] for k in chosen)
    # Positions not chosen are left as they were; most chosen ones become [MASK].
    assert all(inputs[k] == ids[k] for k in range(len(ids)) if k not in chosen)
    many = [mask_tokens(ids, SPECIAL, 103, 30522, 0.15, np.random.default_rng(s))
            for s in range(200)]
    masked = sum(i == 103 for inputs, labels in many for i, t in zip(inputs, labels,
                                                                      strict=True) if t != -100)
    assert 0.7 < masked / (200 * 6) < 0.9


def test_masking_takes_at_least_one_piece_and_leaves_an_empty_sequence_alone() -> None:
    _, labels = mask_tokens([101, 2000, 102], SPECIAL, 103, 30522, 0.15,
                            np.random.default_rng(0))
    assert labels == [-100, 2000, -100]
    assert mask_tokens([101, 102], SPECIAL, 103, 30522, 0.15, np.random.default_rng(0)) == (
        [101, 102], [-100, -100])


def _archive(tmp_path: Path, extra: dict[str, bytes] | None = None) -> Path:
    path = tmp_path / "articles.tar.xz"
    with tarfile.open(path, "w:xz") as tar:
        files = {f"set/{p.name}": p.read_bytes() for p in sorted(FIXTURES.glob("*.xml"))}
        files.update(extra or {})
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_corpus_reads_each_citing_sentence_once_with_its_first_callout_marked(
        tmp_path: Path) -> None:
    archive = _archive(tmp_path, {"set/broken.xml": b"<article><body><p>unclosed",
                                  "set/notes.txt": b"not an article"})
    sentences = corpus_sentences(archive, articles=100)
    assert sentences, "the fixtures cite references"
    assert all(isinstance(s, ClassifyInput) and s.target is not None for s in sentences)
    assert len({s.text for s in sentences}) == len(sentences)
    # The target span is a callout inside the sentence: an author-year or numbered one.
    for s in sentences:
        assert s.target is not None
        callout = s.text[s.target[0] : s.target[1]]
        assert callout and (any(c.isdigit() for c in callout)), callout
    # The section filter keeps only what it names.
    kept = corpus_sentences(archive, articles=100, sections=frozenset({"introduction"}))
    assert kept and len(kept) < len(sentences)
    assert {s.section for s in kept} == {"introduction"}
    # A seeded sample of fewer articles reads a subset.
    assert len(corpus_sentences(archive, articles=1)) < len(sentences)


def test_corpus_names_an_archive_it_cannot_read(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"missing\.tar\.xz"):
        corpus_sentences(tmp_path / "missing.tar.xz", articles=3)
    (tmp_path / "junk.tar.xz").write_bytes(b"not a tarball")
    with pytest.raises(ModelError, match=r"junk\.tar\.xz"):
        corpus_sentences(tmp_path / "junk.tar.xz", articles=3)


def test_masked_word_fit_is_seeded_moves_the_lora_and_keeps_a_fresh_head() -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from citelens.classify.domain import MaskedConfig, adapt_encoder
    from citelens.classify.finetune import FinetuneConfig

    texts = ["Our results agree with those of the earlier trial [3].",
             "In contrast to [4], the drug had no effect on survival in this cohort.",
             "Cells were cultured as described previously [5] and imaged daily.",
             "These findings confirm the larger study [6] in older patients."] * 4
    items = [ClassifyInput(t, target=(t.index("["), t.index("]") + 1)) for t in texts]
    finetune = FinetuneConfig(rank=4, seed=2)
    config = MaskedConfig(batch_size=4, seed=2, threads=1)
    first, second = adapt_encoder(items, finetune, config), adapt_encoder(items, finetune, config)
    assert first.rank == 4 and len(first.lora) == 6 * 4 * 2
    assert all(np.array_equal(first.lora[k], second.lora[k]) for k in first.lora)
    assert any(np.abs(v).max() > 0 for k, v in first.lora.items() if k.endswith(".b"))
    # The classification head is not trained (the masked-word head is dropped): it is as
    # built, the same as from a fit that learns nothing.
    still = adapt_encoder(items, finetune, replace(config, learning_rate=0.0,
                                                   head_learning_rate=0.0))
    assert all(np.abs(v).max() == 0 for k, v in still.lora.items() if k.endswith(".b"))
    assert np.array_equal(first.head_weight, still.head_weight)
    assert np.array_equal(first.head_bias, still.head_bias)
    other = adapt_encoder(items, finetune, replace(config, seed=9))
    assert not np.array_equal(first.lora["0.attention.self.query.b"],
                              other.lora["0.attention.self.query.b"])
    with pytest.raises(ModelError, match="no sentences"):
        adapt_encoder([], finetune, config)


def test_train_stage_reads_real_elife_sentences_and_feeds_the_next_stage(
        shared_data: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from citelens.classify.finetune import FinetuneConfig
    from citelens.classify.train import TrainConfig, masked_pretraining, pretrain_adapter

    config = TrainConfig(shared_data / "labeled", limit=40, held_out=False,
                         encoder=FinetuneConfig(rank=2, epochs=1, threads=1),
                         masked_articles=2, encoder_pretrain=())
    used: dict[str, int] = {}
    adapted = masked_pretraining(config, used, lambda _: None)
    assert adapted is not None and adapted.rank == 2
    assert 0 < used["pretrain masked-word sentences"] <= 40
    # Without an intermediate task the labelled fits start from the adapted matrices.
    assert pretrain_adapter(config, [], used, lambda _: None, init=adapted) is adapted
    assert masked_pretraining(replace(config, masked_articles=0), {}, lambda _: None) is None
