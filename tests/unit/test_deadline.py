"""store/deadline.py: what a store call may still take inside a request."""

from __future__ import annotations

import time

import pytest

from fractal_service.store import deadline


def test_outside_a_request_calls_take_their_own_timeout() -> None:
    assert deadline.left(10.0) == 10.0


def test_a_bound_shortens_calls_and_an_inner_bound_cannot_lengthen_them() -> None:
    with deadline.bounded(2.0):
        assert 1.9 < deadline.left(10.0) <= 2.0
        assert deadline.left(0.5) == 0.5
        with deadline.bounded(60.0):
            assert deadline.left(10.0) <= 2.0
    assert deadline.left(10.0) == 10.0


def test_past_the_deadline_no_call_starts() -> None:
    deadline.start(0.01)
    try:
        time.sleep(0.02)
        with pytest.raises(deadline.DeadlineExceeded):
            deadline.left(10.0)
    finally:
        deadline.end()
    assert deadline.left(10.0) == 10.0
