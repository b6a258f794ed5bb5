"""Files only their owner may read (keys, TSIG secrets): never readable by others, not even
between creation and chmod."""

from __future__ import annotations

import os
from pathlib import Path


def write_private(path: Path, text: str | bytes) -> Path:
    """`text` into `path` with mode 0600 (an existing file is rewritten and re-moded)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb" if isinstance(text, bytes) else "w") as out:
        out.write(text)
    path.chmod(0o600)
    return path
