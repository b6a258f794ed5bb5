"""booth with real Pacemaker: two one-node sites and an arbitrator (cluster/geo/ticket_lab.py).
The ticket moves when its site is lost, and only then; the two sites never run the guarded
service at the same time (each site asked itself, the cut-off one too); the name follows."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator

import pytest

from cluster.geo.ticket_lab import TICKET, TicketLab, Timeline, running
from tests.metrics.support import samples, value

pytestmark = pytest.mark.geo

BOTH_STOPPED, AT_B, AT_A = (False, False), (False, True), (True, False)
# One scrape of the exporter's collectors, run inside a site's node (its own Pacemaker's view).
EXPOSITION = ("from prometheus_client import generate_latest\n"
              "from resource_agents.metrics.server import make_registry\n"
              "from resource_agents.metrics.source import Source\n"
              "print(generate_latest(make_registry(Source(), '/nonexistent')).decode())")


@pytest.fixture(scope="module")
def rig() -> Iterator[TicketLab]:
    with running() as lab:
        yield lab


@pytest.fixture
def site_a_holds(rig: TicketLab) -> TicketLab:
    rig.reset("site-a")
    return rig


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
