"""Two one-node Pacemaker sites and a booth arbitrator on a shared WAN: the ticket's own lab.

The smallest rig in which booth's behaviour with real Pacemaker can be watched and timed (what
the two-site lab builds on): each site is a lab node (cluster/lab/node.py: its own network, PID
and mount namespaces, real corosync and pacemakerd) running ocf:pacemaker:booth-site and a
stand-in service (ocf:pacemaker:Dummy) guarded by the ticket with loss-policy=stop; the
arbitrator is a plain boothd. Every member sits on one WAN bridge, so a site is cut off by
unplugging its cable.
"""

from __future__ import annotations

import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cluster.corosync_conf import Member, render
from cluster.geo import site_cib
from cluster.geo.booth import (
    TICKET,
    Arbitrator,
    BoothConfig,
    TicketTimes,
    make_authfile,
)
from cluster.geo.dns import SERVICE_NAME, DnsServer
from cluster.lab import netns
from cluster.lab.node import Node, NodeError, NodeSpec
from cluster.operations import wait

WAN_CIDR = 24
SITES = {"site-a": "203.0.113.11", "site-b": "203.0.113.21"}  # RFC 5737
ARBITRATOR = "203.0.113.250"
SERVICE = "fractal-service-standin"


@dataclass(frozen=True)
class Names:
    prefix: str

    @property
    def wan(self) -> str:
        return f"{self.prefix}-wan"

    @property
    def arbitrator(self) -> str:
        return f"{self.prefix}-arb"

    def site(self, name: str) -> str:
        return f"{self.prefix}-{name}"


def _cib(config: Path, address: str, dns: DnsServer) -> str:
    """The site's resources: booth, the stand-in service and the name pointed at the site,
    both guarded by the ticket."""
    return ("property stonith-enabled=false\nrsc_defaults resource-stickiness=100\n"
            + site_cib.booth(config)
            + f"primitive {SERVICE} ocf:pacemaker:Dummy op monitor interval=2s\n"
            + site_cib.name(address, dns, follows=SERVICE)
            + site_cib.tickets(SERVICE, "service-name"))


@contextmanager
def running(prefix: str = "fhg", times: TicketTimes | None = None,
            before_acquire: Callable[[TicketLab], None] | None = None,
            claim: bool = False) -> Iterator[TicketLab]:
    """A rig up in a temporary directory short enough for booth's path limit, down after.
    `before_acquire` installs the rig's handler (TicketLab.handler) and, with `claim`, the
    ticket claimer (TicketLab.claim) before booth starts: booth 1.0 denies every grant
    ("before-acquire-handler failed") if the handler was missing then."""
    with tempfile.TemporaryDirectory(prefix=f"{prefix}-") as name:
        lab = TicketLab(Path(name), prefix=prefix, times=times,
                        before_acquire=before_acquire is not None, claim=claim)
        try:
            if before_acquire is not None:
                before_acquire(lab)
            lab.up()
            yield lab
        finally:
            lab.down()


