"""What the training benchmarks share: a log line with the seconds since start, and the
arrays of a saved run (their --from)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def elapsed_log() -> Callable[[str], None]:
    """A function printing each line to stderr after the seconds since this call."""
    started = time.perf_counter()

    def log(line: str) -> None:
        print(f"[{time.perf_counter() - started:6.0f} s] {line}", file=sys.stderr, flush=True)

    return log


def saved_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of an .npz a benchmark saved."""
    with np.load(path) as data:
        return {k: data[k] for k in data.files}
