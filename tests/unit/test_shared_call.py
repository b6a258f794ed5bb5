"""store/shared.py: one store call in flight for many callers."""

from __future__ import annotations

import threading
import time

import pytest

from fractal_service.store import StoreError
from fractal_service.store.shared import SharedCall


class Slow:
    def __init__(self) -> None:
        self.calls = 0
        self.release = threading.Event()
        self.fail = False

    def __call__(self) -> int:
        self.calls += 1
        self.release.wait(5)
        if self.fail:
            raise StoreError("down")
        return self.calls


def in_thread(call: SharedCall) -> threading.Thread:
    thread = threading.Thread(target=call)
    thread.start()
    time.sleep(0.05)
    return thread


def test_callers_during_a_call_get_the_last_answer_at_once() -> None:
    fn = Slow()
    shared = SharedCall(fn)
    fn.release.set()
    assert shared() == 1
    fn.release.clear()
    first = in_thread(shared)  # a second call, held by the store
    started = time.monotonic()
    assert shared() == 1 and time.monotonic() - started < 0.5
    fn.release.set()
    first.join()
    assert fn.calls == 2 and shared() == 3  # ttl 0: a new call once none is running


def test_a_call_running_longer_than_slow_is_the_answer() -> None:
    fn = Slow()
    shared = SharedCall(fn, slow=0.1)
    fn.release.set()
    shared()
    fn.release.clear()
    first = in_thread(shared)
    assert shared() == 1  # young: the last answer
    time.sleep(0.1)
    with pytest.raises(StoreError, match="has not answered for"):
        shared()
    fn.release.set()
    first.join()


def test_answers_are_kept_for_ttl_but_failures_are_not() -> None:
    fn = Slow()
    fn.release.set()
    shared = SharedCall(fn, ttl=60)
    assert shared() == 1 and shared() == 1
    fn.fail, shared._valid_until = True, 0.0
    with pytest.raises(StoreError):
        shared()
    fn.fail = False
    assert shared() == 3  # the failure was not kept
