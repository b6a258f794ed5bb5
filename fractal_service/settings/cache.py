"""The last good values from etcd, on disk: a process started while etcd is down uses them."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path

log = logging.getLogger("fractal.settings")


class ValuesCache:
    """JSON {"revision": int, "values": {name: text}}, owner-only, replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def save(self, values: dict[str, str], revision: int) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            # Created 0600 from the start: settings may name files and URLs worth hiding.
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump({"revision": revision, "values": values}, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)  # a crash leaves the old file or the new, never half
        except OSError as exc:
            log.warning("settings cache %s not written: %s", self.path, exc)

    def load(self) -> tuple[dict[str, str], int] | None:
        """The cached values, or None; a corrupt file is discarded (and says so)."""
        try:
            data = json.loads(self.path.read_text())
            values, revision = data["values"], int(data["revision"])
            if not isinstance(values, dict) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in values.items()):
                raise ValueError("values are not a mapping of text")
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("settings cache %s discarded: corrupt (%s)", self.path, exc)
            self.discard()
            return None
        return values, revision

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()
