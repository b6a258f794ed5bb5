"""booth with real Pacemaker: two one-node sites and an arbitrator (cluster/geo/ticket_lab.py),
each site's region a fake cloud failing on demand (tests/support/fake_regions.py): what the
two-site lab (tests/geo/test_two_sites.py, real regions) cannot make happen at will. A site
whose region cannot serve does not keep a ticket it won by election (booth 1.0 runs no handler
before it) and takes it once its region serves (its fractal-ticket-claim asks booth again);
each site exports its own view of the ticket; booth's environment reaches the handler."""

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
    REGIONS,
    claim_log,
    faults,
    handler_log,
)
from tests.support.processes import wait_until

pytestmark = [pytest.mark.geo, pytest.mark.sites]

AT_B = (False, True)
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
    try:
        wait_until(lambda: seen.sample() and "asking booth to grant it here" in claim_log(
            rig, "site-b"), times.expire + CLAIM_AFTER_S + 2 * ROUND_SECONDS + 5,
            "B's claimer asking booth for the ticket", interval=0.2)
    except AssertionError as exc:  # what the claimer and the check saw, for the record
        raise AssertionError(f"{exc}\nB's claimer:\n{claim_log(rig, 'site-b')[-3000:]}\n"
                             f"B's check:\n{handler_log(rig, 'site-b')[-3000:]}") from None
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
