"""The router's namespace and the two L2 segments it joins (each a bridge in a switch
namespace of its own — see cluster.lab.netns for why not in the root namespace).

Names carry the layout's prefix, so `destroy` removes exactly what `create` made. Nothing in
the root namespace is touched: no addresses, firewall rules or sysctls.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cluster.lab import netns
from cluster.openstack.layout import REGIONS, Layout
from cluster.openstack.topology import ADDRESSING, Addressing

EXTERNAL_DEVICE = "qg"  # the router's leg on the external network (Neutron's qg-… device)
TENANT_DEVICE = "qr"


@dataclass(frozen=True)
class RouterNetwork:
    prefix: str
    region: str = REGIONS[0]  # whose addresses (topology.ADDRESSING): the layout's plan

    @classmethod
    def of(cls, layout: Layout) -> RouterNetwork:
        """The layout's region's router. RegionTwo's names are "<prefix>-2-…": never another
        lab's prefix, and inside RegionOne's, whose `destroy` (the cloud's `down`) takes them
        too. Raises ValueError where a device name would pass Linux's 15 bytes."""
        index = REGIONS.index(layout.region)
        net = cls(layout.netns_prefix + (f"-{index + 1}" if index else ""), layout.plan)
        longest = f"{net.prefix}-r-qg"
        if len(longest) > 15:
            raise ValueError(f"netns prefix {layout.netns_prefix!r} too long for {layout.region}"
                             f"'s router devices ({longest!r} is over 15 bytes)")
        return net

    @property
    def addressing(self) -> Addressing:
        return ADDRESSING[self.region]

    @property
    def router(self) -> str:
        return f"{self.prefix}-router"

    @property
    def external_switch(self) -> str:
        return f"{self.prefix}-ext"

    @property
    def tenant_switch(self) -> str:
        return f"{self.prefix}-int"

    def host(self, name: str) -> str:
        return f"{self.prefix}-h-{name}"

    def create(self, gateway_cidr: str) -> None:
        """Idempotent. `gateway_cidr`: the router's external address (Neutron's gateway port)."""
        netns.make_switch(self.external_switch)
        netns.make_switch(self.tenant_switch)
        netns.add(self.router)
        netns.plug(self.router, self.external_switch, EXTERNAL_DEVICE, f"{self.prefix}-r-qg",
                   [gateway_cidr])
        tenant = self.addressing
        netns.plug(self.router, self.tenant_switch, TENANT_DEVICE, f"{self.prefix}-r-qr",
                   [f"{tenant.tenant_gateway}/{tenant.tenant_prefix_len}"])
        # Forwarding inside the router namespace only (a per-namespace sysctl).
        netns.run(["ip", "netns", "exec", self.router, "sysctl", "-qw",
                   "net.ipv4.ip_forward=1"])

    def plug_host(self, name: str, *, external: bool, cidr: str, gateway: str,
                  mac: str | None = None) -> str:
        """A host (namespace) on one of the router's networks; returns its namespace name.

        Its MAC is `mac` (a node's: its Neutron port's) or one derived from the name: a host
        made again keeps its MAC, so the router's ARP cache never points at a vanished one
        (a stale entry blackholes the host for up to a minute)."""
        host = self.host(name)
        netns.add(host)
        switch = self.external_switch if external else self.tenant_switch
        netns.plug(host, switch, "eth0", f"{self.prefix}-{name}"[:15], [cidr])
        digest = hashlib.sha256(f"{self.prefix}/{name}".encode()).digest()
        mac = mac or ":".join(f"{b:02x}" for b in (0x02, *digest[:5]))  # locally administered
        netns.ip("link", "set", "eth0", "address", mac, netns=host)
        netns.ip("route", "replace", "default", "via", gateway, netns=host)
        return host

    def unplug_host(self, name: str) -> None:
        netns.delete(self.host(name))

    def destroy(self) -> None:
        """Every namespace with our prefix (hosts included); their veths go with them."""
        for name in sorted(netns.existing()):
            if name.startswith(f"{self.prefix}-"):
                netns.delete(name)
