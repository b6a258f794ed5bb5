"""The store contract, on every backend (SQLite; Object Storage in the lab cloud): what the
API relies on, including under concurrent claimers in separate processes."""

from __future__ import annotations

import hashlib
import multiprocessing
import time
from pathlib import Path

import pytest

from fractal_service.params import FractalParams
from fractal_service.records import Fractal, Result, State, new_uuid
from fractal_service.store import LeaseLost, NotFound, Store
from tests.support.stores import Backend

JOBS = 60
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


@pytest.fixture
def store(backend: Backend, tmp_path: Path) -> Store:
    return backend.open(tmp_path)


def add(store: Store, created: float | None = None, **params) -> str:
    created = time.time() if created is None else created
    uuid = new_uuid(created)
    store.add(Fractal(uuid, FractalParams(**{"width": 8, "height": 8, **params}),
                      created_at=created))
    return uuid


def result(png: bytes = PNG, worker: str = "w1", duration: float = 0.25) -> Result:
    return Result(png, hashlib.sha256(png).hexdigest(), duration, worker)


def _claim_all(backend: Backend, data_dir: Path, name: str, out: multiprocessing.Queue) -> None:
    store = backend.open(data_dir)
    claimed = []
    while (lease := store.claim(name, 300, time.time())) is not None:
        claimed.append(lease.fractal.uuid)
    out.put(claimed)


def test_concurrent_claimers_never_share_a_job(backend: Backend, store: Store,
                                               tmp_path: Path) -> None:
    # Every job is raced for by all four claimers; a remote store (seconds per claim on the
    # lab's Swift) needs fewer to show it.
    jobs = JOBS if backend.name == "sqlite" else JOBS // 5
    for _ in range(jobs):
        add(store)
    out: multiprocessing.Queue = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=_claim_all, args=(backend, tmp_path, f"p{i}", out))
             for i in range(4)]
    for p in procs:
        p.start()
    claimed = [u for _ in procs for u in out.get(timeout=300)]
    for p in procs:
        p.join(10)
    assert len(claimed) == jobs == len(set(claimed))
    assert store.count_by_state()[State.RUNNING] == jobs


def test_uuids_sort_by_creation_time() -> None:
    ids = [new_uuid(1_700_000_000 + i / 1000) for i in range(50)]
    assert ids == sorted(ids)
    assert all(u[14] == "7" for u in ids)  # version nibble


def test_complete_is_idempotent_and_survives_reopen(backend: Backend, store: Store,
                                                    tmp_path: Path) -> None:
    uuid = add(store)
    assert store.complete(uuid, result(), time.time()).stored
    assert not store.complete(uuid, result(b"\x89PNGother", "w2"), time.time()).stored
    store.close()
    reopened = backend.open(tmp_path)
    assert reopened.image(uuid) == PNG
    assert reopened.get(uuid).generated_by == "w1"


def test_a_record_reads_back_exactly(store: Store) -> None:
    uuid = add(store, kind="julia", c_re=-0.4000000000000001, c_im=1e-300, xa=-1.25,
               iterations=7)
    f = store.get(uuid)
    assert f.params == FractalParams(kind="julia", width=8, height=8, iterations=7, xa=-1.25,
                                     c_re=-0.4000000000000001, c_im=1e-300)
    assert (f.state, f.attempts, f.started_at, f.error) == (State.PENDING, 0, None, None)
    with pytest.raises(NotFound):
        store.image(uuid)  # not done: no image


def test_free_text_survives_any_characters_and_is_bounded(store: Store) -> None:
    uuid = add(store)
    worker = "wörker\n\"two\" 100%"
    lease = store.claim(worker, 30, time.time())
    reason = "out of memory: ünïcode, newlines\r\nand a long tail " + "x" * 440
    failed = store.fail(uuid, lease.token, reason, time.time())
    assert failed.generated_by == worker == store.get(uuid).generated_by
    # the API caps a reason at 500 characters; every backend keeps those whole
    assert store.get(uuid).error == reason[:500]


def test_lease_lifecycle(store: Store) -> None:
    now = time.time()
    older, newer = add(store, now - 1), add(store, now)
    first = store.claim("w1", 30, now)
    assert first.fractal.uuid == older and first.fractal.state is State.RUNNING
    assert first.fractal.attempts == 1 and first.fractal.generated_by == "w1"
    second = store.claim("w2", 30, now)
    assert second.fractal.uuid == newer and second.token != first.token
    assert store.claim("w3", 30, now) is None
    assert store.heartbeat(older, first.token, 60, now + 10).expires_at == now + 70
    with pytest.raises(LeaseLost):
        store.heartbeat(older, second.token, 60, now)
    store.release(older, "not-the-token")  # a no-op
    assert store.get(older).state is State.RUNNING
    store.release(older, first.token)
    back = store.get(older)
    assert (back.state, back.attempts, back.generated_by) == (State.PENDING, 0, None)
    assert store.claim("w4", 30, now).fractal.uuid == older


