"""One builder at a time for the package and box caches (cluster/file_lock.py): CI builds the
box in the background while the main session may build the package."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

from cluster import file_lock


def _hold(path: Path, seconds: float) -> None:
    with file_lock.held(path):
        time.sleep(seconds)


def test_a_second_builder_waits_for_the_first(tmp_path: Path) -> None:
    lock = tmp_path / "cache" / "box.lock"
    first = multiprocessing.get_context("fork").Process(target=_hold, args=(lock, 1.0))
    first.start()
    deadline = time.monotonic() + 5
    while not lock.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    began = time.monotonic()
    with file_lock.held(lock):
        waited = time.monotonic() - began
    first.join(5)
    assert waited >= 0.5


def test_the_lock_is_released_when_its_holder_dies(tmp_path: Path) -> None:
    lock = tmp_path / "box.lock"
    holder = multiprocessing.get_context("fork").Process(target=_hold, args=(lock, 60))
    holder.start()
    time.sleep(0.3)
    holder.kill()
    holder.join(5)
    began = time.monotonic()
    with file_lock.held(lock):
        assert time.monotonic() - began < 2
