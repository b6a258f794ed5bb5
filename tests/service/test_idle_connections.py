"""Clients that connect and send nothing (a prober that gives up without closing, a slow or
half-open client) must not starve the API: the cluster's monitor calls /healthz every second with
a 2 s timeout, and a silenced API is restarted or moved."""

from __future__ import annotations

import socket
import urllib.parse
from collections.abc import Iterator

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