def test_an_expired_lease_moves_on_and_the_old_holder_loses_it(store: Store) -> None:
    now = time.time()
    uuid = add(store)
    first = store.claim("w1", 5, now)
    assert store.claim("w2", 5, now + 1) is None
    second = store.claim("w2", 5, now + 6)
    assert second.fractal.uuid == uuid and second.fractal.attempts == 2
    with pytest.raises(LeaseLost):
        store.heartbeat(uuid, first.token, 5, now + 6)
    with pytest.raises(LeaseLost):
        store.fail(uuid, first.token, "late", now + 6)
    # the old holder's result still counts: the work is valid
    done = store.complete(uuid, result(worker="w1"), now + 7)
    assert done.stored and done.fractal.generated_by == "w1"
    assert done.fractal.started_at == now + 6
    with pytest.raises(LeaseLost):
        store.heartbeat(uuid, second.token, 5, now + 7)


def test_a_job_whose_lease_keeps_running_out_fails(backend: Backend, tmp_path: Path) -> None:
    store = backend.open(tmp_path, max_attempts=2)
    uuid = add(store)
    now = time.time()
    assert store.claim("a", 1, now) and store.claim("b", 1, now + 2)
    assert store.claim("c", 1, now + 4) is None
    failed = store.get(uuid)
    assert failed.state is State.FAILED and "2 times" in failed.error


def test_a_claim_retried_with_its_token_gets_its_job_back(backend: Backend,
                                                         tmp_path: Path) -> None:
    """A claim whose answer was lost (its write landed after the call timed out) is sent
    again with the same token: the job it leased comes back, renewed if its lease ran out,
    and costs no attempt (one allowed here); other claimers get other work."""
    store = backend.open(tmp_path, max_attempts=1)
    now = time.time()
    older, newer = add(store, now - 1), add(store, now)
    mine, theirs = "a" * 16 + "-retried_1", "b" * 32
    lost = store.claim("w1", 5, now, mine)  # the answer that never reached w1
    assert (lost.fractal.uuid, lost.token, lost.fractal.attempts) == (older, mine, 1)
    again = store.claim("w1", 5, now + 1, mine)
    assert (again.fractal.uuid, again.token, again.expires_at) == (older, mine, now + 5)
    assert store.claim("w2", 5, now + 1, theirs).fractal.uuid == newer
    late = store.claim("w1", 5, now + 7, mine)  # its lease ran out before the retry got through
    assert (late.fractal.uuid, late.fractal.attempts, late.expires_at) == (older, 1, now + 12)
    assert store.heartbeat(older, mine, 5, now + 8).expires_at == now + 13
    assert store.get(older).state is State.RUNNING  # not failed: no attempt was spent


def test_listing_pages_filters_and_orders(store: Store) -> None:
    base = time.time()
    uuids = [add(store, base + i / 100) for i in range(7)]
    store.complete(uuids[1], result(), base)
    store.complete(uuids[4], result(), base)
    store.delete(uuids[5])
    live = [u for u in uuids if u != uuids[5]]

    def walk(**kwargs) -> list[str]:
        seen, marker = [], None
        while True:
            page = store.list(limit=2, marker=marker, **kwargs)
            assert len(page.items) <= 2
            seen += [f.uuid for f in page.items]
            if page.next_marker is None:
                return seen
            assert page.next_marker == page.items[-1].uuid
            marker = page.next_marker

    assert walk() == live
    assert walk(descending=True) == live[::-1]
    assert walk(state=State.DONE) == [uuids[1], uuids[4]]
    assert walk(state=State.PENDING, descending=True) == [uuids[6], uuids[3], uuids[2], uuids[0]]
    assert walk(state=State.FAILED) == []
    page = store.list(limit=3, marker=uuids[2])
    assert [f.uuid for f in page.items] == [uuids[3], uuids[4], uuids[6]]
    assert page.next_marker is None
    assert store.list(limit=10, state=State.DONE).items[0].checksum == result().checksum
    counts = store.count_by_state()
    assert (counts[State.PENDING], counts[State.DONE], counts[State.RUNNING]) == (4, 2, 0)


def test_delete_is_final(store: Store) -> None:
    uuid = add(store)
    lease = store.claim("w1", 30, time.time())
    store.delete(uuid)
    for call in (lambda: store.get(uuid), lambda: store.delete(uuid),
                 lambda: store.image(uuid), lambda: store.complete(uuid, result(), time.time()),
                 lambda: store.heartbeat(uuid, lease.token, 30, time.time())):
        with pytest.raises(NotFound):
            call()
    store.release(uuid, lease.token)  # a no-op
    assert store.claim("w2", 30, time.time()) is None
    assert sum(store.count_by_state().values()) == 0


def test_probes(store: Store) -> None:
    store.probe()
    store.probe(deep=True)


def test_store_urls_are_checked_when_settings_load(tmp_path: Path) -> None:
    from fractal_service.config import Settings
    from fractal_service.store import open_store

    assert Settings.load(environ={"FRACTAL_STORE": "swift://lab/fractals"}).store
    with pytest.raises(ValueError, match="store"):
        Settings.load(environ={"FRACTAL_STORE": "s3://bucket"})
    for bad in ("swift://lab", "swift://lab/a/b", "swift://lab/c?colour=red",
                f"swift://nowhere/c?config={tmp_path}/clouds.yaml"):
        with pytest.raises(ValueError, match="swift:"):
            open_store(bad, tmp_path)
