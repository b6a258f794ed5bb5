"""What a new set of values from etcd does to a running process.

Validated first (all of them, with the TOML file's rules and cross-checks): a bad set is
refused whole and the process keeps what it runs with. Then each changed setting is either
live (applied now, through the process's callback) or needs a restart (logged, counted, and
taken at the next start, when the values are read again).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import fields, replace
from typing import Any

from fractal_service.config import Settings
from fractal_service.settings.keys import to_mapping

log = logging.getLogger("fractal.settings")

Build = Callable[[dict[str, Any]], Settings]  # etcd's mapping → the process's settings


class LiveSettings:
    def __init__(self, build: Build, live: frozenset[str],
                 apply: Callable[[Settings], None] = lambda _s: None,
                 unused: frozenset[str] = frozenset()) -> None:
        """`unused`: settings this program never reads (the API's [worker], the worker's
        store): a change to one waits for no restart of this process, so none is reported."""
        self.build = build
        self.live = live
        self.unused = unused
        self.apply = apply
        self.started = build({})  # replaced by first(); until then no etcd values
        self.current = self.started
        self.pending_restart: tuple[str, ...] = ()
        self.applied = 0
        self.rejected = 0
        self.last_error: str | None = None
        self._lock = threading.Lock()

    def first(self, values: dict[str, str]) -> Settings:
        """The settings the process starts with (ValueError if the values are bad)."""
        self.started = self.current = self.build(to_mapping(values))
        return self.current

    def offer(self, values: dict[str, str]) -> bool:
        """True if the values are valid (and what can change live has changed)."""
        with self._lock:
            try:
                new = self.build(to_mapping(values))
            except ValueError as exc:
                self.rejected += 1
                self.last_error = str(exc)
                log.error("settings from etcd refused, keeping the current ones: %s", exc)
                return False
            self.last_error = None
            changed = {f.name for f in fields(Settings)
                       if getattr(new, f.name) != getattr(self.current, f.name)}
            now = changed & self.live
            if now:
                self.current = replace(self.current, **{n: getattr(new, n) for n in now})
                self.apply(self.current)
                self.applied += 1
                log.info("settings from etcd applied: %s", ", ".join(
                    f"{n}={getattr(new, n)}" for n in sorted(now)))
            pending = tuple(sorted(
                f.name for f in fields(Settings) if f.name not in self.live | self.unused
                and getattr(new, f.name) != getattr(self.started, f.name)))
            if pending and pending != self.pending_restart:
                log.warning("settings from etcd need a restart to apply: %s", ", ".join(pending))
            self.pending_restart = pending
            return True
