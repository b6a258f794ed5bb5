"""Creations and reads must not starve the workers (api/admission.py): with every store slot
they may take held by slow creations, a worker's claim and heartbeat are still served and the
next creation is shed with 503 + Retry-After. Seen on the lab (campaign seed 831009, 2
submissions/s): 434 creations answered "storage busy", and 204 accepted fractals never
claimed within 180 s of the last fault, the workers' claims shed with the creations."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from flask import Flask

from fractal_service.api.admission import StoreAdmission, is_work_path
from fractal_service.api.app import create_app
from fractal_service.config import Settings
from fractal_service.records import Fractal
from fractal_service.store.sqlite import SqliteStore

SETTINGS = dict(auth="none", threads=12, spare_threads=4)  # 8 store slots
BODY = {"width": 8, "height": 8, "iterations": 16}


class SlowCreations(SqliteStore):
    """Creations wait at a gate, as they do on a slow Object Storage."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.gate = threading.Event()
        self.waiting = 0
        self._lock = threading.Lock()

    def add_once(self, key: str, digest: str, fractal: Fractal) -> tuple[Fractal, bool]:
        with self._lock:
            self.waiting += 1
        self.gate.wait(30)
        return super().add_once(key, digest, fractal)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SlowCreations]:
    store = SlowCreations(tmp_path / "fractals.db")
    yield store
    store.gate.set()


@pytest.fixture
def app(tmp_path: Path, store: SlowCreations) -> Flask:
    return create_app(Settings(data_dir=tmp_path, **SETTINGS), store)


def _create(app: Flask, n: int):
    return app.test_client().post("/v1/fractals", json=BODY, headers={"Idempotency-Key": str(n)})


def _until(check, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_workers_are_served_while_creations_hold_every_slot_they_may_take(
        app: Flask, store: SlowCreations) -> None:
    client = app.test_client()
    store.gate.set()
    assert _create(app, 0).status_code == 201  # a job for the worker
    store.gate.clear()
    before = store.waiting  # that creation went through add_once too
    slots = Settings(**SETTINGS).store_slots
    with ThreadPoolExecutor(slots) as pool:
        rush: list[Future] = [pool.submit(_create, app, n) for n in range(1, slots + 1)]
        try:
            # Every creation is either waiting on the store (it holds a slot) or shed already.
            # Counting the first creation too, this sum passed through `slots` on its way to
            # slots + 1, and a loaded CI polled past that moment (timed out after 10 s).
            _until(lambda: store.waiting - before + sum(f.done() for f in rush) == slots,
                   "the rush")
            claim = client.post("/v1/jobs/claim", json={"worker": "w1"})
            assert claim.status_code == 200, claim.get_json()
            job = claim.get_json()["job"]
            heartbeat = client.post(f"/v1/jobs/{job['uuid']}/heartbeat",
                                    json={"lease_token": job["lease_token"]})
            assert heartbeat.status_code == 200, heartbeat.get_json()
            shed = _create(app, slots + 1)
            assert shed.status_code == 503 and shed.headers["Retry-After"] == "1"
        finally:
            store.gate.set()
        answers = [f.result() for f in rush]
    # The slots the creations may take did their work; the rest were shed, not queued.
    assert {a.status_code for a in answers} <= {201, 503}
    assert sum(a.status_code == 201 for a in answers) == store.waiting - before


def test_work_routes_are_the_job_protocol(app: Flask) -> None:
    work = {e for e, view in app.view_functions.items() if is_work_path(view)}
    assert work == {"jobs.claim", "jobs.heartbeat", "jobs.release", "jobs.fail", "jobs.result"}


@pytest.mark.parametrize("slots", [1, 2, 4, 24])
def test_others_always_keep_a_slot_and_workers_get_every_one(slots: int) -> None:
    from fractal_service.api.metrics import ApiMetrics

    admission = StoreAdmission(slots, ApiMetrics(None), request_deadline=8.0)
    others = 0
    while admission._take(work=False):
        others += 1
    work = 0
    while admission._take(work=True):
        work += 1
    assert others >= 1 and others + work == slots
    assert work >= (slots >= 2)  # with two slots or more, one is the workers' alone
