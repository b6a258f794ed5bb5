"""Fractals replicated between the regions' Swifts by container sync (both ways), through the
service's own store (fractal_service.store.swift), on the session cloud with RegionTwo added.

What the tests pin down (README, "Regions"):
- a fractal written in one region is read, with its image, in the other after the sync lag;
- one written in a region that is lost before its sync is missing from the other region until
  the lost region comes back with its disks, then arrives (RPO = the sync lag, nothing lost
  for good unless the region's disks are);
- generations written in both regions while sync was cut: the store's compare-and-swap is per
  region, so each region grants g+1 to its own writer; after sync every name holds the copy
  with the later timestamp (Swift's last-writer-wins, in both regions alike) and the current
  state is the highest generation, whichever region wrote it — a delete made in one region
  at g+1 is undone by a completion that reached g+2 in the other.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from cluster.openstack import regions, swift
from cluster.openstack.daemons import start_together
from cluster.openstack.layout import REGIONS
from fractal_service.params import FractalParams
from fractal_service.records import Fractal, Result, State, new_uuid
from fractal_service.store import NotFound
from fractal_service.store.swift import SwiftStore
from tests.geo.conftest import Paired
from tests.support.processes import wait_until

pytestmark = [pytest.mark.geo, pytest.mark.openstack]

SYNC_WAIT = 30.0  # seconds; the lab syncs every second (swift.SYNC_INTERVAL_S)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


def fractal() -> Fractal:
    """UUIDv7s order by millisecond only: 2 ms apart, the first made is the first claimed."""
    time.sleep(0.002)
    now = time.time()
    return Fractal(new_uuid(now), FractalParams(width=64, height=64), created_at=now)


def finish(store: SwiftStore, uuid: str, worker: str) -> Fractal:
    """Claim and complete `uuid` (the only pending job of a fresh container)."""
    lease = store.claim(worker, 60, time.time())
    assert lease is not None and lease.fractal.uuid == uuid
    result = Result(PNG, "sum", 0.5, worker)
    return store.complete(uuid, result, time.time()).fractal


def state_in(store: SwiftStore, uuid: str) -> State | None:
    try:
        return store.get(uuid).state
    except NotFound:
        return None


def generations(store: SwiftStore, uuid: str) -> list[tuple[str, str]]:
    """(name, content type) of every listed generation: what sync must make equal."""
    return [(e.name, e.content_type) for e in store._gens(uuid).gens]


@pytest.fixture
def sync_paused(two_regions) -> Iterator[None]:
    """The regions cut off from each other (sync daemons stopped), resumed after the test."""
    regions.pause_sync(two_regions.layout)
    try:
        yield
    finally:
        regions.resume_sync(two_regions.layout)


def test_fractals_written_in_either_region_are_read_in_the_other(paired: Paired) -> None:
    made_in_one, made_in_two = fractal(), fractal()
    paired.one.add(made_in_one)
    paired.two.add(made_in_two)
    done = finish(paired.one, made_in_one.uuid, "worker-r1")
    wait_until(lambda: state_in(paired.two, done.uuid) is State.DONE, SYNC_WAIT,
               "RegionOne's done fractal in RegionTwo")
    assert paired.two.get(done.uuid) == done
    assert paired.two.image(done.uuid) == PNG
    wait_until(lambda: state_in(paired.one, made_in_two.uuid) is State.PENDING, SYNC_WAIT,
               "RegionTwo's fractal in RegionOne")
    assert paired.one.get(made_in_two.uuid) == made_in_two


def test_a_fractal_not_yet_synced_when_its_region_is_lost_waits_for_that_region(
        paired: Paired, two_regions) -> None:
    layout = two_regions.layout
    synced = fractal()
    paired.two.add(synced)
    wait_until(lambda: state_in(paired.one, synced.uuid), SYNC_WAIT, "the first fractal synced")
    lost = [*swift.daemons_of(layout, REGIONS[1]), swift.sync_daemon(layout, REGIONS[1])]
    swift.sync_daemon(layout, REGIONS[1]).stop()  # the write below never leaves RegionTwo...
    unsynced = fractal()
    paired.two.add(unsynced)
    for daemon in lost:  # ...before RegionTwo is lost
        daemon.stop()
    try:
        assert paired.one.get(synced.uuid) == synced  # older than the lag: survives
        with pytest.raises(NotFound):
            paired.one.get(unsynced.uuid)
        time.sleep(3 * swift.SYNC_INTERVAL_S)  # RegionOne's own sync runs: nothing brings it
        with pytest.raises(NotFound):
            paired.one.get(unsynced.uuid)
    finally:
        start_together(lost)  # the region back with its disks
    wait_until(lambda: state_in(paired.one, unsynced.uuid), SYNC_WAIT,
               "the unsynced fractal once its region is back")
    assert paired.one.get(unsynced.uuid) == unsynced


def test_generations_written_in_both_regions_keep_the_highest_and_the_latest(
        paired: Paired, two_regions, sync_paused) -> None:
    deeper, same = fractal(), fractal()
    for f in (deeper, same):
        paired.one.add(f)
    # Cut off from each other (the fixture), both regions move the same generations on:
    # `deeper` is claimed and completed in RegionOne (g1, g2) and then deleted in RegionTwo
    # (its g1); `same` is claimed in RegionOne (g1) and deleted in RegionTwo a moment later
    # (its g1, the later timestamp). Gen 0 reaches RegionTwo first, as if synced before.
    regions.resume_sync(two_regions.layout)
    for f in (deeper, same):
        wait_until(lambda f=f: state_in(paired.two, f.uuid), SYNC_WAIT, "gen 0 in RegionTwo")
    regions.pause_sync(two_regions.layout)
    done = finish(paired.one, deeper.uuid, "worker-r1")
    assert paired.one.claim("worker-r1", 60, time.time()).fractal.uuid == same.uuid
    time.sleep(0.05)  # Swift's timestamps: RegionTwo's writes are the later ones
    paired.two.delete(deeper.uuid)
    paired.two.delete(same.uuid)
    assert state_in(paired.one, deeper.uuid) is State.DONE  # each region's own view
    assert state_in(paired.two, deeper.uuid) is None

    regions.resume_sync(two_regions.layout)
    for f in (deeper, same):
        wait_until(lambda f=f: generations(paired.one, f.uuid) == generations(paired.two, f.uuid)
                   and generations(paired.one, f.uuid), SYNC_WAIT,
                   f"both regions listing the same generations of {f.uuid}")
    # The highest generation is RegionOne's completion: the delete made in RegionTwo is undone.
    assert paired.one.get(deeper.uuid) == paired.two.get(deeper.uuid) == done
    assert paired.two.image(deeper.uuid) == PNG
    # At g1 of `same` RegionTwo's tombstone, written later, replaced RegionOne's claim.
    assert state_in(paired.one, same.uuid) is None and state_in(paired.two, same.uuid) is None


def test_the_replica_age_follows_the_sync(paired: Paired, two_regions) -> None:
    """The API's fractal_store_replica_age_seconds: small while sync runs, growing while it is
    stopped, small again once it runs."""
    layout = two_regions.layout
    store = SwiftStore.from_url(regions.store_url(layout, paired.container, REGIONS[0])
                                + f"&peer={REGIONS[1]}")
    assert store.replica_peer == REGIONS[1]

    def age() -> float:
        store.replica._shared._valid_until = 0.0  # each call measures (no reuse)
        return store.replica_age()

    wait_until(lambda: age() < 3.0, SYNC_WAIT, "a small replica age while sync runs")
    regions.pause_sync(layout)
    try:
        time.sleep(3.0)
        assert age() >= 3.0
    finally:
        regions.resume_sync(layout)
    wait_until(lambda: age() < 3.0, SYNC_WAIT, "a small replica age once sync runs again")
