"""Keeps a process's settings in step with etcd: a watch for speed, a poll for truth.

The watch applies a change within milliseconds; a linearizable read every `interval` seconds
tells whether etcd can be trusted (a member without quorum keeps a watch open but silent) and
catches up whatever the watch missed. When etcd is unreachable the process keeps running on
the last good values, says so (status(), metrics), and catches up when etcd is back.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

from fractal_service.config import Settings
from fractal_service.settings.cache import ValuesCache
from fractal_service.settings.etcd import Etcd, EtcdUnavailable
from fractal_service.settings.keys import PREFIX, name_of
from fractal_service.settings.live import LiveSettings

log = logging.getLogger("fractal.settings")
POLL_SECONDS = 1.0
WATCH_RETRY_SECONDS = 0.5


class EtcdSettingsSource:
    def __init__(self, etcd: Etcd, live: LiveSettings, cache: ValuesCache,
                 prefix: str = PREFIX, interval: float = POLL_SECONDS) -> None:
        self.etcd = etcd
        self.live = live
        self.cache = cache
        self.prefix = prefix
        self.interval = interval
        self.up = False
        self.since = time.time()
        self.revision = 0
        self.origin = "none"  # where the running values came from: etcd, cache or none
        self.error: str | None = None
        self._values: dict[str, str] | None = None
        self._sync_lock = threading.Lock()
        self._stop = threading.Event()

    def load_initial(self) -> Settings:
        """At start: etcd's values, else the disk cache's, else none (file and defaults)."""
        try:
            if self.sync(initial=True):
                return self.live.current
        except EtcdUnavailable:
            pass  # recorded by sync()
        cached = self.cache.load()
        if cached is not None:
            values, revision = cached
            try:
                settings = self.live.first(values)
            except ValueError as exc:
                log.warning("settings cache %s discarded: %s", self.cache.path, exc)
                self.cache.discard()
            else:
                log.warning("etcd unreachable: starting on the cached settings (revision %d)",
                            revision)
                self._values, self.revision, self.origin = values, revision, "cache"
                return settings
        log.warning("etcd unreachable and no cached settings: file and defaults only")
        return self.live.first({})

    def sync(self, initial: bool = False) -> bool | None:
        """Read every value and offer them if they changed (raises EtcdUnavailable): True if
        taken, False if refused, None if nothing changed."""
        with self._sync_lock:  # up/down recorded under it: in the order the reads ended
            try:
                snap = self.etcd.snapshot(self.prefix)
            except EtcdUnavailable as exc:
                self._down(exc)
                raise
            # Up before the values apply: a request that sees them finds /readyz saying so.
            self._up(snap.revision)
            values = {name_of(k, self.prefix): v for k, v in snap.values.items()}
            if initial:
                ok = self._first(values)
            elif values != self._values:
                ok = self.live.offer(values)
            else:
                ok = None  # nothing new
            if ok:
                self.cache.save(values, snap.revision)
                self.origin = "etcd"
            self._values, self.revision = values, snap.revision
            return ok

    def _first(self, values: dict[str, str]) -> bool:
        try:
            self.live.first(values)
        except ValueError as exc:  # written around `fractal config set`: the cache then
            self.live.rejected += 1
            self.live.last_error = str(exc)
            log.error("settings in etcd refused at start: %s", exc)
            return False
        return True

    def start(self) -> None:
        for target, name in ((self._poll, "settings-poll"), (self._watch, "settings-watch")):
            threading.Thread(target=target, name=name, daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def status(self) -> dict[str, Any]:
        return {"source": "etcd", "etcd": "up" if self.up else "unreachable",
                "since": round(self.since, 3), "revision": self.revision,
                "origin": self.origin, "restart_pending": list(self.live.pending_restart),
                "error": self.live.last_error or self.error}

    def _poll(self) -> None:
        while not self._stop.wait(self.interval):
            with contextlib.suppress(EtcdUnavailable):  # recorded by sync(); next round
                self.sync()

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                # Never read yet (etcd down so far): from now on, the poll reads the rest.
                start = self.revision + 1 if self.revision else None
                for _revision in self.etcd.watch(self.prefix, start):
                    if self._stop.is_set():
                        return
                    self.sync()
            except EtcdUnavailable as exc:
                log.debug("settings watch: %s", exc)
                self._stop.wait(WATCH_RETRY_SECONDS)

    def _up(self, revision: int) -> None:
        if not self.up:
            self.up, self.since, self.error = True, time.time(), None
            log.info("etcd reachable: settings at revision %d", revision)

    def _down(self, exc: Exception) -> None:
        self.error = str(exc)[:300]
        if self.up or self.origin == "none":
            log.warning("etcd unreachable, running on the last good settings: %s", self.error)
        if self.up:
            self.up, self.since = False, time.time()

