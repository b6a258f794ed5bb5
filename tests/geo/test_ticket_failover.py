"""booth with real Pacemaker: two one-node sites and an arbitrator (cluster/geo/ticket_lab.py).
The ticket moves when its site is lost, and only then; the two sites never run the guarded
service at the same time (each site asked itself, the cut-off one too); the name follows.
booth runs fractal-region-check before each acquire and renewal, each site's region a fake
cloud (tests/support/fake_regions.py): the ticket leaves a holder whose Object Storage stays
down, not one whose Neutron is down, and a site whose region cannot serve does not take it
until it can (each site's fractal-ticket-claim then asks booth for it again)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator

import pytest

from cluster.geo.ticket_lab import TICKET, TicketLab, Timeline, running
from resource_agents.geo.ticket_claim import ROUND_SECONDS
from tests.metrics.support import samples, value
from tests.support import fake_regions
from tests.support.fake_regions import (
    CLAIM_AFTER_S,
    GRACE_S,
    REGIONS,
    claim_log,
    faults,
    handler_log,
)
from tests.support.processes import wait_until

pytestmark = pytest.mark.geo

BOTH_STOPPED, AT_B, AT_A = (False, False), (False, True), (True, False)
# One scrape of the exporter's collectors, run inside a site's node (its own Pacemaker's view).
EXPOSITION = ("from prometheus_client import generate_latest\n"
              "from resource_agents.metrics.server import make_registry\n"
              "from resource_agents.metrics.source import Source\n"
              "print(generate_latest(make_registry(Source(), '/nonexistent')).decode())")


@pytest.fixture(scope="module")
def rig() -> Iterator[TicketLab]:
    with running(before_acquire=fake_regions.install, claim=True) as lab, \
            fake_regions.serving(lab):
        yield lab


@pytest.fixture
def site_a_holds(rig: TicketLab) -> Iterator[TicketLab]:
    for site in REGIONS:
        faults(rig, site)
    fake_regions.forget_refusals(rig)
    rig.reset("site-a")
    yield rig
    for site in REGIONS:
        faults(rig, site)


def test_a_cut_off_site_stops_at_expiry_and_the_other_takes_over(site_a_holds: TicketLab
                                                                  ) -> None:
    rig = site_a_holds
    times = rig.times
    rig.cut("site-a")
    seen = Timeline(rig)
    stopped = seen.until(BOTH_STOPPED, times.expire + 10)
    taken = seen.until(AT_B, times.expire + times.acquire_after + 15)
    named = seen.name_moved("site-b", 15)
    print(f"site A cut off: A stopped after {stopped:.1f} s, B serves after {taken:.1f} s, "
          f"the name points at B after {named:.1f} s")
    assert seen.overlaps == 0, seen.samples
    assert stopped >= times.renewal  # not before its ticket could have lapsed
    # The old site had time to stop: acquire-after less the sites' skew in seeing the expiry
    # (measured 4.3-5.1 s of the 5 s).
    assert taken - stopped >= times.acquire_after / 2
    # Plugged back in, the old site does not take the ticket back.
    rig.cut("site-a", cut=False)
    assert seen.hold(AT_B, times.expire) and seen.overlaps == 0, seen.samples[-5:]


def test_a_crashed_site_is_replaced_within_expiry_and_acquire_after(site_a_holds: TicketLab
                                                                    ) -> None:
    rig = site_a_holds
    rig.sites["site-a"].crash()
    seen = Timeline(rig)
    taken = seen.until(AT_B, rig.times.expire + rig.times.acquire_after + 15)
    named = seen.name_moved("site-b", 15)
    print(f"site A crashed: B serves after {taken:.1f} s, the name points at B after "
          f"{named:.1f} s")
    assert seen.overlaps == 0


def test_losing_the_arbitrator_moves_nothing(site_a_holds: TicketLab) -> None:
    rig = site_a_holds
    rig.arbitrator.stop()
    # Two of three members still agree: the holder keeps renewing for several expiries.
    assert Timeline(rig).hold(AT_A, 2 * rig.times.expire)
    assert rig.granted("site-a") and not rig.granted("site-b")


def test_a_planned_switchover_has_a_short_gap(site_a_holds: TicketLab) -> None:
    rig = site_a_holds
    seen = Timeline(rig)
    rig.revoke("site-a")
    seen.until(BOTH_STOPPED, 20)
    rig.grant("site-b")
    gap = seen.until(AT_B, 20)
    print(f"planned switchover: B serves {gap:.1f} s after the revoke")
    assert gap <= 10 and seen.overlaps == 0


def test_each_site_exports_its_own_view_of_the_ticket(site_a_holds: TicketLab) -> None:
    """The exporter on each site's node, fed by that node's own crm_mon and CIB: granted at
    the holder with booth's lease ahead, revoked at the other site."""
    rig = site_a_holds
    views = {site: samples(rig.sites[site].exec([sys.executable, "-c", EXPOSITION]).stdout)
             for site in rig.sites}
    now = time.time()
    for site, found in views.items():
        holder = site == "site-a"
        assert value(found, "fractal_ha_ticket_granted", ticket=TICKET) == holder, site
        assert value(found, "fractal_ha_ticket_standby", ticket=TICKET) == 0
        # booth's lease, as each site last heard it: renewed by the holder, ahead of now
        expires = value(found, "fractal_ha_ticket_expires_timestamp_seconds", ticket=TICKET)
        assert now - 1 < expires <= now + rig.times.expire + 1, (site, expires - now)
        assert value(found, "fractal_ha_exporter_command_failures_total",
                     command="cibadmin-tickets") == 0


