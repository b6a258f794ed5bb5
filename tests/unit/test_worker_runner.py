"""The worker loop's decisions about a job, against a fake API client."""

from __future__ import annotations

import re
from typing import Any

from fractal_service import lease
from fractal_service.client import ApiError, ApiUnreachable, Claim
from fractal_service.worker.backoff import Backoff
from fractal_service.worker.heartbeat import HeartbeatFile
from fractal_service.worker.runner import Worker, WorkerConfig

PARAMS = {"kind": "mandelbrot", "width": 8, "height": 8, "iterations": 16}


class FakeClient:
    def __init__(self, claims: int) -> None:
        self.claims = claims
        self.calls: list[str] = []
        self.tokens: list[str] = []
        self.worker: Worker | None = None

    def claim(self, worker: str, lease_seconds: float, lease_token: str) -> Claim | None:
        self.calls.append("claim")
        self.tokens.append(lease_token)
        if self.claims:
            self.claims -= 1
            return Claim("u1", PARAMS, "token", lease_seconds)
        assert self.worker is not None
        self.worker.stop()
        return None

    def __getattr__(self, name: str) -> Any:  # heartbeat, release, fail, upload
        return lambda *args, **kwargs: self.calls.append(name) or {}


def run(render) -> list[str]:
    client = FakeClient(claims=1)
    worker = Worker(client, WorkerConfig("w1", poll_interval=0.01), HeartbeatFile(None), render)
    client.worker = worker
    worker.run()
    return client.calls


def test_out_of_memory_leaves_the_job_to_be_retried() -> None:
    def render(params, progress):
        raise MemoryError

    calls = run(render)
    # Not the job's fault: not failed, and not released either (a release gives the attempt
    # back, so a job no worker has memory for would circle for ever); its lease runs out, and
    # any worker claims it again, up to the store's max_attempts.
    assert "fail" not in calls and "release" not in calls
    assert calls.count("claim") == 2  # the worker carries on


def test_a_bad_job_fails_at_once() -> None:
    def render(params, progress):
        raise ValueError("iterations must be positive")

    assert "fail" in run(render)


class LosingClient(FakeClient):
    """Its first claim gets no answer, the second a 503 (as when Swift took the write and
    timed out): the job they may have leased is the one a retry must ask for."""

    def __init__(self, claims: int) -> None:
        super().__init__(claims)
        self.lost = [ApiUnreachable("timed out"), ApiError(503, "object storage unreachable")]

    def claim(self, worker: str, lease_seconds: float, lease_token: str) -> Claim | None:
        if self.lost:
            self.calls.append("claim")
            self.tokens.append(lease_token)
            raise self.lost.pop(0)
        return super().claim(worker, lease_seconds, lease_token)


def test_a_claim_without_an_answer_is_sent_again_with_its_token(monkeypatch) -> None:
    monkeypatch.setattr(Backoff, "next_delay", lambda self: 0.01)
    client = LosingClient(claims=1)
    worker = Worker(client, WorkerConfig("w1", poll_interval=0.01), HeartbeatFile(None),
                    lambda params, progress: b"png")
    client.worker = worker
    worker.run()
    first, second, third, fourth = client.tokens  # lost, 503, answered with a job, then none
    assert first == second == third and re.fullmatch(lease.TOKEN_PATTERN, first)
    assert fourth != third  # a claim that was answered is over: the next one is new
