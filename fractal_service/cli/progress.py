"""A one-line progress bar on stderr (redrawn in place on a terminal, plain lines otherwise)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, label: str, total: int, stream: TextIO | None = None,
                 width: int = 30) -> None:
        self.label = label
        self.total = max(total, 1)
        self.stream = stream or sys.stderr
        self.width = width
        self.started = time.monotonic()
        self._tty = self.stream.isatty()
        self._last_plain = -1.0

    def update(self, done: int, extra: str = "") -> None:
        fraction = min(done / self.total, 1.0)
        filled = int(fraction * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        line = (f"{self.label} [{bar}] {done}/{self.total}"
                f" {time.monotonic() - self.started:5.1f}s{' ' + extra if extra else ''}")
        if self._tty:
            self.stream.write("\r" + line + "\x1b[K")
        elif fraction >= 1.0 or time.monotonic() - self._last_plain >= 2.0:
            # Not a terminal (CI logs): a line every few seconds, not a flood.
            self.stream.write(line + "\n")
            self._last_plain = time.monotonic()
        self.stream.flush()

    def finish(self) -> None:
        if self._tty:
            self.stream.write("\n")
            self.stream.flush()