class TicketLab:
    """`before_acquire`: booth runs DIR/before-acquire (the caller installs it) before a site
    acquires the ticket and at each renewal; BOOTH_CONF_NAME tells it which site it runs in.
    `claim`: each site runs DIR/ticket-claim SITE (the caller installs it) beside boothd."""

    def __init__(self, directory: Path, *, prefix: str = "fhg",
                 times: TicketTimes | None = None, before_acquire: bool = False,
                 claim: bool = False) -> None:
        if len(str(directory)) > 40:  # booth reads at most 63 characters per value
            raise ValueError(f"{directory}: use a shorter directory (booth's path limit)")
        self.dir = directory
        self.names = Names(prefix)
        self.times = times or TicketTimes()
        self.handler = directory / "before-acquire" if before_acquire else None
        self.claim = directory / "ticket-claim" if claim else None
        if self.times.acquire_after <= site_cib.NAME_OP_TIMEOUT_S + 1:
            raise ValueError(f"acquire-after={self.times.acquire_after:g} s leaves the old site "
                             f"no time to stop (its actions in flight take up to "
                             f"{site_cib.NAME_OP_TIMEOUT_S} s)")
        self.sites = {name: Node(NodeSpec(name, 1, address, self.names.site(name)), directory)
                      for name, address in SITES.items()}
        self.arbitrator = Arbitrator(self.names.arbitrator, directory / "arbitrator.conf",
                                     directory / "arbitrator")
        # The lab zone's server lives with the arbitrator: the third place, reachable by both.
        self.dns = DnsServer(directory / "dns", address=ARBITRATOR,
                             prefix=("ip", "netns", "exec", self.names.arbitrator))

    def config(self) -> BoothConfig:
        return BoothConfig(tuple(SITES.values()), (ARBITRATOR,),
                           make_authfile(self.dir / "booth.key"), self.times,
                           str(self.handler) if self.handler else None)

    # -- up and down ---------------------------------------------------------------------
    def up(self) -> None:
        config = self.config()
        netns.make_switch(self.names.wan)
        netns.add(self.names.arbitrator)
        netns.plug(self.names.arbitrator, self.names.wan, "wan0", "arb",
                   [f"{ARBITRATOR}/{WAN_CIDR}"])
        config.write(self.arbitrator.config)
        for name, node in self.sites.items():
            ns = node.spec.netns
            netns.add(ns)
            netns.plug(ns, self.names.wan, "wan0", name, [f"{node.spec.address}/{WAN_CIDR}"])
            netns.disable_ipv6(ns)
            # One name per site: booth-site finds its daemon by the configuration's name.
            config.write(self.dir / f"{name}.conf")
            node.prepare(render([Member(name, 1, node.spec.address)], cluster_name=name),
                         secrets.token_bytes(128))
            node.boot()
        self.arbitrator.start()
        self.dns.start()
        for name, node in self.sites.items():
            self._wait_for_pacemaker(node)
            cib = _cib(self.dir / f"{name}.conf", node.spec.address, self.dns)
            if self.claim is not None:
                cib += site_cib.claim(self.claim, name)
            node.exec(["crm", "configure", "load", "update", "-"], input=cib)

    def _wait_for_pacemaker(self, node: Node, timeout: float = 120.0) -> None:
        wait(lambda: (state := node.cluster_state()) is not None and bool(state.dc), timeout,
             f"DC elected at {node.name}", interval=0.5)

    def down(self) -> None:
        for node in self.sites.values():
            node.crash()
        self.arbitrator.stop()
        self.dns.stop()
        for ns in (*(n.spec.netns for n in self.sites.values()), self.names.arbitrator,
                   self.names.wan):
            netns.delete(ns)

    # -- what happens --------------------------------------------------------------------
    def cut(self, site: str, cut: bool = True) -> None:
        """Unplug (or plug back) the site's WAN cable at the switch."""
        netns.set_link(self.names.wan, site, up=not cut)

    def grant(self, site: str) -> None:
        self._booth(site, "grant")

    def _try_grant(self, site: str) -> bool:
        try:
            self.grant(site)
        except NodeError:
            time.sleep(1)
            return False
        return True

    def revoke(self, site: str) -> None:
        self._booth(site, "revoke")

    def _booth(self, site: str, command: str) -> None:
        self.sites[site].exec(["booth", command, "-c", str(self.dir / f"{site}.conf"), TICKET])

    def cleanup(self, site: str) -> None:
        """Forget the site's failures (a name that could not be updated while cut off)."""
        self.sites[site].exec(["crm_resource", "--cleanup"], check=False)

    def boot(self, site: str) -> None:
        """Start a crashed site again, with its cluster configuration as it was."""
        node = self.sites[site]
        node.boot()
        self._wait_for_pacemaker(node)

    def booth_answers(self, site: str) -> bool:
        """The site's boothd (started by Pacemaker) takes client commands."""
        node = self.sites[site]
        return node.running and node.exec(
            ["booth", "list", "-c", str(self.dir / f"{site}.conf")], check=False,
            timeout=20).returncode == 0

    def granted(self, site: str) -> bool:
        """The ticket as the site's own Pacemaker sees it (crm_ticket), False if it cannot
        tell (the node is down)."""
        node = self.sites[site]
        if not node.running:
            return False
        done = node.exec(["crm_ticket", "--ticket", TICKET, "--get-attr", "granted"],
                         check=False, timeout=20)
        return done.returncode == 0 and done.stdout.strip() == "true"

    def name_points_at(self) -> list[str]:
        """What the service's name resolves to, asked of the lab zone's server."""
        return self.dns.resolve(SERVICE_NAME)

    def serving(self, site: str) -> bool:
        """The stand-in service runs at the site (the node's own view)."""
        node = self.sites[site]
        state = node.cluster_state() if node.running else None
        return state is not None and bool(state.where(SERVICE))

    def reset(self, holder: str = "site-a", timeout: float = 60.0) -> None:
        """Every member up and connected, failures forgotten, the ticket at `holder`, its
        service running there and the name pointing at it."""
        for site, node in self.sites.items():
            self.cut(site, cut=False)
            if not node.running:
                self.boot(site)
        self.arbitrator.start()
        for site in self.sites:
            wait(lambda s=site: self.booth_answers(s), timeout, f"booth at {site}",
                 interval=0.1)
            self.cleanup(site)
        for other in self.sites:
            if other != holder and self.granted(other):
                self.revoke(other)
                wait(lambda o=other: not self.serving(o), timeout, f"{other} to stop",
                     interval=0.1)
        # Right after a revoke, a grant may fail ("grant failed!") until every member has
        # heard of the revoke: ask again.
        wait(lambda: self.granted(holder) or self._try_grant(holder), timeout,
             f"the ticket granted to {holder}", interval=0.1)
        wait(lambda: self.serving(holder), timeout, f"{holder} to run the service", interval=0.1)
        wait(lambda: self.name_points_at() == [SITES[holder]], timeout, f"the name at {holder}",
             interval=0.1)


