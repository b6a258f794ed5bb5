"""ocf:fractal:worker: N processes, and a hung worker is a failure Pacemaker can act on."""

from __future__ import annotations

import os
import signal

from fractal_service.client import FractalClient
from resource_agents.ocf import process
from tests.support.processes import wait_until

OK, GENERIC, CONFIGURED, NOT_RUNNING = 0, 1, 6, 7


def worker_pids(agent) -> list[int]:
    state = agent.rsctmp / "fractal-worker-workers_0"
    return [process.read_pid(p) for p in sorted(state.glob("worker-*.pid"))]


def test_lifecycle_and_real_work(worker_agent, api) -> None:
    assert worker_agent("monitor").rc == NOT_RUNNING
    assert worker_agent("start").rc == OK
    pids = worker_pids(worker_agent)
    assert len(pids) == 2 and all(process.is_alive(p) for p in pids)
    assert worker_agent("start").rc == OK
    assert worker_pids(worker_agent) == pids  # idempotent: no extra workers
    assert worker_agent("monitor").rc == OK
    client = FractalClient(api.url)
    uuid = client.create({"width": 32, "height": 32, "iterations": 20})["uuid"]
    wait_until(lambda: client.show(uuid)["state"] == "done", 30, "a worker to render")
    assert worker_agent("stop").rc == OK
    assert not any(process.is_alive(p) for p in pids)
    assert worker_agent("monitor").rc == NOT_RUNNING


def test_a_hung_worker_fails_the_monitor(worker_agent) -> None:
    assert worker_agent("start").rc == OK
    hung = worker_pids(worker_agent)[1]
    os.kill(hung, signal.SIGSTOP)
    try:
        result = wait_until(lambda: (r := worker_agent("monitor")).rc == GENERIC and r, 15,
                            "the monitor to notice the stale heartbeat")
    finally:
        os.kill(hung, signal.SIGCONT)
    assert "worker 1" in result.reason and "hung" in result.reason
    assert worker_agent("stop").rc == OK  # a stopped (SIGSTOP) worker is still stopped cleanly


def test_a_dead_worker_fails_the_monitor(worker_agent) -> None:
    assert worker_agent("start").rc == OK
    os.kill(worker_pids(worker_agent)[0], signal.SIGKILL)
    result = wait_until(lambda: (r := worker_agent("monitor")).rc == GENERIC and r, 10,
                        "the monitor to notice")
    assert "worker 0 is not running" in result.reason
    assert worker_agent("start").rc == OK  # recovery restarts only the missing one
    assert worker_agent("monitor").rc == OK


def test_workers_wait_for_an_absent_api_without_failing(worker_agent) -> None:
    worker_agent.params["api_url"] = "http://127.0.0.1:9"  # nothing listens there
    assert worker_agent("start").rc == OK
    assert worker_agent("monitor").rc == OK


def test_api_url_is_required_and_checked(worker_agent) -> None:
    worker_agent.params.pop("api_url")
    result = worker_agent("validate-all")
    assert result.rc == CONFIGURED and "api_url is required" in result.reason
    worker_agent.params["api_url"] = "ftp://example"
    assert worker_agent("validate-all").rc == CONFIGURED
