"""A site's resources for the ticket, in crm shell syntax: booth (with its own address on the
WAN where the site has several nodes), the ticket claimer beside it, the service's name
(Debian's ocf:heartbeat:dnsupdate) and the rsc_ticket constraints. The ticket rig
(ticket_lab.py) and the two-site lab (sites.py) load the same text."""

from __future__ import annotations

from pathlib import Path

from cluster.geo.booth import TICKET
from cluster.geo.dns import SERVICE_NAME, TTL_SECONDS, DnsServer

# Every operation of the name is bounded well inside the ticket's acquire-after: Pacemaker
# acts on a lost ticket only once the actions in flight in the current transition are done
# (a recurring monitor's first run is one of them), and the stock agent's dig waits 3 x 5 s
# for an unreachable server. With the defaults (30 s), a site cut off just after starting
# the name stopped its service 15 s after the cut, when the other site already served.
NAME_OP_TIMEOUT_S = 3
# loss-policy=stop: a site that loses the ticket (expired: cut off; revoked: a switchover)
# stops what it guards and keeps its nodes. `fence` would power off a site that is only cut
# off from the WAN, and `freeze` would keep a cut-off site serving beside the new holder.
LOSS_POLICY = "stop"


def booth(config: Path, address: str | None = None, nic: str = "eth1",
          prefix_len: int = 25) -> str:
    """ocf:pacemaker:booth-site for `config`. With `address`: booth's own IP on the WAN first
    (ocf:heartbeat:IPaddr2, grouped, as booth's documentation lays a site out), so that the
    daemon, which finds its role by a local address, follows it from node to node."""
    site = f"""\
primitive booth ocf:pacemaker:booth-site params config={config} \\
    op monitor interval=5s timeout=20s
"""
    if address is None:
        return site
    return f"""\
primitive booth-ip ocf:heartbeat:IPaddr2 params ip={address} nic={nic} \\
    cidr_netmask={prefix_len} op monitor interval=10s timeout=20s
{site}group booth-site booth-ip booth
"""


def claim(binfile: Path, options: str, errlog: str | None = None) -> str:
    """The site's ticket claimer (fractal-ticket-claim, run by ocf:heartbeat:anything):
    beside boothd, started after it, never guarded by the ticket it asks for."""
    log = f" errlogfile={errlog}" if errlog else ""
    return f"""\
primitive ticket-claim ocf:heartbeat:anything params binfile={binfile} \\
    cmdline_options="{options}"{log} op monitor interval=10s
colocation claim-with-booth inf: ticket-claim booth
order booth-then-claim Mandatory: booth ticket-claim
"""


def name(address: str, dns: DnsServer, follows: str) -> str:
    """The service's name pointed at `address` (this site's), with `follows` (colocated,
    started after it) without being able to hold up its stop."""
    t = NAME_OP_TIMEOUT_S
    return f"""\
primitive service-name ocf:heartbeat:dnsupdate params hostname={SERVICE_NAME} ip={address} \\
    ttl={TTL_SECONDS} server={dns.address} serverport={dns.port} keyfile={dns.key_file} \\
    op monitor interval=5s timeout={t}s op start timeout={t}s op stop timeout={t}s
colocation name-with-service inf: service-name {follows}
order service-then-name Mandatory: {follows} service-name symmetrical=false
"""


def tickets(*resources: str) -> str:
    """Each resource runs only while the site holds the ticket."""
    return "".join(f"rsc_ticket {r}-needs-ticket {TICKET}: {r} loss-policy={LOSS_POLICY}\n"
                   for r in resources)
