"""Storage backends behind one interface; `open_store` picks one from a URL."""

from __future__ import annotations

from pathlib import Path

from fractal_service.store.base import (
    Completion,
    LeaseLost,
    NotFound,
    Page,
    Store,
    StoreError,
)

__all__ = ["Completion", "LeaseLost", "NotFound", "Page", "Store", "StoreError", "open_store"]


def open_store(url: str | None, data_dir: Path, *, max_attempts: int = 5) -> Store:
    """`None` or `sqlite:` → SQLite in data_dir; `sqlite:///abs/path.db` → that file."""
    if url is None or url in ("sqlite", "sqlite:", "sqlite://"):
        from fractal_service.store.sqlite import SqliteStore

        return SqliteStore(Path(data_dir) / "fractals.db", max_attempts=max_attempts)
    if url.startswith("sqlite:///"):
        from fractal_service.store.sqlite import SqliteStore

        return SqliteStore(Path(url.removeprefix("sqlite://")), max_attempts=max_attempts)
    raise ValueError(f"unsupported store URL {url!r} (expected sqlite:[///path])")