# -- the before-acquire handler: the site's own region -------------------------------------
def test_a_holder_whose_object_storage_stays_down_hands_the_ticket_over(
        site_a_holds: TicketLab) -> None:
    rig = site_a_holds
    wait_until(lambda: fake_regions.renewed(rig, "site-a"), 3 * rig.times.renewal,
               "A's first renewal checked")
    faults(rig, "site-a", "object")
    seen = Timeline(rig)
    assert seen.sample() == AT_A, "A lost the ticket before the fault:\n" + \
        handler_log(rig, "site-a")[-1500:]
    # A's stop, not both stopped: B may serve within one sample of A's stop (seen in CI).
    stopped = until_a_stops(seen, GRACE_S + 2 * rig.times.renewal + 10)
    taken = seen.until(AT_B, stopped + rig.times.expire + rig.times.acquire_after + 20)
    print(f"site A's Object Storage down: A let go after {stopped:.1f} s, B serves after "
          f"{taken:.1f} s")
    assert seen.overlaps == 0, seen.samples
    assert stopped >= GRACE_S  # not at the first failed check: the grace held
    assert "giving the ticket up" in handler_log(rig, "site-a")


def until_a_stops(seen: Timeline, timeout: float) -> float:
    """Seconds from the fault until a sample shows site A not serving."""
    while seen.sample()[0]:
        if seen.samples[-1][0] > timeout:
            raise TimeoutError(f"A still serving after {timeout:.0f} s: {seen.samples[-5:]}")
        time.sleep(0.2)
    return seen.samples[-1][0]


def test_a_holder_keeps_the_ticket_through_a_neutron_outage(site_a_holds: TicketLab) -> None:
    rig = site_a_holds
    wait_until(lambda: fake_regions.renewed(rig, "site-a"), 3 * rig.times.renewal,
               "A's first renewal checked")
    faults(rig, "site-a", "network")
    # Three renewals: each ran the handler, none let go.
    assert Timeline(rig).hold(AT_A, 3 * rig.times.renewal), "A let go for Neutron alone"
    assert rig.granted("site-a") and not rig.granted("site-b")


def test_a_site_whose_region_cannot_serve_gives_up_a_ticket_it_won(
        site_a_holds: TicketLab) -> None:
    """booth 1.0 runs no handler before a site wins the election that follows a lost holder:
    B, whose Object Storage is down, is elected when A crashes; its first renewal's check is
    strict and gives the ticket up. Measured: how long B served a ticket it could not serve.
    booth never tries again by itself; B's fractal-ticket-claim does, once B's region serves:
    the ticket held nowhere after B's refusal, it asks booth for a grant, whose check passes."""
    rig = site_a_holds
    times = rig.times
    faults(rig, "site-b", "object")
    rig.sites["site-a"].crash()
    seen = Timeline(rig)
    end = time.monotonic() + times.expire + times.acquire_after + 3 * times.renewal + 5
    while time.monotonic() < end:
        seen.sample()
        time.sleep(0.2)
    # B's claimer asks once the ticket has been held nowhere for claim_after after B's
    # refusal, which may still list B as the holder until B's lease runs out (a CI run asked
    # after the fixed window above): refused each time while B's region fails, B stays down.
    wait_until(lambda: seen.sample() and "asking booth to grant it here" in claim_log(
        rig, "site-b"), times.expire + CLAIM_AFTER_S + 2 * ROUND_SECONDS + 5,
        "B's claimer asking booth for the ticket", interval=0.2)
    stretches = _serving_stretches(seen.samples, site=2)
    print(f"B's region down after A's crash: B served {len(stretches)} times, the longest "
          f"{max(stretches, default=0):.1f} s; its claimer asked {seen.samples[-1][0]:.1f} s "
          "after the crash")
    assert max(stretches, default=0) <= times.renewal + 2 + 2  # renewal + budget + sampling
    assert "refusing the ticket" in handler_log(rig, "site-b")
    assert not seen.sample()[1]
    # Its region serving again: the next claim's check passes, B serves (once booth has
    # waited out a lease and acquire-after) and keeps it — no operator.
    faults(rig, "site-b")
    recovered = seen.samples[-1][0]
    served = seen.until(AT_B, recovered + CLAIM_AFTER_S + times.expire + times.acquire_after
                        + 15)
    print(f"B's region back: B serves again {served - recovered:.1f} s later, without an "
          f"operator's grant")
    assert seen.hold(AT_B, 2 * times.renewal) and seen.overlaps == 0
    assert "booth granted ticket fractal-service here" in claim_log(rig, "site-b")


def _serving_stretches(samples: list[tuple[float, bool, bool]], site: int) -> list[float]:
    """Lengths of the stretches in which the site (1: A, 2: B) served, in seconds."""
    stretches, began = [], None
    for at, *serving in samples:
        if serving[site - 1] and began is None:
            began = at
        elif not serving[site - 1] and began is not None:
            stretches.append(at - began)
            began = None
    if began is not None:
        stretches.append(samples[-1][0] - began)
    return stretches


def test_the_handler_gets_booths_environment(site_a_holds: TicketLab) -> None:
    """What the holder's renewals logged: the ticket's name in the tag, the holder's verdict."""
    rig = site_a_holds
    wait_until(lambda: "keeping the ticket" in handler_log(rig, "site-a"),
               4 * rig.times.renewal, "a renewal's check at A")
    assert "fractal-region-check(fractal-service)" in handler_log(rig, "site-a")