@dataclass
class Timeline:
    """Both sites sampled from a fault on, each asked itself (the cut-off one too): which runs
    the service. `overlaps` counts samples in which both did."""

    rig: TicketLab
    start: float = field(default_factory=time.monotonic)
    samples: list[tuple[float, bool, bool]] = field(default_factory=list)
    overlaps: int = 0

    def sample(self) -> tuple[bool, bool]:
        a, b = self.rig.serving("site-a"), self.rig.serving("site-b")
        self.samples.append((time.monotonic() - self.start, a, b))
        self.overlaps += a and b
        return a, b

    def until(self, wanted: tuple[bool, bool], timeout: float) -> float:
        """Seconds from the fault until a sample shows `wanted`."""
        while self.sample() != wanted:
            if time.monotonic() - self.start > timeout:
                raise TimeoutError(f"not {wanted} after {timeout:.0f} s: {self.samples[-5:]}")
            time.sleep(0.2)
        return self.samples[-1][0]

    def name_moved(self, site: str, timeout: float) -> float:
        """Seconds from the fault until the name resolves to `site`'s address alone (waiting
        at most `timeout` s from now)."""
        end = time.monotonic() + timeout
        while self.rig.name_points_at() != [SITES[site]]:
            if time.monotonic() > end:
                raise TimeoutError(f"the name still at {self.rig.name_points_at()}")
            self.sample()
            time.sleep(0.2)
        return time.monotonic() - self.start

    def hold(self, wanted: tuple[bool, bool], seconds: float) -> bool:
        """True if every sample for `seconds` shows `wanted`."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if self.sample() != wanted:
                return False
            time.sleep(0.2)
        return True
