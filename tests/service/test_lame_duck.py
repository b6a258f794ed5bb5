"""SIGTERM starts a lame duck (api/drain.py): the API keeps answering while requests still
reach it (a standby's address handover lands late ones here), says so on /readyz, closes each
answered connection, and stops once requests stop coming."""

from __future__ import annotations

import http.client
import signal
import threading
import time
from pathlib import Path

from tests.support.processes import ApiServer

EVERY_S = 0.05  # 20 requests/s, each its own connection (as tests/cluster/test_graceful_move)
TRAFFIC_AFTER_SIGTERM_S = 2.0  # past gthread's 1 s turn, after which the old server refused


def get(port: int, path: str) -> tuple[int, str, bytes] | None:
    """(status, Connection header, body), or None when nothing answered."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        conn.request("GET", path)
        response = conn.getresponse()
        answer = response.status, response.getheader("Connection", ""), response.read()
        conn.close()
        return answer
    except OSError:
        return None


def test_sigterm_keeps_serving_while_requests_arrive_then_stops(tmp_path: Path) -> None:
    api = ApiServer(tmp_path / "api")
    api.start()
    answers: list[tuple[float, tuple[int, str, bytes] | None]] = []
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():
            answers.append((time.monotonic(), get(api.port, "/healthz")))
            time.sleep(EVERY_S)

    client = threading.Thread(target=traffic, daemon=True)
    client.start()
    try:
        time.sleep(0.3)
        api.proc.send_signal(signal.SIGTERM)
        sigterm = time.monotonic()
        time.sleep(0.2)
        ready = get(api.port, "/readyz")
        time.sleep(TRAFFIC_AFTER_SIGTERM_S - 0.2)
    finally:
        stop.set()
        client.join(5)
    quiet_from = time.monotonic()
    after = [a for t, a in answers if t >= sigterm]
    assert len(after) >= 20, after
    assert all(a is not None and a[0] == 200 for a in after), \
        f"{sum(a is None or a[0] != 200 for a in after)} of {len(after)} requests after " \
        "SIGTERM not answered 200"
    assert all(a is not None and a[1].lower() == "close" for a in after)
    assert ready is not None and ready[0] == 503 and b"draining" in ready[2], ready
    # No more requests: the lame duck ends after drain_quiet (1 s), then the server exits.
    assert api.proc.wait(10) == 0
    assert time.monotonic() - quiet_from < 5
