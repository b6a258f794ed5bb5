"""Claims whose store write timed out at the API cost the job nothing (issue 13's campaign).

On a slow Object Storage a claim's write can land after the API's call to Swift timed out (or
the request's deadline fired while it was in flight): the worker got a 503, the job was leased
under a token nobody knew, its lease ran out, and that counted as one of the job's attempts,
so a fractal ended `failed` ("lease expired 5 times without a result") on store timeouts alone.

Here a real API (in this process, on an in-memory Swift that carries out every write under
`fractals/` but loses its answer for a while) and real workers: once the store answers again,
every fractal is done, each leased once, rendered once and stored once. The second test does
the same on the lab cloud's Swift, slowed by its fault proxy (openstack, store_stall).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from cluster.openstack.faults import control
from fractal_service.api.app import create_app
from fractal_service.client import FractalClient
from fractal_service.config import Settings
from fractal_service.params import FractalParams
from fractal_service.records import Fractal, State, new_uuid
from fractal_service.store.swift import PNG_TYPE, PREFIX, SwiftStore
from fractal_service.worker.heartbeat import HeartbeatFile
from fractal_service.worker.runner import Worker, WorkerConfig
from tests.support.cloud import LabCloud
from tests.support.fake_swift import FakeSwift
from tests.support.images import png
from tests.support.processes import ApiServer, wait_until
from tests.support.spawner import Spawner
from tests.support.stores import Backend

LEASE = 3.0  # longer than the workers' backoff gets within the outage
OUTAGE = 2.0  # seconds during which every write lands and its answer is lost
WIDTHS = (8, 9, 10)  # one fractal each: the width tells which one a render is for
WORKERS = 2


@dataclass
class Service:
    fake: FakeSwift
    store: SwiftStore
    url: str


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: object, **kwargs: object) -> None:
        pass  # hundreds of polls: a failure's report shows the workers' log instead


@pytest.fixture
def service() -> Iterator[Service]:
    fake = FakeSwift()
    # One attempt: a single lease that runs out for want of an answer fails the job.
    store = SwiftStore(fake, "fractals", settle=0.0, max_attempts=1)
    app = create_app(Settings(auth="none", lease_seconds=LEASE, max_attempts=1), store)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Service(fake, store, f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join(10)


def workers(url: str, render: Callable[[FractalParams, Callable[[int, int], None]], bytes]
            ) -> list[Worker]:
    return [Worker(FractalClient(url, timeout=5),
                   WorkerConfig(f"w{i}", lease_seconds=LEASE, poll_interval=0.1),
                   HeartbeatFile(None), render) for i in range(WORKERS)]


def test_claims_whose_store_write_timed_out_cost_no_attempt(service: Service) -> None:
    uuids = {}
    for width in WIDTHS:
        created = time.time()
        uuids[width] = new_uuid(created)
        service.store.add(Fractal(uuids[width], FractalParams(width=width, height=8),
                                  created_at=created))
    renders: Counter[int] = Counter()

    def render(params: FractalParams, progress: Callable[[int, int], None]) -> bytes:
        renders[params.width] += 1
        progress(8, 8)
        return png(params.width, 8)

    slow_until = time.monotonic() + OUTAGE
    service.fake.lose_answers = lambda method, name: (
        method == "PUT" and (name or "").startswith(PREFIX) and time.monotonic() < slow_until)
    pool = workers(service.url, render)
    threads = [threading.Thread(target=w.run, daemon=True) for w in pool]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: all(service.store.get(u).state in (State.DONE, State.FAILED)
                               for u in uuids.values()), 20, "every fractal to finish")
    finally:
        for worker in pool:
            worker.stop()
        for thread in threads:
            thread.join(15)
    fractals = {width: service.store.get(uuid) for width, uuid in uuids.items()}
    assert {w: (f.state, f.error) for w, f in fractals.items()} == {
        w: (State.DONE, None) for w in WIDTHS}
    assert {w: f.attempts for w, f in fractals.items()} == dict.fromkeys(WIDTHS, 1)
    assert renders == dict.fromkeys(WIDTHS, 1)  # no two workers ever held one job
    images = Counter(name.split("/")[1] for name, kind in service.fake.stored
                     if kind.startswith(PNG_TYPE))
    assert images == {uuid: 1 for uuid in uuids.values()}  # each result stored once
    assert sum(w.jobs_done for w in pool) == len(WIDTHS)
    assert service.fake.answers_lost > 0  # the outage did hit the workers' calls


SWIFT_LATENCY_MS = 2000  # a listing fits the deadline, a claim (listing + write) does not
SWIFT_DEADLINE = 3.0
SWIFT_SLOW_FOR = 15.0  # less than a lease (30 s): the holder's lease outlasts the slow spell


@pytest.mark.openstack
@pytest.mark.store_stall
def test_claims_on_a_slow_object_storage_cost_no_attempt(
        lab_cloud: LabCloud, lab_object_store: Backend, tmp_path: Path) -> None:
    """The same on the lab cloud's Swift behind its fault proxy, which forwards a write after
    its latency whether the API still waits or not: each claim's write lands after the API's
    call timed out. With one attempt allowed, a lease that ran out for that fails the job."""
    spawner = Spawner(tmp_path, lab_object_store)
    data_dir = tmp_path / "api"
    api = ApiServer(data_dir, None, *lab_object_store.api_args(data_dir))
    api.env.update(FRACTAL_MAX_ATTEMPTS="1", FRACTAL_REQUEST_DEADLINE=str(SWIFT_DEADLINE))
    spawner.started.append(api)
    try:
        api.start()
        client = FractalClient(api.url)
        uuids = [client.create({"width": 16, "height": 16, "iterations": 16})["uuid"]
                 for _ in range(4)]
        control.inject(lab_cloud.layout, "object-store", latency_ms=SWIFT_LATENCY_MS)
        for name in ("w1", "w2"):
            spawner.worker(api.url, name)
        time.sleep(SWIFT_SLOW_FOR)
        control.clear(lab_cloud.layout)
        finished = ("done", "failed")
        wait_until(lambda: all(client.show(u)["state"] in finished for u in uuids), 90,
                   "every fractal to finish", interval=1.0)
        records = [client.show(u) for u in uuids]
        assert [(r["state"], r["error"], r["attempts"]) for r in records] == [
            ("done", None, 1)] * len(uuids)
        assert sorted(f["uuid"] for f in client.iterate()) == sorted(uuids)
        logs = "".join(w.output() for w in spawner.started[1:])
        assert "retrying in" in logs  # the workers' calls did fail while Swift was slow
    finally:
        control.clear(lab_cloud.layout)
        spawner.stop()
