"""One store call in flight for many callers: what a remote store's health checks and counts
need so that they cannot pile up.

/readyz, the self-test and /metrics ask the store for the same thing whoever calls; when the
store slows down, each of those requests would hold a request thread for as long as the store
takes (the store slots of api/admission.py do not cover them: they must answer while the slots
are full). Shared, at most one thread per kind waits on the store: callers that arrive while
the call runs get the last answer at once (stale by at most that call's time), and only the
very first callers, with no answer yet, wait for it (within their request's deadline).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from fractal_service.store import deadline
from fractal_service.store.base import StoreError

T = TypeVar("T")
FIRST_WAIT = 10.0  # seconds a caller without a deadline waits for the first answer


class SharedCall(Generic[T]):
    """`fn` called by one caller at a time; its answer (a value or a StoreError) is reused
    while the next call runs, and for `ttl` seconds, or `spread` times as long as the call
    took if that is longer (so a store takes at most 1/spread of its time on this).

    `slow`: a call running longer than that is itself the answer for those who arrive
    meanwhile (a StoreError: the store is slow), rather than the answer from before it; for
    health checks, where an old "fine" would hide the stall the running call is stuck in.
    """

    def __init__(self, fn: Callable[[], T], *, ttl: float = 0.0, spread: float = 0.0,
                 slow: float | None = None) -> None:
        self.fn = fn
        self.ttl = ttl
        self.spread = spread
        self.slow = slow
        self._since = 0.0  # when the call in flight began
        self._lock = threading.Lock()
        self._answer: tuple[T | None, StoreError | None] | None = None
        self._valid_until = 0.0
        self._running: threading.Event | None = None  # set when the call in flight ends

    def __call__(self) -> T:
        with self._lock:
            running, now = self._running, time.monotonic()
            if running is not None and self.slow is not None and now - self._since > self.slow:
                raise StoreError(f"the store has not answered for {now - self._since:.1f} s")
            if self._answer is not None and (running or now < self._valid_until):
                return self._unwrap(self._answer)
            if running is None:
                self._running, self._since = threading.Event(), now
        if running is not None:  # no answer yet, and the first call is on its way
            if not running.wait(deadline.left(FIRST_WAIT)):
                raise StoreError("the store did not answer in time")
            with self._lock:
                answer = self._answer
            if answer is None:
                raise StoreError("the store call failed")
            return self._unwrap(answer)
        return self._call()

    def _call(self) -> T:
        started = time.monotonic()
        answer: tuple[T | None, StoreError | None] | None = None
        try:
            answer = (self.fn(), None)
        except StoreError as exc:
            answer = (None, exc)
        finally:  # whatever happened, the next caller may call again
            with self._lock:
                took = time.monotonic() - started
                if answer is not None:
                    self._answer = answer
                    # A failure is shared while the next call runs, never kept beyond it.
                    keep = max(self.ttl, self.spread * took) if answer[1] is None else 0.0
                    self._valid_until = time.monotonic() + keep
                event, self._running = self._running, None
            if event is not None:
                event.set()
        return self._unwrap(answer)

    @staticmethod
    def _unwrap(answer: tuple[T | None, StoreError | None]) -> T:
        value, error = answer
        if error is not None:
            raise error
        return value  # type: ignore[return-value]
