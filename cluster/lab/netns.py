"""Network namespaces, veth pairs and a bridge that lives in its own (switch) namespace.

The bridge must not live in the root namespace: there bridge-netfilter is active and drops
frames forwarded between the veths. Every name created here carries the lab's prefix, so
`down` removes exactly what the lab made and nothing else.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence


class NetError(RuntimeError):
    pass


def run(argv: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(list(argv), capture_output=True, text=True)
    if check and done.returncode != 0:
        raise NetError(f"{' '.join(argv)}: {done.stderr.strip() or done.returncode}")
    return done


def ip(*args: str, netns: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    prefix = ["ip", "-n", netns] if netns else ["ip"]
    return run([*prefix, *args], check=check)


def existing() -> set[str]:
    out = run(["ip", "netns", "list"]).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def add(name: str) -> None:
    if name not in existing():
        run(["ip", "netns", "add", name])
    ip("link", "set", "lo", "up", netns=name)


def delete(name: str) -> None:
    if name in existing():
        run(["ip", "netns", "delete", name])


def make_switch(netns: str, bridge: str = "br0") -> None:
    add(netns)
    if ip("link", "show", bridge, netns=netns, check=False).returncode != 0:
        ip("link", "add", bridge, "type", "bridge", netns=netns)
    ip("link", "set", bridge, "up", netns=netns)


def plug(host_netns: str, switch_netns: str, ifname: str, port: str, cidrs: Sequence[str],
         bridge: str = "br0") -> None:
    """Connect `host_netns` to the switch: `ifname` inside the host, `port` on the bridge."""
    if ip("link", "show", ifname, netns=host_netns, check=False).returncode == 0:
        return
    # Create the pair inside the switch namespace, then move one end to the host.
    ip("link", "add", port, "type", "veth", "peer", "name", ifname, netns=switch_netns)
    ip("link", "set", ifname, "netns", host_netns, netns=switch_netns)
    ip("link", "set", port, "master", bridge, "up", netns=switch_netns)
    for cidr in cidrs:
        ip("addr", "add", cidr, "dev", ifname, netns=host_netns)
    ip("link", "set", ifname, "up", netns=host_netns)


def set_link(switch_netns: str, port: str, up: bool) -> None:
    """Cut or restore a host's cable at the switch side (isolation without touching the host)."""
    ip("link", "set", port, "up" if up else "down", netns=switch_netns)


def disable_ipv6(netns: str) -> None:
    """IPv6 off inside `netns`: booth 1.0 blocks forever on this kernel while it is on
    (fixed upstream in booth 1.2, not in Debian 12)."""
    run(["ip", "netns", "exec", netns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
         "net.ipv6.conf.default.disable_ipv6=1", "net.ipv6.conf.lo.disable_ipv6=1"])
