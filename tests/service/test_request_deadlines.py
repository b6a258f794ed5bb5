"""Every request ends by its deadline, and with it frees its store slot: with the store
stalled and more callers than slots, every caller gets an answer (504 at the deadline, or 503
at once when no slot is free) well before its own timeout, none is left holding a slot, and
/healthz answers throughout. A client's X-Request-Timeout can only shorten the deadline."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from fractal_service.api.admission import kept_for_work
from fractal_service.config import Settings
from tests.support.processes import ApiServer, Process, free_port, wait_until

DEADLINE = 1.0
CALLERS = Settings().threads + 8


class FaultyApi(Process):
    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        data_dir.mkdir(parents=True)
        super().__init__([sys.executable, "-m", "tests.support.faulty_api", "--bind",
                          f"127.0.0.1:{self.port}", "--data-dir", str(data_dir)],
                         data_dir / "api.log",
                         {"FRACTAL_REQUEST_DEADLINE": str(DEADLINE), "FRACTAL_AUTH": "none"})

    _healthy = ApiServer._healthy

    def start(self) -> None:
        super().start()
        wait_until(self._healthy, 30, f"the API on {self.url} ({self.log})")


@pytest.fixture
def stalled(tmp_path: Path) -> Iterator[FaultyApi]:
    api = FaultyApi(tmp_path / "api")
    api.start()
    (api.data_dir / "store-slow").touch()
    yield api
    api.stop()


def metric(api: FaultyApi, name: str) -> float:
    for line in requests.get(api.url + "/metrics", timeout=5).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def test_requests_end_at_their_deadline_and_free_their_slots(stalled: FaultyApi) -> None:
    def call(_: int) -> tuple[int, float, dict]:
        started = time.monotonic()
        answer = requests.get(stalled.url + "/v1/fractals", timeout=5)
        return answer.status_code, time.monotonic() - started, answer.json()

    with ThreadPoolExecutor(CALLERS) as pool:
        calls = pool.map(call, range(CALLERS))
        health = requests.get(stalled.url + "/healthz", timeout=2)
        answers = list(calls)
    assert health.status_code == 200
    late = [a for a in answers if a[0] == 504]
    shed = [a for a in answers if a[0] == 503]
    assert len(late) + len(shed) == CALLERS
    assert len(late) >= Settings().store_slots - kept_for_work(Settings().store_slots)
    assert max(seconds for _, seconds, _ in answers) < DEADLINE + 1.0
    assert late[0][2]["error"]["status"] == 504
    (stalled.data_dir / "store-slow").unlink()
    assert metric(stalled, "fractal_store_requests_in_flight") == 0
    assert metric(stalled, "fractal_http_requests_deadline_exceeded_total") == len(late)


def test_a_client_timeout_shortens_the_deadline(stalled: FaultyApi) -> None:
    started = time.monotonic()
    answer = requests.get(stalled.url + "/v1/fractals", timeout=5,
                          headers={"X-Request-Timeout": "1.2"})  # answered 1 s before it
    assert answer.status_code == 504
    assert time.monotonic() - started < 0.6
    longer = requests.get(stalled.url + "/v1/fractals", timeout=5,
                          headers={"X-Request-Timeout": "60"})  # cannot lengthen it
    assert longer.status_code == 504 and longer.elapsed.total_seconds() < DEADLINE + 0.5
