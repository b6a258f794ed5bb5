"""The API agent's monitor fails for what a restart cures and only for that: a wedged API (store
slots held past their deadline while the store answers) fails depth 0 and a restart cures it;
a store outage fails no depth (a restarted or moved API would meet the same store)."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.support.faulty_api import write_program
from tests.support.processes import wait_until

OK, GENERIC, NOT_RUNNING = 0, 1, 7
DEADLINE = 1.0  # the wedged API's request deadline: a stuck slot is overdue after 2 s


@pytest.fixture
def faulty_agent(api_agent, tmp_path: Path):
    api_agent.params["program"] = str(write_program(tmp_path / "fractal-api", DEADLINE))
    assert api_agent("start").rc == OK
    return api_agent


def url(agent) -> str:
    return f"http://127.0.0.1:{agent.params['port']}"


def claim_in_background(agent, n: int) -> None:
    def claim() -> None:
        # The client gives up, as a worker does; its request stays stuck.
        with contextlib.suppress(requests.RequestException):
            requests.post(url(agent) + "/v1/jobs/claim", json={"worker": "w"}, timeout=3)

    for _ in range(n):
        threading.Thread(target=claim, daemon=True).start()


def test_a_wedged_api_fails_depth_0_and_a_restart_cures_it(faulty_agent) -> None:
    data_dir = Path(faulty_agent.params["data_dir"])
    (data_dir / "store-wedge").touch()
    claim_in_background(faulty_agent, 4)
    wait_until(lambda: faulty_agent("monitor").rc == GENERIC, 20, "the monitor to fail")
    result = faulty_agent("monitor")
    assert result.rc == GENERIC
    assert "wedged" in result.reason and "\n" not in result.reason
    # What Pacemaker does on a failed monitor: stop, start. The new process serves.
    (data_dir / "store-wedge").unlink()
    assert faulty_agent("stop").rc == OK
    assert faulty_agent("start").rc == OK
    for depth in ("0", "10", "20"):
        assert faulty_agent("monitor", OCF_CHECK_LEVEL=depth).rc == OK
    assert requests.post(url(faulty_agent) + "/v1/jobs/claim", json={"worker": "w"},
                         timeout=3).status_code == 204


def test_a_store_outage_fails_no_depth(faulty_agent) -> None:
    data_dir = Path(faulty_agent.params["data_dir"])
    (data_dir / "store-down").touch()
    answer = requests.get(url(faulty_agent) + "/readyz", timeout=3)
    assert answer.status_code == 503 and answer.json()["error"]["field"] == "store"
    for depth in ("0", "10", "20"):
        result = faulty_agent("monitor", OCF_CHECK_LEVEL=depth)
        assert result.rc == OK, (depth, result)
    assert "store is slow or failing" in faulty_agent("monitor", OCF_CHECK_LEVEL="10").stderr


def test_requests_stuck_on_a_failing_store_do_not_fail_the_monitor(faulty_agent) -> None:
    data_dir = Path(faulty_agent.params["data_dir"])
    (data_dir / "store-wedge").touch()
    claim_in_background(faulty_agent, 2)
    wait_until(lambda: requests.get(url(faulty_agent) + "/healthz", timeout=3).status_code == 503,
               20, "the wedge")
    (data_dir / "store-down").touch()  # now the store's probe fails too: the store's fault
    health = requests.get(url(faulty_agent) + "/healthz", timeout=3)
    assert health.status_code == 200 and health.json()["status"] == "degraded"
    assert faulty_agent("monitor").rc == OK


def test_a_failed_instance_is_stopped_without_the_lame_duck(faulty_agent) -> None:
    """A healthy API drains after SIGTERM for as long as requests arrive (up to drain_max, 10 s:
    the address may still be moving away); a wedged one, stopped by Pacemaker to restart it in
    place, would only delay its own restart so."""
    data_dir = Path(faulty_agent.params["data_dir"])
    (data_dir / "store-wedge").touch()
    claim_in_background(faulty_agent, 4)
    wait_until(lambda: faulty_agent("monitor").rc == GENERIC, 20, "the monitor to fail")
    arriving = threading.Event()

    def keep_asking() -> None:  # clients keep coming through the address meanwhile
        while not arriving.is_set():
            with contextlib.suppress(requests.RequestException):
                requests.get(url(faulty_agent) + "/v1/fractals", timeout=1)

    threading.Thread(target=keep_asking, daemon=True).start()
    try:
        started = time.monotonic()
        assert faulty_agent("stop").rc == OK
        took = time.monotonic() - started
    finally:
        arriving.set()
        (data_dir / "store-wedge").unlink()
    print(f"the wedged API's stop took {took:.1f} s")
    assert took < 6, f"the wedged API's stop took {took:.1f} s"
    assert faulty_agent("monitor").rc == NOT_RUNNING
