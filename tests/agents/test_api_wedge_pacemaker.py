"""Health is service, under a real Pacemaker: a wedged API (store slots held past their
deadline while the store answers) is detected by the monitor and cured by a restart; a store
outage neither restarts nor fails the API (a new one would meet the same store)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster.lab.node import Node
from cluster.lab.single import SingleNodeCluster
from tests.agents.test_under_pacemaker import api_pid, fail_count, http
from tests.support.faulty_api import write_program
from tests.support.processes import wait_until

pytestmark = pytest.mark.pacemaker


@pytest.fixture(scope="module")
def wedgeable(ocf_root: Path, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[tuple[Node, Path]]:
    """One node whose API runs with test-only store faults (tests/support/faulty_api.py)."""
    work = tmp_path_factory.mktemp("wedge")
    program = write_program(work / "fractal-api", request_deadline=1.0)
    data_dir = work / "data"
    with SingleNodeCluster(tmp_path_factory.mktemp("single"),
                           ocf_providers=ocf_root / "resource.d") as cluster:
        node = cluster.node
        node.exec(["crm", "configure", "property", "stonith-enabled=false"])
        node.exec(["crm", "configure", "primitive", "api", "ocf:fractal:api",
                   "params", "port=8080", "health_timeout=2", "allow_local_store=true",
                   "auth=none", f"program={program}", f"data_dir={data_dir}",
                   "op", "monitor", "interval=2s", "timeout=10s",
                   "op", "monitor", "interval=3s", "timeout=20s", "OCF_CHECK_LEVEL=10",
                   "op", "start", "timeout=30s", "op", "stop", "timeout=30s"])
        wait_until(lambda: http(node, "GET", "/healthz"), 60, "the API")
        yield node, data_dir


def claims_left_behind(node: Node, n: int) -> None:
    """Workers that give up after 2 s; their claims stay stuck in the wedged store."""
    node.exec(["sh", "-c", f"for i in $(seq {n}); do curl -s -m 2 -X POST "
               "-H 'Content-Type: application/json' -d '{\"worker\": \"w\"}' "
               "http://127.0.0.1:8080/v1/jobs/claim & done; wait"], check=False)


def test_a_wedged_api_is_restarted_by_the_cluster(wedgeable: tuple[Node, Path]) -> None:
    node, data_dir = wedgeable
    wedged = api_pid(node)
    failures = fail_count(node, "api")
    (data_dir / "store-wedge").touch()
    try:
        claims_left_behind(node, 4)
        wait_until(lambda: fail_count(node, "api") > failures, 30, "the monitor to fail")
    finally:
        (data_dir / "store-wedge").unlink()
    wait_until(lambda: api_pid(node) not in (None, wedged)
               and (http(node, "GET", "/healthz") or {}).get("status") == "ok", 60,
               "Pacemaker to restart the API")
    assert http(node, "POST", "/v1/fractals", {"width": 8, "height": 8})["state"] == "pending"
    node.exec(["crm", "resource", "cleanup", "api"])


def test_a_store_outage_neither_fails_nor_restarts_the_api(
        wedgeable: tuple[Node, Path]) -> None:
    node, data_dir = wedgeable
    wait_until(lambda: http(node, "GET", "/healthz"), 60, "the API")
    serving, failures = api_pid(node), fail_count(node, "api")
    (data_dir / "store-down").touch()
    try:
        claims_left_behind(node, 4)  # answered 503 at once: the store is down
        # Five depth-0 and three depth-10 monitors, each seeing the store down.
        time.sleep(10)
        assert api_pid(node) == serving
        assert fail_count(node, "api") == failures
        assert (http(node, "GET", "/healthz") or {}).get("status") == "ok"
    finally:
        (data_dir / "store-down").unlink()
