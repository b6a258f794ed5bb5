"""Floating IPs in the router namespace, as Neutron's L3 agent does it: the floating address
on the external device (so the router answers ARP for it) and DNAT to the fixed IP, with the
matching SNAT so the node's replies and its own connections leave as the floating IP."""

from __future__ import annotations

import subprocess

from cluster.openstack.dataplane.network import EXTERNAL_DEVICE
from cluster.openstack.topology import TENANT_CIDR, TENANT_GATEWAY


def rules(mapping: dict[str, str]) -> str:
    """The whole nat table for `mapping` (floating IP -> fixed IP), for iptables-restore:
    one atomic replace, so there is never a moment with half the rules."""
    lines = ["*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
             ":POSTROUTING ACCEPT [0:0]", ":fip-dnat - [0:0]", ":fip-snat - [0:0]",
             "-A PREROUTING -j fip-dnat", "-A OUTPUT -j fip-dnat",
             "-A POSTROUTING -j fip-snat"]
    for floating, fixed in sorted(mapping.items()):
        lines.append(f"-A fip-dnat -d {floating}/32 -j DNAT --to-destination {fixed}")
        lines.append(f"-A fip-snat -s {fixed}/32 -j SNAT --to-source {floating}")
    # Hairpin: a tenant host reaching another one's floating IP. Without this the reply goes
    # straight back on the tenant network from the wrong address; Neutron's L3 agent SNATs
    # such DNATed traffic to the router, and so do we (workers reach the API this way).
    lines.append(f"-A fip-snat -s {TENANT_CIDR} -d {TENANT_CIDR} -m conntrack --ctstate DNAT "
                 f"-j SNAT --to-source {TENANT_GATEWAY}")
    return "\n".join([*lines, "COMMIT", ""])


def _in(router: str, *argv: str, stdin: str | None = None) -> None:
    done = subprocess.run(["ip", "netns", "exec", router, *argv], input=stdin,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} in {router}: {done.stderr.strip()}")


def apply(router: str, mapping: dict[str, str], previous: dict[str, str]) -> None:
    """Move from `previous` to `mapping`: addresses first added, then the rules swapped,
    then stale addresses removed — a moved floating IP never stops answering ARP."""
    for floating in mapping.keys() - previous.keys():
        _in(router, "ip", "addr", "replace", f"{floating}/32", "dev", EXTERNAL_DEVICE)
    _in(router, "iptables-restore", stdin=rules(mapping))
    for floating in previous.keys() - mapping.keys():
        _in(router, "ip", "addr", "del", f"{floating}/32", "dev", EXTERNAL_DEVICE)


def floating_addresses(router: str) -> dict[str, str]:
    """The /32 addresses on the external device now (as a mapping to nothing known): what a
    restarted agent must reconcile rather than assume away."""
    done = subprocess.run(["ip", "-n", router, "-4", "-o", "addr", "show", "dev",
                           EXTERNAL_DEVICE], capture_output=True, text=True)
    found = [f.split("/")[0] for line in done.stdout.splitlines()
             for f in line.split() if f.endswith("/32")]
    return dict.fromkeys(found, "")
