"""Fine-tune all-MiniLM-L6-v2 (all layers, or LoRA adapters) on clinical folds; CPU experiment.

Usage: python benchmarks/finetune_minilm.py [--folds 0,1,2,3,4] [--epochs 4] [--lora 0]
       [--aux-multicite N] [--out var/finetune]

For each clinical fold (the article-grouped folds of `citelens train`), fine-tunes the encoder
on the other folds (plus, optionally, N MultiCite training statements), then writes the held-out
fold's logits to OUT/fold{F}.npy with the row indices, and prints macro-F1 of the argmax.
The logits are meant for stacking with the lexical model's out-of-fold scores.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
from transformers import AutoModel, AutoTokenizer  # noqa: E402

from citelens.classify.calibration import macro_f1  # noqa: E402
from citelens.classify.data import load_source  # noqa: E402
from citelens.classify.encoder import encoder_dir  # noqa: E402
from citelens.classify.features import TARGET_TOKEN, marked_text  # noqa: E402
from citelens.classify.metrics import grouped_folds  # noqa: E402
from citelens.classify.train import labels_of  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "labeled"


class LoRALinear(torch.nn.Module):
    """A frozen linear layer plus a trainable low-rank update (B @ A), scaled by alpha / r."""

    def __init__(self, base: torch.nn.Linear, rank: int, alpha: float = 16.0) -> None:
        super().__init__()
        self.base = base
        for p in self.base.parameters():
            p.requires_grad = False
        self.a = torch.nn.Parameter(torch.randn(rank, base.in_features) * 0.01)
        self.b = torch.nn.Parameter(torch.zeros(base.out_features, rank))
        self.scale = alpha / rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.a.T @ self.b.T) * self.scale


class Model(torch.nn.Module):
    def __init__(self, lora: int) -> None:
        super().__init__()
        self.encoder = AutoModel.from_pretrained(str(encoder_dir()))
        if lora:
            for p in self.encoder.parameters():
                p.requires_grad = False
            for layer in self.encoder.encoder.layer:
                att = layer.attention.self
                att.query = LoRALinear(att.query, lora)
                att.value = LoRALinear(att.value, lora)
                layer.intermediate.dense = LoRALinear(layer.intermediate.dense, lora)
                layer.output.dense = LoRALinear(layer.output.dense, lora)
        self.head = torch.nn.Sequential(torch.nn.Dropout(0.1), torch.nn.Linear(384 * 2, 3))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        states = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        m = mask.unsqueeze(-1).float()
        mean = (states * m).sum(1) / m.sum(1).clamp(min=1)
        t = target.unsqueeze(-1).float()
        tgt = (states * t).sum(1) / t.sum(1).clamp(min=1)
        tgt = torch.where(t.sum(1) > 0, tgt, mean)
        return self.head(torch.cat([mean, tgt], dim=1))


def encode(tokenizer, texts: list[str], max_len: int = 128):  # type: ignore[no-untyped-def]
    ids, masks, targets = [], [], []
    for text in texts:
        enc = tokenizer(text, truncation=True, max_length=max_len, return_offsets_mapping=True)
        at = text.find(TARGET_TOKEN)
        span = (at, at + len(TARGET_TOKEN)) if at >= 0 else (-1, -1)
        tmask = [int(s < span[1] and e > span[0] and e > s) for s, e in enc["offset_mapping"]]
        ids.append(enc["input_ids"])
        masks.append(enc["attention_mask"])
        targets.append(tmask)
    return ids, masks, targets


def batches(rows: list[int], ids, masks, targets, size: int):  # type: ignore[no-untyped-def]
    for start in range(0, len(rows), size):
        chunk = rows[start : start + size]
        width = max(len(ids[i]) for i in chunk)

        def pad(seqs):  # type: ignore[no-untyped-def]
            return torch.tensor([seqs[i] + [0] * (width - len(seqs[i])) for i in chunk])

        yield chunk, pad(ids), pad(masks), pad(targets)


def run_fold(fold: int, args: argparse.Namespace, texts: list[str], gold: np.ndarray,
             folds: np.ndarray, aux_rows: list[int], tok_data) -> np.ndarray:  # type: ignore[no-untyped-def]
    torch.manual_seed(args.seed + fold)
    rng = np.random.default_rng(args.seed + fold)
    ids, masks, targets = tok_data
    n_clin = len(folds)
    train_rows = [i for i in range(n_clin) if folds[i] != fold] + aux_rows
    test_rows = [i for i in range(n_clin) if folds[i] == fold]
    model = Model(args.lora)
    counts = np.bincount(gold[train_rows], minlength=3)
    weights = torch.tensor((counts.sum() / (3 * counts)) ** args.class_power, dtype=torch.float32)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights)
    enc_params = [p for p in model.encoder.parameters() if p.requires_grad]
    optim = torch.optim.AdamW([
        {"params": enc_params, "lr": args.lr},
        {"params": model.head.parameters(), "lr": 1e-3},
    ], weight_decay=0.01)
    steps = args.epochs * math.ceil(len(train_rows) / args.batch)
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: min(1.0, s / max(1, steps // 10)) * max(0.0, (steps - s) / steps))
    started = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        order = list(rng.permutation(train_rows))
        # Bucket by length for cheap padding: sort chunks of 50 batches by length.
        chunk = args.batch * 50
        order = [i for s in range(0, len(order), chunk)
                 for i in sorted(order[s : s + chunk], key=lambda i: len(ids[i]))]
        blist = list(batches(order, ids, masks, targets, args.batch))
        rng.shuffle(blist)  # type: ignore[arg-type]
        total = 0.0
        for _, b_ids, b_mask, b_tgt in blist:
            logits = model(b_ids, b_mask, b_tgt)
            y = torch.tensor(gold[_])
            loss = loss_fn(logits, y)
            optim.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optim.step()
            sched.step()
            total += float(loss)
        print(f"fold {fold} epoch {epoch + 1} loss {total / len(blist):.4f} "
              f"{time.perf_counter() - started:.0f}s", flush=True)
    model.eval()
    out = np.zeros((len(test_rows), 3), dtype=np.float32)
    order = sorted(range(len(test_rows)), key=lambda k: len(ids[test_rows[k]]))
    with torch.no_grad():
        for start in range(0, len(order), 64):
            ks = order[start : start + 64]
            rows = [test_rows[k] for k in ks]
            _, b_ids, b_mask, b_tgt = next(batches(rows, ids, masks, targets, len(rows)))
            out[ks] = model(b_ids, b_mask, b_tgt).numpy()
    f1 = macro_f1(gold[test_rows], out.argmax(1))
    print(f"fold {fold} macro-F1 (argmax) {f1:.3f} in {time.perf_counter() - started:.0f}s",
          flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    np.save(args.out / f"fold{fold}.npy", out)
    np.save(args.out / f"fold{fold}-rows.npy", np.array(test_rows))
    return out


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--folds", default="0,1,2,3,4")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--lora", type=int, default=0)
    parser.add_argument("--class-power", type=float, default=0.5)
    parser.add_argument("--aux-multicite", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("var/finetune"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    clinical = load_source(DATA, "clinical")
    records = list(clinical)
    aux_rows: list[int] = []
    if args.aux_multicite:
        mc = [r for r in load_source(DATA, "multicite") if r.split == "train"]
        rng = np.random.default_rng(args.seed)
        picked = rng.choice(len(mc), size=min(args.aux_multicite, len(mc)), replace=False)
        aux_rows = list(range(len(records), len(records) + len(picked)))
        records.extend(mc[i] for i in picked)
    texts = [marked_text(r.item) for r in records]
    gold = labels_of(records)
    folds = grouped_folds([r.group for r in clinical], 5, args.seed)
    tokenizer = AutoTokenizer.from_pretrained(str(encoder_dir()))
    tok_data = encode(tokenizer, texts)
    for fold in (int(f) for f in args.folds.split(",")):
        run_fold(fold, args, texts, gold, folds, aux_rows, tok_data)


if __name__ == "__main__":
    main(sys.argv[1:])
