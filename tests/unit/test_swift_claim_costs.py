"""Store requests per job on the Object Storage backend (issue 24: the workers' throughput).

On the lab's Swift each job cost ~4.5 s of round trips: every claim listed the container (two
or three pages under a backlog) and every concurrent claimer raced for the same oldest job; an
upload read the job three times and wrote a heartbeat before its result. Counted here on the
in-memory Swift (tests/support/fake_swift.py), with the contract kept: no job leased twice,
a lease that ran out is claimed again, a moved-on job is skipped, a lost lease answers 409.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import Counter

from fractal_service.api.app import create_app
from fractal_service.config import Settings
from fractal_service.params import FractalParams
from fractal_service.records import Fractal, State, new_uuid
from fractal_service.store.swift import SwiftStore
from tests.support.fake_swift import FakeSwift
from tests.support.images import png

CLAIMERS = 6
JOBS = 30


def add(store: SwiftStore, created: float) -> str:
    uuid = new_uuid(created)
    store.add(Fractal(uuid, FractalParams(width=8, height=8), created_at=created))
    return uuid


def test_concurrent_claims_share_listings_and_spread_over_the_jobs() -> None:
    """Six claimers through one API instance: each job leased once, and far fewer listings
    and lost compare-and-swaps than one listing and one race per claim (the old claim: 30
    listings at least, and a write, a read-back and a re-read per lost race)."""
    fake = FakeSwift()
    store = SwiftStore(fake, "fractals", settle=0.0)
    now = time.time()
    uuids = [add(store, now - JOBS + i) for i in range(JOBS)]
    fake.delay = 0.01  # lets claims overlap, as they do on a real Swift
    before = len(fake.calls)
    leased: list[str] = []
    lock = threading.Lock()

    def claimer(name: str) -> None:
        while (lease := store.claim(name, 300, time.time(), secrets.token_hex(16))):
            with lock:
                leased.append(lease.fractal.uuid)

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(CLAIMERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(leased) == uuids  # every job once
    calls = Counter(m + ("-list" if n is None else "") for m, n in fake.calls[before:])
    # each lease: its write and its read-back; listings: the first, plus one for each
    # claimer that finds the queue empty at the end
    assert calls["PUT"] == JOBS and calls["HEAD"] == JOBS, calls
    assert calls["GET-list"] <= CLAIMERS + 2, calls


def test_a_job_claimed_through_another_instance_since_the_listing_is_skipped() -> None:
    fake = FakeSwift()
    mine, theirs = (SwiftStore(fake, "fractals", settle=0.0) for _ in range(2))
    now = time.time()
    first, second, third = (add(mine, now - 3 + i) for i in range(3))
    assert mine.claim("a", 30, now).fractal.uuid == first  # lists: second and third queued
    assert theirs.claim("b", 30, now).fractal.uuid == second
    lease = mine.claim("c", 30, now)  # its queue still shows `second` pending: the swap fails
    assert lease.fractal.uuid == third and lease.fractal.attempts == 1
    assert mine.get(second).generated_by == "b"


def test_a_lease_that_runs_out_is_claimed_again_from_the_shared_listing() -> None:
    fake = FakeSwift()
    store = SwiftStore(fake, "fractals", settle=0.0)
    now = time.time()
    uuid = add(store, now - 1)
    first = store.claim("a", 5, now)
    assert store.claim("b", 5, now + 1) is None
    again = store.claim("b", 5, now + 6)
    assert (again.fractal.uuid, again.fractal.attempts) == (uuid, 2)
    assert again.token != first.token


def test_a_retry_at_the_other_instance_finds_its_job_in_the_listing() -> None:
    """A claim's answer lost at one API instance, retried at the other (a failover): the
    retry finds the job leased under its token rather than take a second one."""
    fake = FakeSwift()
    first_api, second_api = (SwiftStore(fake, "fractals", settle=0.0) for _ in range(2))
    now = time.time()
    older, _newer = add(first_api, now - 2), add(first_api, now - 1)
    token = "r" * 32
    assert first_api.claim("w", 30, now, token).fractal.uuid == older  # answer lost
    again = second_api.claim("w", 30, now + 1, token)
    assert (again.fractal.uuid, again.fractal.attempts) == (older, 1)
    assert second_api.get(_newer).state is State.PENDING


def _upload(client, job: dict, token: str):
    body = png(8, 8)
    return client.put(f"/v1/jobs/{job['uuid']}/result", data=body, headers={
        "Content-Type": "image/png", "X-Checksum": hashlib.sha256(body).hexdigest(),
        "X-Duration": "0.1", "X-Worker": "w1", "X-Lease-Token": token})


def test_an_upload_reads_the_job_once_and_writes_only_its_result() -> None:
    """The old upload: a read for the job's size, a heartbeat (a read and a write) to prove
    the lease, then the completion's own read, write and read-back: 6 requests. Now the
    token is checked in the completion's compare-and-swap, which starts from the first read."""
    fake = FakeSwift()
    store = SwiftStore(fake, "fractals", settle=0.0)
    client = create_app(Settings(auth="none"), store).test_client()
    now = time.time()
    first, second = add(store, now - 2), add(store, now - 1)
    jobs = [client.post("/v1/jobs/claim", json={"worker": "w1"}).get_json()["job"]
            for _ in range(2)]
    assert [j["uuid"] for j in jobs] == [first, second]
    before = len(fake.calls)
    answer = _upload(client, jobs[0], jobs[0]["lease_token"])
    assert answer.status_code == 201 and answer.get_json()["stored"] is True
    assert len(fake.calls) - before == 3, fake.calls[before:]  # listing, PUT, read-back
    # the lease is still checked: a wrong token is 409, a done job answers stored=false
    assert _upload(client, jobs[1], "x" * 32).status_code == 409
    assert store.get(second).state is State.RUNNING
    again = _upload(client, jobs[0], "x" * 32)
    assert again.status_code == 200 and again.get_json()["stored"] is False


def test_a_released_job_is_claimed_first_again() -> None:
    """The shared listing no longer holds a job it handed out: a release makes the next claim
    list again, so the oldest open job goes first, as on SQLite."""
    fake = FakeSwift()
    store = SwiftStore(fake, "fractals", settle=0.0)
    now = time.time()
    oldest = add(store, now - 3)
    for i in range(2):
        add(store, now - 2 + i)
    for _ in range(2):
        lease = store.claim("w", 30, now)
        assert lease.fractal.uuid == oldest
        store.release(oldest, lease.token)
