"""Clients that connect and send nothing (a prober that gives up without closing, a slow or
half-open client) must not starve the API: the cluster's monitor calls /healthz every second with
a 2 s timeout, and a silenced API is restarted or moved."""

from __future__ import annotations

import socket
import time
import urllib.parse
from collections.abc import Iterator

import psutil
import pytest
import requests

from tests.support.processes import ApiServer, wait_until

IDLE = 100  # well over the API's 32 request threads
MONITOR_TIMEOUT = 2.0  # the agent's health_timeout in the cluster configuration


@pytest.fixture
def idle_connections(api: ApiServer) -> Iterator[list[socket.socket]]:
    url = urllib.parse.urlsplit(api.url)
    socks = [socket.create_connection((url.hostname, url.port)) for _ in range(IDLE)]
    yield socks
    for sock in socks:
        sock.close()


def test_health_and_api_answer_while_idle_connections_are_open(
        api: ApiServer, idle_connections: list[socket.socket]) -> None:
    assert requests.get(api.url + "/healthz", timeout=MONITOR_TIMEOUT).status_code == 200
    assert requests.get(api.url + "/v1/fractals", timeout=MONITOR_TIMEOUT).status_code == 200


def test_silent_connections_are_closed_by_the_server(
        api: ApiServer, idle_connections: list[socket.socket]) -> None:
    def closed(sock: socket.socket) -> bool:
        sock.settimeout(0.01)
        try:
            return sock.recv(1) == b""  # orderly close from the server
        except TimeoutError:
            return False
        except OSError:
            return True  # reset

    wait_until(lambda: all(closed(s) for s in idle_connections), 30,
               "the server to close connections that never sent a request", interval=0.5)


SILENT_AFTER_ANSWER = 3


@pytest.fixture
def answered_but_never_closed(api: ApiServer) -> Iterator[list[socket.socket]]:
    """Clients that read a "Connection: close" answer and then go silent: no FIN, no reset (a
    client whose packets stop arriving, as the last ones of a connection do when the address
    moves and the router's connection tracking is flushed, or a client that never closes)."""
    url = urllib.parse.urlsplit(api.url)
    socks = []
    for _ in range(SILENT_AFTER_ANSWER):
        sock = socket.create_connection((url.hostname, url.port))
        sock.sendall(b"GET /healthz HTTP/1.0\r\nHost: fractal\r\n\r\n")
        sock.settimeout(10)  # (behind the stall itself, before the fix: 2 s per client)
        assert sock.recv(4096).startswith(b"HTTP/1.")
        socks.append(sock)
    yield socks
    for sock in socks:
        sock.close()


def test_clients_silent_after_their_answer_do_not_stall_the_server(
        api: ApiServer, answered_but_never_closed: list[socket.socket]) -> None:
    """gunicorn's lingering close (RFC 9112 9.6: half-close, then read until the client's FIN,
    up to 2 s) ran on the event loop's thread: each such client froze every request for 2 s
    (a planned move of the address lost ~20 requests at 20/s to one)."""
    began = time.monotonic()
    assert requests.get(api.url + "/healthz", timeout=10).status_code == 200
    took = time.monotonic() - began
    assert took < 0.5, f"/healthz took {took:.2f} s behind {SILENT_AFTER_ANSWER} silent clients"


def test_a_silent_client_is_let_go_after_the_linger(
        api: ApiServer, answered_but_never_closed: list[socket.socket]) -> None:
    """The lingering close is bounded (2 s, as gunicorn's): the server's sockets of the silent
    clients are closed by then, none kept."""
    ports = {s.getsockname()[1] for s in answered_but_never_closed}
    worker = psutil.Process(api.pid).children()[0]

    def kept() -> set[int]:
        return {c.raddr.port for c in worker.net_connections("tcp") if c.raddr} & ports

    assert kept(), "the server closed at once: nothing lingered (the test sees nothing)"
    wait_until(lambda: not kept(), 5, "the lingering sockets to be closed", interval=0.1)
