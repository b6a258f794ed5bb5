"""One listing of the open jobs, shared by the claims an API instance serves for a few seconds.

Measured on the lab's Swift (benchmarks/worker_throughput.py): every claim listed the
container from the oldest open job (less a clock margin, so two or three pages of finished
fractals under a backlog) and all concurrent claimers then raced for the same oldest job;
the losers paid a write, a read-back and a re-read each. Here one listing feeds the claims
that follow it for up to `max_age` seconds, and each claim takes a different job from it.

Safe because a claim is a compare-and-swap on the generation the listing showed: a job that
moved on since (claimed elsewhere, done, deleted) fails the swap and the claim takes the next
one, and a listing this young cannot aim at a collected generation (swift.py's GC_AGE). Jobs
handed to a claim in flight are skipped by the others, so claimers spread over the queue.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from fractal_service.store import deadline
from fractal_service.store.base import StoreError

J = TypeVar("J")
MAX_AGE = 5.0  # seconds a listing feeds claims; far below GC_AGE (60 s)
TOKENS_MAX = 10_000  # claim tokens remembered to tell a retried claim from a first one


class ClaimQueue(Generic[J]):
    def __init__(self, refresh: Callable[[], list[J]], key: Callable[[J], str], *,
                 max_age: float = MAX_AGE, wait: float = 10.0) -> None:
        self.refresh = refresh  # the open jobs, oldest first
        self.key = key
        self.max_age = max_age
        self.wait = wait  # longest wait for another claim's listing (also bounded by deadline)
        self.listings = 0
        self._jobs: list[J] = []
        self._listed_at = -float("inf")
        self._in_flight: set[str] = set()
        self._tokens: set[str] = set()
        self._lock = threading.Lock()

    def retried(self, token: str) -> bool:
        """True if a claim under `token` came through here before (its answer was lost)."""
        with self._lock:
            if token in self._tokens:
                return True
            if len(self._tokens) >= TOKENS_MAX:
                self._tokens.clear()
            self._tokens.add(token)
            return False

    def take(self, wanted: Callable[[J], bool], *, may_list: bool,
             when_none: bool = True) -> tuple[J | None, bool]:
        """The oldest job `wanted` that no other claim is trying, marked in flight until
        `done`; and whether a listing was made for it. `may_list`: list again if the queue is
        stale, or (`when_none`) has nothing wanted; a claim lists at most once."""
        if not self._lock.acquire(timeout=deadline.left(self.wait)):
            raise StoreError("claims are waiting for a listing of the open jobs")
        try:
            listed = False
            if may_list and time.monotonic() - self._listed_at > self.max_age:
                self._list()
                listed = True
            job = self._pick(wanted)
            if job is None and may_list and when_none and not listed:
                self._list()
                listed = True
                job = self._pick(wanted)
            return job, listed
        finally:
            self._lock.release()

    def stale(self) -> None:
        """The next claim lists again: a job went back to the queue (a release) and is older
        than what the listing still offers."""
        with self._lock:
            self._listed_at = -float("inf")

    def done(self, job: J) -> None:
        with self._lock:
            self._in_flight.discard(self.key(job))

    def _list(self) -> None:
        started = time.monotonic()
        self._jobs = self.refresh()
        self._listed_at = started
        self.listings += 1

    def _pick(self, wanted: Callable[[J], bool]) -> J | None:
        for i, job in enumerate(self._jobs):
            if self.key(job) not in self._in_flight and wanted(job):
                del self._jobs[i]
                self._in_flight.add(self.key(job))
                return job
        return None
