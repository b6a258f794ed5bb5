"""Floating IPs in the router namespace, as Neutron's L3 agent does it: the floating address
on the external device (so the router answers ARP for it) and DNAT to the fixed IP, with the
matching SNAT so the node's replies and its own connections leave as the floating IP.

The agent runs inside the router namespace (`ip netns exec`), so every command here acts on
the namespace it is run in: no `ip netns exec` per command on the hot path.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import subprocess

from cluster.openstack.dataplane.network import EXTERNAL_DEVICE
from cluster.openstack.topology import Addressing


def rules(mapping: dict[str, str], tenant: Addressing) -> str:
    """The whole nat table for `mapping` (floating IP -> fixed IP) behind the router of
    `tenant`'s region, for iptables-restore: one atomic replace, so there is never a moment
    with half the rules."""
    lines = ["*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
             ":POSTROUTING ACCEPT [0:0]", ":fip-dnat - [0:0]", ":fip-snat - [0:0]",
             "-A PREROUTING -j fip-dnat", "-A OUTPUT -j fip-dnat",
             "-A POSTROUTING -j fip-snat"]
    for floating, fixed in sorted(mapping.items()):
        lines.append(f"-A fip-dnat -d {floating}/32 -j DNAT --to-destination {fixed}")
        lines.append(f"-A fip-snat -s {fixed}/32 -j SNAT --to-source {floating}")
    # Hairpin: a tenant host reaching another one's floating IP. Without this the reply goes
    # straight back on the tenant network from the wrong address; Neutron's L3 agent SNATs
    # such DNATed traffic to the router, and so do we (the lab's workers reach the API so).
    lines.append(f"-A fip-snat -s {tenant.tenant_cidr} -d {tenant.tenant_cidr} -m conntrack "
                 f"--ctstate DNAT -j SNAT --to-source {tenant.tenant_gateway}")
    return "\n".join([*lines, "COMMIT", ""])


def _run(*argv: str, stdin: str | None = None, ok: tuple[int, ...] = (0,)) -> None:
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True)
    if done.returncode not in ok:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip()}")


def apply(mapping: dict[str, str], previous: dict[str, str], tenant: Addressing) -> list[str]:
    """Move from `previous` to `mapping`: addresses first added, then the rules swapped,
    then stale addresses removed — a moved floating IP never stops answering ARP. Returns
    the floating IPs that are new on the device (to announce with gratuitous ARP)."""
    added = sorted(mapping.keys() - previous.keys())
    for floating in added:
        _run("ip", "addr", "replace", f"{floating}/32", "dev", EXTERNAL_DEVICE)
    _run("iptables-restore", stdin=rules(mapping, tenant))
    for floating in previous.keys() - mapping.keys():
        # 2: already gone (a retry after a failure part-way): the state wanted anyway.
        _run("ip", "addr", "del", f"{floating}/32", "dev", EXTERNAL_DEVICE, ok=(0, 2))
    # Connection tracking keeps a flow's NAT binding for its whole life: a client retrying
    # a SYN (or reusing a port) would still reach the old node. Neutron's agent deletes the
    # state of a floating IP it removes; a moved one needs the same.
    for floating in sorted(f for f, fixed in previous.items() if mapping.get(f) != fixed):
        for direction in ("-d", "-q"):  # original destination (inbound), reply dest (outbound)
            _run("conntrack", "-D", direction, floating, ok=(0, 1))  # 1: nothing to delete
    return added


def floating_addresses() -> dict[str, str]:
    """The /32 addresses on the external device now (as a mapping to nothing known): what a
    restarted agent must reconcile rather than assume away."""
    done = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", EXTERNAL_DEVICE],
                          capture_output=True, text=True)
    found = [f.split("/")[0] for line in done.stdout.splitlines()
             for f in line.split() if f.endswith("/32")]
    return dict.fromkeys(found, "")


class Announcer:
    """Gratuitous ARP on the external device (what Neutron's agent sends with `arping -U`):
    a client whose ARP entry for the address failed while it was unused would otherwise wait
    for its next ARP retry (up to a second) before it reaches the new holder."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
        self.sock.bind((EXTERNAL_DEVICE, 0))
        self.mac = self.sock.getsockname()[4]

    def announce(self, address: str) -> None:
        ip = ipaddress.IPv4Address(address).packed
        # Ethernet broadcast; ARP request, sender = target = the address (RFC 5227 announcement)
        frame = (b"\xff" * 6 + self.mac + struct.pack("!H", 0x0806)
                 + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + self.mac + ip + b"\0" * 6 + ip)
        self.sock.send(frame)

    def close(self) -> None:
        self.sock.close()
