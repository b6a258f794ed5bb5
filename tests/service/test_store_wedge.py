"""The wedge of issue 13, reproduced on the lab cloud: Object Storage slowed down, more claimers
than store slots, each giving up after a few seconds and retrying at once (as workers did).
Abandoned claims used to keep their store slots until their chains of Swift calls ended, so
every store-bound request was shed with 503 while /healthz said all was well. Now: /healthz
answers throughout, every slot is free again within the request deadline once the claimers
stop, and once the store is fast again every accepted fractal gets rendered."""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from cluster.openstack.faults import control
from fractal_service.api.admission import kept_for_work
from fractal_service.client import FractalClient
from fractal_service.config import Settings
from tests.support.cloud import LabCloud
from tests.support.processes import ApiServer, wait_until
from tests.support.spawner import Spawner
from tests.support.stores import Backend

pytestmark = [pytest.mark.openstack, pytest.mark.store_stall]

LATENCY_MS = 4000  # a claim is 3-4 Swift calls: far longer than the request deadline
CLAIMERS = Settings().store_slots + 16
CLAIMER_TIMEOUT = 3.0  # gives up well before the server's deadline, and retries at once
STORM_SECONDS = 20
FRACTALS = 12  # each creation is a verified write on the lab's Swift (~1 s)


@pytest.fixture
def swift_api(lab_cloud: LabCloud, lab_object_store: Backend,
              tmp_path: Path) -> Iterator[tuple[Spawner, ApiServer]]:
    spawner = Spawner(tmp_path, lab_object_store)
    data_dir = tmp_path / "api"
    api = ApiServer(data_dir, None, *lab_object_store.api_args(data_dir))
    # Claims that land after their client left count as attempts: not this test's subject.
    api.env["FRACTAL_MAX_ATTEMPTS"] = "1000"
    spawner.started.append(api)
    api.start()
    assert requests.get(api.url + "/readyz", timeout=30).status_code == 200
    try:
        yield spawner, api
    finally:
        control.clear(lab_cloud.layout)
        spawner.stop()


def storm(url: str, stop: threading.Event, outcomes: Counter) -> None:
    while not stop.is_set():
        try:
            answer = requests.post(url + "/v1/jobs/claim", timeout=CLAIMER_TIMEOUT,
                                   json={"worker": "impatient", "lease_seconds": 5})
            outcomes[answer.status_code] += 1
        except requests.RequestException:
            outcomes["gave up"] += 1


def test_abandoned_claims_on_a_slow_store_free_their_slots(
        swift_api: tuple[Spawner, ApiServer], lab_cloud: LabCloud) -> None:
    spawner, api = swift_api
    client = FractalClient(api.url)
    with ThreadPoolExecutor(4) as pool:
        accepted = list(pool.map(
            lambda _: FractalClient(api.url).create({"width": 16, "height": 16,
                                                     "iterations": 16})["uuid"],
            range(FRACTALS)))
    control.inject(lab_cloud.layout, "object-store", latency_ms=LATENCY_MS)
    stop, outcomes = threading.Event(), Counter()
    claimers = [threading.Thread(target=storm, args=(api.url, stop, outcomes), daemon=True)
                for _ in range(CLAIMERS)]
    for thread in claimers:
        thread.start()
    health = []
    until = time.monotonic() + STORM_SECONDS
    while time.monotonic() < until:
        started = time.perf_counter()
        answer = requests.get(api.url + "/healthz", timeout=2)  # the monitor's timeout
        health.append(time.perf_counter() - started)
        assert answer.status_code == 200, answer.text
        time.sleep(0.2)
    stop.set()
    for thread in claimers:
        thread.join()
    stopped = time.monotonic()
    print(f"claims: {dict(outcomes)}; /healthz p50 {statistics.median(health) * 1000:.1f} ms, "
          f"max {max(health) * 1000:.1f} ms")
    assert outcomes[503] > 0, "more claimers than slots, yet none was shed"

    # Within the deadline (plus one call's clean-up) every slot is free: as many reads as
    # there are slots a read may take are all admitted, none shed.
    time.sleep(max(0.0, stopped + Settings().request_deadline + 1.0 - time.monotonic()))
    readers = Settings().store_slots - kept_for_work(Settings().store_slots)
    with ThreadPoolExecutor(readers) as pool:
        answers = list(pool.map(
            lambda _: requests.get(api.url + "/v1/fractals?limit=1", timeout=30).status_code,
            range(readers)))
    assert 503 not in answers, Counter(answers)

    control.clear(lab_cloud.layout)
    spawner.worker(api.url, "w1", lease=5)
    spawner.worker(api.url, "w2", lease=5)

    def all_done() -> bool:
        states = Counter(client.show(uuid)["state"] for uuid in accepted)
        return states == Counter(done=FRACTALS)

    wait_until(all_done, 120, "every accepted fractal to be rendered", interval=1.0)
