"""Shared test fixtures: where the real data lives (skip when absent) and a fresh index file."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT / ".." / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """/work/shared/data (as `<repo>/../shared/data`); the test is skipped when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA.resolve()}")
    return SHARED_DATA.resolve()


@pytest.fixture
def tmp_db(tmp_path: Path) -> Path:
    """Path of a SQLite index file that does not exist yet, in the test's own folder."""
    return tmp_path / "citelens.db"


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hugging Face offline and every socket connect refused: models must load from disk."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise OSError("network access attempted in an offline test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
