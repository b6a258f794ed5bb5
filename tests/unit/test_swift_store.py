"""What only the Object Storage backend has: generations, their collection, the listing's
grouping across pages, and the compare-and-swap under a competing API instance."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from urllib.parse import unquote

import pytest

from fractal_service.params import FractalParams
from fractal_service.records import Fractal, Result, State, new_uuid
from fractal_service.store import LeaseLost
from fractal_service.store.swift import SwiftStore, _Current, _Write
from tests.support.stores import Backend

pytestmark = pytest.mark.openstack


@pytest.fixture
def pair(object_store: Backend, tmp_path: Path) -> tuple[SwiftStore, SwiftStore]:
    """Two API instances' stores on one container."""
    first, second = object_store.open(tmp_path), object_store.open(tmp_path)
    assert isinstance(first, SwiftStore) and isinstance(second, SwiftStore)
    return first, second


def add(store: SwiftStore, created: float | None = None) -> str:
    created = time.time() if created is None else created
    uuid = new_uuid(created)
    store.add(Fractal(uuid, FractalParams(width=8, height=8), created_at=created))
    return uuid


def names(store: SwiftStore, uuid: str) -> list[str]:
    return [e.name for e in store._gens(uuid).gens]


def test_every_change_is_a_new_generation_and_old_ones_are_collected(pair) -> None:
    store, _ = pair
    uuid = add(store)
    lease = store.claim("w1", 30, time.time())
    store.heartbeat(uuid, lease.token, 30, time.time())
    assert [n.rsplit("/", 1)[1] for n in names(store, uuid)] == [
        "0000000000", "0000000001", "0000000002"]  # young: kept for in-flight writers
    store.gc_age = 0
    for _ in range(3):
        store.heartbeat(uuid, lease.token, 30, time.time())
    assert [n.rsplit("/", 1)[1] for n in names(store, uuid)] == ["0000000004", "0000000005"]
    assert store.get(uuid).state is State.RUNNING


def test_a_deleted_fractal_leaves_a_tombstone_then_nothing(pair) -> None:
    store, _ = pair
    uuid = add(store)
    store.delete(uuid)
    assert [n.rsplit("/", 1)[1] for n in names(store, uuid)] == ["0000000001"]  # image gone
    assert store.list(limit=10).items == []
    store.tombstone_age = 0
    store.list(limit=10)
    assert names(store, uuid) == []


def test_a_transition_that_loses_the_race_reads_again_and_decides_again(pair) -> None:
    mine, theirs = pair
    uuid = add(mine)
    lease = mine.claim("w1", 30, time.time())
    seen: list[State] = []

    def step(current: _Current) -> _Write:
        """A heartbeat's decision, with another API instance failing the job between this
        read and this write the first time."""
        seen.append(current.fractal.state)
        if len(seen) == 1:
            theirs.fail(uuid, lease.token, "competitor", time.time())
        if current.fractal.state is not State.RUNNING:
            raise LeaseLost(uuid)
        return _Write(current.fractal, "extended", lease.token, time.time() + 30)

    with pytest.raises(LeaseLost):
        mine._transition(uuid, step)
    assert seen == [State.RUNNING, State.FAILED]
    assert mine.get(uuid).error == "competitor"


def test_the_listing_groups_generations_across_pages(pair) -> None:
    store, _ = pair
    base = time.time()
    uuids = [add(store, base + i / 100) for i in range(4)]
    for _ in range(3):  # uuids[0] pending → running → pending ...: five generations
        lease = store.claim("w", 30, time.time())
        store.release(lease.fractal.uuid, lease.token)
    assert len(names(store, uuids[0])) == 7
    for descending in (False, True):
        jobs = list(store._jobs(page=2, descending=descending))
        assert [j.uuid for j in jobs] == (uuids[::-1] if descending else uuids)
        assert [len(j.gens) for j in jobs][:: -1 if descending else 1] == [7, 1, 1, 1]
        assert all(j.current.gen == max(e.gen for e in j.gens) for j in jobs)
    after = list(store._jobs(after=uuids[0], page=2))
    assert [j.uuid for j in after] == uuids[1:]


def test_a_stray_object_in_the_container_is_ignored(pair) -> None:
    store, _ = pair
    uuid = add(store)
    store._request("PUT", "fractals/not-a-fractal", data=b"x",
                   headers={"Content-Type": "text/plain"}, ok=(201,))
    assert [f.uuid for f in store.list(limit=10).items] == [uuid]
    assert store.count_by_state()[State.PENDING] == 1


def test_a_listing_that_lags_is_completed_by_name(pair) -> None:
    store, _ = pair
    uuid = add(store)
    stale = store._gens(uuid)  # generation 0 only
    lease = store.claim("w1", 30, time.time())
    store.heartbeat(uuid, lease.token, 30, time.time())
    # as if the container listing still showed generation 0 after a create lost to gen 1
    current = store._read(uuid, job=stale, floor=1)
    assert (current.gen, current.fractal.state, current.token) == (2, State.RUNNING, lease.token)


def test_claims_skip_finished_fractals_but_not_late_ones(pair) -> None:
    store, other = pair
    now = time.time()
    done = [add(store, now - 50 + i) for i in range(3)]
    for uuid in done:
        store.complete(uuid, Result(b"\x89PNG", "c", 0.1, "w"), now)
    fresh = add(store, now)
    assert store.claim("w", 30, now).fractal.uuid == fresh
    assert store._open_from == fresh
    # an API instance whose clock is 100 s behind adds a fractal that sorts before the hint
    late = add(other, now - 100)
    assert store.claim("w", 30, now).fractal.uuid == late


def test_the_image_and_its_metadata_are_one_object(pair) -> None:
    store, _ = pair
    uuid = add(store)
    store.claim("wörker 1", 30, time.time())
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64
    checksum = hashlib.sha256(png).hexdigest()
    store.complete(uuid, Result(png, checksum, 0.5, "wörker 1"), time.time())
    stored = store._request("GET", store._gens(uuid).current.name, ok=(200,))
    assert stored.content == png
    assert stored.headers["Content-Type"].startswith("image/png;state=done;")
    meta = {k.lower().removeprefix("x-object-meta-"): v for k, v in stored.headers.items()}
    assert (meta["state"], meta["checksum"], meta["width"], meta["size"]) == (
        "done", checksum, "8", str(len(png)))
    assert unquote(meta["generated-by"]) == "wörker 1"
