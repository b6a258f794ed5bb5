"""The Object Storage backend against an in-memory Swift (tests/support/fake_swift.py) where a
real cloud cannot reproduce a case on demand: writes that overlap on one object server, a
container of many fractals, a slow store. The same contract runs on the lab cloud's real
Swift in test_store.py and test_swift_store.py."""

from __future__ import annotations

import hashlib
import threading
import time

import pytest

from fractal_service.params import FractalParams
from fractal_service.records import Fractal, Result, State, new_uuid
from fractal_service.store import NotFound
from fractal_service.store.swift import DELETED, SwiftStore
from tests.support.fake_swift import FakeSwift

PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


def stores(fake: FakeSwift, count: int = 2) -> list[SwiftStore]:
    """`count` API instances on one container."""
    return [SwiftStore(fake, "fractals", settle=0.0) for _ in range(count)]


def add(store: SwiftStore, created: float | None = None) -> str:
    created = time.time() if created is None else created
    uuid = new_uuid(created)
    store.add(Fractal(uuid, FractalParams(width=8, height=8), created_at=created))
    return uuid


def result() -> Result:
    return Result(PNG, hashlib.sha256(PNG).hexdigest(), 0.1, "w1")


def test_a_delete_answered_is_never_undone_by_an_overlapping_completion() -> None:
    """Swift checks If-None-Match when a PUT arrives: a completion arriving while the delete's
    tombstone is being written creates the same generation too, and wins (newer timestamp).
    The delete must notice (read its writer id back) and delete again."""
    fake = FakeSwift()
    api1, api2 = stores(fake)
    uuid = add(api1)
    assert api2.claim("w1", 30, time.time()) is not None
    completed = []

    def overlap(name: str, headers: dict[str, str]) -> None:
        if f"state={DELETED}" in headers["Content-Type"] and not completed:
            completed.append(api2.complete(uuid, result(), time.time()))

    fake.on_put = overlap
    api1.delete(uuid)  # what the API answers 204 for
    fake.on_put = None
    assert completed and completed[0].stored  # the completion did land, and won its race
    for api in (api1, api2):
        with pytest.raises(NotFound):
            api.get(uuid)


def app_client(fake: FakeSwift):
    from fractal_service.api.app import create_app
    from fractal_service.config import Settings

    store = stores(fake, 1)[0]
    return store, create_app(Settings(), store)


def concurrently(app, method: str, path: str, callers: int = 6) -> list[int]:
    statuses: list[int] = []

    def call() -> None:
        statuses.append(app.test_client().open(path, method=method).status_code)

    threads = [threading.Thread(target=call) for _ in range(callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return statuses


def test_metrics_scrapes_share_one_cached_listing() -> None:
    fake = FakeSwift()
    store, app = app_client(fake)
    uuids = [add(store) for _ in range(30)]
    store.delete(uuids[0])
    before = fake.listings()
    for _ in range(3):
        text = app.test_client().get("/metrics").get_data(as_text=True)
        assert 'fractal_fractals{state="pending"} 29.0' in text
    assert fake.listings() - before == 1  # not one listing of the container per scrape


def test_concurrent_scrapes_and_readiness_checks_do_not_pile_up_on_a_slow_store() -> None:
    fake = FakeSwift()
    store, app = app_client(fake)
    add(store)
    fake.delay = 0.3  # every call to the store
    for method, path in (("GET", "/metrics"), ("GET", "/readyz"), ("POST", "/v1/selftest")):
        fake.max_in_flight = 0
        statuses = concurrently(app, method, path)
        assert statuses == [200] * 6, (path, statuses)
        assert fake.max_in_flight == 1, path  # one request thread waits on the store, not six


def test_a_rare_state_filter_examines_a_bounded_part_of_the_container() -> None:
    fake = FakeSwift()
    store = stores(fake, 1)[0]
    created = time.time() - 3600
    uuids = [add(store, created + i) for i in range(1200)]
    lease = store.claim("w1", 30, time.time())
    assert lease is not None and lease.fractal.uuid == uuids[0]
    # the only failed one is at the far end of the container
    store.fail(uuids[0], lease.token, "bad", time.time())
    store.list_budget = 300
    before = fake.listings()
    page = store.list(limit=1, state=State.FAILED, descending=True)
    assert page.items == [] and page.next_marker is not None  # a short page, and where to go on
    assert fake.listings() - before == 1
    found, marker, pages = [], page.next_marker, 1
    while marker is not None:
        page = store.list(limit=1, state=State.FAILED, descending=True, marker=marker)
        found += [f.uuid for f in page.items]
        marker, pages = page.next_marker, pages + 1
    assert found == [uuids[0]] and pages <= 1200 // 300 + 1


def test_a_retried_claim_finds_its_job_behind_one_that_became_claimable() -> None:
    """The retry reads past the first claimable job for the one its first attempt leased: an
    older job whose lease ran out in between is not taken in its place."""
    fake = FakeSwift()
    store = stores(fake, 1)[0]
    now = time.time()
    older, mine = add(store, now - 2), add(store, now - 1)
    assert store.claim("w0", 5, now, "0" * 32).fractal.uuid == older
    assert store.claim("w1", 5, now, "1" * 32).fractal.uuid == mine  # its answer lost
    again = store.claim("w1", 5, now + 6, "1" * 32)  # both leases ran out meanwhile
    assert (again.fractal.uuid, again.fractal.attempts, again.expires_at) == (mine, 1, now + 11)
    assert store.get(older).generated_by == "w0"  # left to its own claimer's retry
