"""One builder at a time for a cache shared by processes (the Debian package, the Vagrant box):
CI builds the box in the background while the main test session may build the package."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def held(path: Path) -> Iterator[None]:
    """An exclusive flock on `path` (made if missing) for the block: a second process waits
    for the first, then finds its result in the cache. Released if the holder dies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
