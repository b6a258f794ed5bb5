"""Clients that send their request slowly (a header line or a few body bytes a second) must not
take the API's request threads: a request reaches a thread only once it has fully arrived. With
64 slow-header, 64 slow-body and 200 idle connections open, /healthz (the cluster's monitor)
answers fast and other clients' /v1 requests succeed; a sender too slow is cut off with 408."""

from __future__ import annotations

import socket
import statistics
import threading
import time
import urllib.parse
from collections.abc import Iterator

import pytest
import requests

from tests.support.processes import ApiServer, wait_until
from tests.support.spawner import Spawner

SLOW_HEADERS = SLOW_BODIES = 64
IDLE = 200
HEALTH_P99 = 0.050  # seconds


class Tricklers:
    """Connections that each send a little more of one request every second."""

    def __init__(self, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        self.address = (parts.hostname, parts.port)
        self.socks: list[socket.socket] = []
        self.plans: dict[socket.socket, Iterator[bytes]] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def open(self, first: bytes, then: Iterator[bytes]) -> socket.socket:
        sock = socket.create_connection(self.address)
        sock.sendall(first)
        self.socks.append(sock)
        self.plans[sock] = then
        return sock

    def _run(self) -> None:
        while not self.stop.wait(1.0):
            for sock, plan in list(self.plans.items()):
                try:
                    sock.sendall(next(plan))
                except (OSError, StopIteration):
                    self.plans.pop(sock)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        for sock in self.socks:
            sock.close()


def header_lines() -> Iterator[bytes]:
    n = 0
    while True:
        n += 1
        yield f"X-Slow-{n}: 1\r\n".encode()


def body_bytes() -> Iterator[bytes]:
    while True:
        yield b" "


SLOW_HEAD = b"GET /v1/fractals HTTP/1.1\r\nHost: x\r\n"
SLOW_BODY = (b"POST /v1/fractals HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             b"Content-Length: 10000\r\n\r\n{")


@pytest.fixture
def tricklers(api: ApiServer) -> Iterator[Tricklers]:
    crowd = Tricklers(api.url)
    for _ in range(SLOW_HEADERS):
        crowd.open(SLOW_HEAD, header_lines())
    for _ in range(SLOW_BODIES):
        crowd.open(SLOW_BODY, body_bytes())
    for _ in range(IDLE):
        crowd.open(b"", iter(()))
    crowd.thread.start()
    time.sleep(2.0)  # every trickler has sent more than once
    yield crowd
    crowd.close()


def test_health_and_api_answer_while_slow_clients_trickle(api: ApiServer,
                                                          tricklers: Tricklers) -> None:
    latencies = []
    for i in range(200):
        started = time.perf_counter()
        # A new connection each time, as the agent's monitor makes.
        assert requests.get(api.url + "/healthz", timeout=2).status_code == 200
        latencies.append(time.perf_counter() - started)
        if i % 10 == 0:
            made = requests.post(api.url + "/v1/fractals", json={"width": 32, "height": 32},
                                 timeout=5)
            assert made.status_code == 201, made.text
            assert requests.get(api.url + "/v1/fractals", timeout=5).status_code == 200
    p99 = statistics.quantiles(latencies, n=100)[98]
    print(f"/healthz p50 {statistics.median(latencies) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")
    assert p99 < HEALTH_P99


def test_a_sender_too_slow_is_answered_408_and_disconnected(tmp_path, backend) -> None:
    spawner = Spawner(tmp_path, backend)
    try:
        server = ApiServer(tmp_path / "api", None, *backend.api_args(tmp_path / "api"))
        server.env.update(FRACTAL_HEADER_TIMEOUT="1", FRACTAL_BODY_MIN_RATE="100")
        spawner.started.append(server)
        server.start()
        crowd = Tricklers(server.url)
        head = crowd.open(SLOW_HEAD, header_lines())
        body = crowd.open(SLOW_BODY, body_bytes())  # 10000 bytes at 100/s: 101 s allowed
        quick = crowd.open(SLOW_BODY.replace(b"10000", b"2"), iter([b"}"]))
        crowd.thread.start()
        try:
            head.settimeout(10)
            started = time.monotonic()
            answer = head.recv(4096)
            assert answer.startswith(b"HTTP/1.1 408"), answer
            assert time.monotonic() - started < 3
            assert quick.recv(4096).startswith(b"HTTP/1.1 201")
            body.settimeout(0.1)
            with pytest.raises(TimeoutError):
                body.recv(1)  # within its allowance: still waited for
        finally:
            crowd.close()
        wait_until(lambda: requests.get(server.url + "/healthz", timeout=2).ok, 5, "the API")
    finally:
        spawner.stop()
