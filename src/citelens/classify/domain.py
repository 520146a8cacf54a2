"""Domain-adaptive pretraining of the encoder's adapters: masked-word prediction on unlabelled
citing sentences from full-text articles, before any labelled data.

all-MiniLM-L6-v2 was tuned on general sentence pairs; the statements it classifies are
biomedical citing sentences with callouts in them. Predicting masked word pieces of many such
sentences (with the callouts marked as the classifier sees them) adapts the LoRA matrices to
that text; the labelled stages then start from them. The package's model has no masked-word
head, so one is trained alongside (a transform and the tied word embeddings, as BERT's): it
is dropped afterwards, only the LoRA matrices go on.
"""

from __future__ import annotations

import math
import tarfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from citelens.classify.base import ClassifyInput
from citelens.classify.finetune import (
    HIDDEN,
    Adapter,
    FinetuneConfig,
    _length_batches,
    _padded,
    _snapshot,
    _torch,
    seeded_model,
    tokenize,
    warmup_optimiser,
)
from citelens.errors import CitelensError, ModelError
from citelens.extract import extract
from citelens.model import Statement
from citelens.parse.jats import parse_jats


@dataclass(frozen=True, slots=True)
class MaskedConfig:
    epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 1e-3  # LoRA matrices
    head_learning_rate: float = 2e-3  # the masked-word head (trained from nothing)
    mask_share: float = 0.15
    seed: int = 0
    threads: int | None = None


def mask_tokens(ids: Sequence[int], special: frozenset[int], mask_id: int, vocab: int,
                share: float, rng: np.random.Generator) -> tuple[list[int], list[int]]:
    """BERT's masking of one sequence: `share` of its ordinary pieces (at least one) are
    chosen; of those 80% become [MASK], 10% a random piece, 10% stay. Returns the input ids and
    the labels (the original id where chosen, -100 elsewhere)."""
    candidates = [k for k, i in enumerate(ids) if i not in special]
    inputs, labels = list(ids), [-100] * len(ids)
    if not candidates:
        return inputs, labels
    count = max(1, round(share * len(candidates)))
    for k in rng.choice(candidates, size=count, replace=False):
        labels[k] = ids[k]
        roll = rng.random()
        if roll < 0.8:
            inputs[k] = mask_id
        elif roll < 0.9:
            inputs[k] = int(rng.integers(vocab))
    return inputs, labels


def corpus_sentences(archive: Path, articles: int, seed: int = 0,
                     sections: frozenset[str] | None = None) -> list[ClassifyInput]:
    """Citing sentences (each once, its first callout as the target) of a seeded sample of
    `articles` JATS articles from a .tar.xz of them (the eLife corpus in shared/data), only
    from `sections` (section types, e.g. "discussion") when given."""
    try:
        with tarfile.open(archive) as tar:
            names = sorted(m.name for m in tar.getmembers()
                           if m.isfile() and m.name.endswith(".xml"))
            pick = np.random.default_rng(seed).permutation(len(names))[:articles]
            chosen = {names[k] for k in pick}
            found: dict[str, list[ClassifyInput]] = {}
            # In the archive's own order: a compressed tarball cannot seek back cheaply.
            for member in tar:
                handle = tar.extractfile(member) if member.name in chosen else None
                if handle is None:
                    continue
                try:
                    document = parse_jats(handle.read())
                except CitelensError:
                    continue  # an article that does not parse adds nothing
                found[member.name] = [i for i in _sentences(extract(document))
                                      if sections is None or i.section in sections]
    except (OSError, tarfile.TarError) as error:
        raise ModelError(f"{archive}: cannot read the articles: {error}") from error
    return [item for name in sorted(found) for item in found[name]]


def _sentences(statements: Sequence[Statement]) -> Iterator[ClassifyInput]:
    seen: set[tuple[int, int]] = set()
    for s in statements:
        if (s.paragraph, s.sentence) in seen or not s.callouts:
            continue
        seen.add((s.paragraph, s.sentence))
        yield ClassifyInput(s.text, target=(s.callouts[0].start, s.callouts[0].end),
                            section=s.section_type.value)


def adapt_encoder(items: Sequence[ClassifyInput], finetune: FinetuneConfig | None = None,
                  config: MaskedConfig = MaskedConfig(),
                  log: Callable[[str], None] = lambda _: None) -> Adapter:
    """LoRA matrices (of `finetune`'s rank and alpha) trained to predict masked word pieces of
    `items` (seeded), with a fresh classification head for the labelled stages to train."""
    if not items:
        raise ModelError("no sentences for domain-adaptive pretraining")
    finetune = finetune or FinetuneConfig()
    torch = _torch()
    encoder, head, tokenizer, rng = seeded_model(finetune.rank, finetune.alpha, config.seed,
                                                 config.threads)
    fresh = _snapshot(encoder, head, finetune)  # the classification head stays as built
    words = encoder.embeddings.word_embeddings.weight  # frozen: the decoder is tied to it
    transform = torch.nn.Sequential(torch.nn.Linear(HIDDEN, HIDDEN), torch.nn.GELU(),
                                    torch.nn.LayerNorm(HIDDEN))
    bias = torch.nn.Parameter(torch.zeros(words.shape[0]))
    special = frozenset(tokenizer.all_special_ids)
    rows = [ids for ids, _ in tokenize(tokenizer, items)]
    adapters = [p for p in encoder.parameters() if p.requires_grad]
    mlm = [*transform.parameters(), bias]
    optimiser, schedule = warmup_optimiser(
        [(adapters, config.learning_rate), (mlm, config.head_learning_rate)],
        config.epochs * math.ceil(len(rows) / config.batch_size))
    started = time.perf_counter()
    encoder.train()
    for epoch in range(config.epochs):
        total, batches = 0.0, _length_batches([len(r) for r in rows], config.batch_size, rng)
        for batch in batches:
            masked = [mask_tokens(rows[i], special, tokenizer.mask_token_id, words.shape[0],
                                  config.mask_share, rng) for i in batch]
            ids, mask, labels = _padded(torch, masked)
            labels[mask == 0] = -100  # padding is never a masked word
            states = encoder(input_ids=ids, attention_mask=mask).last_hidden_state
            chosen = labels != -100
            logits = transform(states[chosen]) @ words.T + bias
            loss = torch.nn.functional.cross_entropy(logits, labels[chosen])
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(adapters + mlm, 1.0)
            optimiser.step()
            schedule.step()
            total += float(loss.detach())
        log(f"masked-word epoch {epoch + 1}/{config.epochs}: loss {total / len(batches):.4f} "
            f"({time.perf_counter() - started:.0f} s, {len(rows)} sentences)")
    adapted = _snapshot(encoder, head, finetune)
    return Adapter(adapted.rank, adapted.alpha, adapted.lora, fresh.head_weight, fresh.head_bias)

