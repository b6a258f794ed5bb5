"""Storage backends behind one interface; `open_store` picks one from a URL.

Each backend is imported only when chosen: the SQLite default never loads openstacksdk.
"""

from __future__ import annotations

from pathlib import Path

from fractal_service.store.base import (
    Completion,
    KeyReused,
    LeaseLost,
    NotFound,
    Page,
    Store,
    StoreError,
)

__all__ = ["Completion", "KeyReused", "LeaseLost", "NotFound", "Page", "Store", "StoreError",
           "open_store"]


def open_store(url: str | None, data_dir: Path, *, max_attempts: int = 5) -> Store:
    """`None` or `sqlite:` → SQLite in data_dir; `sqlite:///abs/path.db` → that file;
    `swift://CLOUD/CONTAINER[?region=R&config=clouds.yaml]` → Object Storage (see swift.py)."""
    if url is None or url in ("sqlite", "sqlite:", "sqlite://"):
        from fractal_service.store.sqlite import SqliteStore

        return SqliteStore(Path(data_dir) / "fractals.db", max_attempts=max_attempts)
    if url.startswith("sqlite:///"):
        from fractal_service.store.sqlite import SqliteStore

        return SqliteStore(Path(url.removeprefix("sqlite://")), max_attempts=max_attempts)
    if url.startswith("swift:"):
        from fractal_service.store.swift import SwiftStore
        from fractal_service.store.token_cache import FILE

        # This node's cached login (token_cache.py): a starting API asks Keystone nothing.
        return SwiftStore.from_url(url, max_attempts=max_attempts,
                                   token_cache=str(Path(data_dir) / FILE))
    raise ValueError(f"unsupported store URL {url!r} (expected sqlite:[///path] or "
                     "swift://CLOUD/CONTAINER)")
