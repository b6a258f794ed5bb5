"""A slow store must not silence the API: with Object Storage stalled and more store-bound
callers than request threads, /healthz still answers within the agent's monitor timeout (or
Pacemaker restarts a healthy API until it is banned), and the callers that found every store
slot busy get a 503 they can retry, not a hang."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from cluster.openstack.faults import control
from fractal_service.api.admission import kept_for_work
from fractal_service.config import Settings
from tests.support.cloud import LabCloud
from tests.support.processes import ApiServer, wait_until
from tests.support.spawner import Spawner
from tests.support.stores import Backend

pytestmark = [pytest.mark.openstack, pytest.mark.store_stall]

STORE_LATENCY_MS = 2000
MONITOR_TIMEOUT = 2.0  # the agent's health_timeout in the cluster configuration
CALLERS = Settings().threads + 8  # more than the API has request threads
# The slots a read may take: the others are kept for the workers (api/admission.py).
READ_SLOTS = Settings().store_slots - kept_for_work(Settings().store_slots)


@pytest.fixture
def slow_store_api(lab_cloud: LabCloud, lab_object_store: Backend,
                   tmp_path: Path) -> Iterator[ApiServer]:
    spawner = Spawner(tmp_path, lab_object_store)
    api = spawner.api()
    # Logged in and the container made while the store is fast: what is measured is the
    # steady state of a running API when its store slows down.
    assert requests.get(api.url + "/readyz", timeout=30).status_code == 200
    control.inject(lab_cloud.layout, "object-store", latency_ms=STORE_LATENCY_MS)
    try:
        yield api
    finally:
        control.clear(lab_cloud.layout)
        spawner.stop()


def test_health_answers_and_excess_store_calls_are_shed(slow_store_api: ApiServer,
                                                        lab_cloud: LabCloud) -> None:
    url = slow_store_api.url
    with ThreadPoolExecutor(CALLERS) as pool:
        calls = [pool.submit(requests.get, url + "/v1/fractals", timeout=60)
                 for _ in range(CALLERS)]
        # Every slot a read may take is taken once the API has shed the callers it has no
        # slot for.
        wait_until(lambda: sum(c.done() for c in calls) >= CALLERS - READ_SLOTS,
                   30, "the API to answer the callers it has no store slot for")
        health = requests.get(url + "/healthz", timeout=MONITOR_TIMEOUT)
        assert health.status_code == 200
        answers = [c.result() for c in calls]
    shed = [a for a in answers if a.status_code == 503]
    served = [a for a in answers if a.status_code == 200]
    assert len(shed) + len(served) == CALLERS
    assert len(served) >= READ_SLOTS  # the slots did their work, slowly
    assert shed, "more callers than slots, yet none was shed"
    for answer in shed:
        assert answer.headers["Retry-After"] == "1"
        assert answer.json()["error"]["message"] == "storage busy, retry later"
    control.clear(lab_cloud.layout)  # /metrics counts fractals in the store
    metrics = requests.get(url + "/metrics", timeout=MONITOR_TIMEOUT).text
    assert f"fractal_http_requests_shed_total {float(len(shed))}" in metrics
    assert "fractal_store_requests_in_flight 0.0" in metrics
