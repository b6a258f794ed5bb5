"""The time a store call may still take: the deadline of the request it serves.

The API sets a deadline for each request (api/admission.py); the backends bound every call to
the cloud or the database by what is left of it (a Swift call's timeout, SQLite's busy
timeout), so a request never holds its store slot past its deadline by more than one call's
clean-up, however slow the store. Outside a request (workers' tools, tests) there is none.
A context variable, not a global: each request thread has its own.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from fractal_service.store.base import StoreError

_deadline: ContextVar[float | None] = ContextVar("fractal_store_deadline", default=None)
# Below this a call cannot usefully start (a TCP connect alone takes longer on a busy cloud).
MINIMUM = 0.05


class DeadlineExceeded(StoreError):
    """The request's deadline passed before the store answered; the API answers 504."""


@contextmanager
def bounded(seconds: float) -> Iterator[None]:
    """Store calls in this block end within `seconds` (or sooner, if an outer bound is nearer)."""
    at = time.monotonic() + seconds
    outer = _deadline.get()
    token = _deadline.set(at if outer is None else min(at, outer))
    try:
        yield
    finally:
        _deadline.reset(token)


def start(seconds: float) -> None:
    """Like `bounded`, for a request whose begin and end are two hooks (see `end`)."""
    _deadline.set(time.monotonic() + seconds)


def end() -> None:
    _deadline.set(None)


def left(default: float) -> float:
    """Seconds a call may take: `default` bounded by the deadline; DeadlineExceeded if it passed."""
    at = _deadline.get()
    if at is None:
        return default
    remaining = at - time.monotonic()
    if remaining < MINIMUM:
        raise DeadlineExceeded(f"request deadline passed ({-remaining:.2f} s ago)")
    return min(default, remaining)
