"""Hosts on the router's networks for proving the data plane: a node that answers TCP with
its name, and a client outside that probes the floating IP. Used by tests and benchmarks;
every process is ours by PID and every namespace goes with `RouterNetwork.unplug_host`."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from cluster.lab.probes import Probes
from cluster.openstack.dataplane.network import RouterNetwork
from cluster.openstack.topology import Topology

PORT = 8080
LISTENER = """import socket, sys
server = socket.create_server(("0.0.0.0", int(sys.argv[2])))
print("ready", flush=True)
while True:
    conn, _ = server.accept()
    conn.sendall(sys.argv[1].encode())
    conn.close()
"""
# Reads "ADDRESS PORT TIMEOUT" lines; answers with what the far end said, or "-" (nothing).
PROBER = """import socket, sys
for line in sys.stdin:
    address, port, timeout = line.split()
    try:
        with socket.create_connection((address, int(port)), timeout=float(timeout)) as conn:
            conn.settimeout(float(timeout))
            answer = conn.recv(64).decode() or "-"
    except OSError:
        answer = "-"
    print(answer, flush=True)
"""


class _InNamespace:
    def __init__(self, netns: str, script: str, *args: str) -> None:
        self.proc = subprocess.Popen(["ip", "netns", "exec", netns, sys.executable, "-c",
                                      script, *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def stop(self) -> None:
        self.proc.kill()  # `ip netns exec` execs: this PID is the Python process itself
        self.proc.wait()


class Node(_InNamespace):
    """A host on the tenant network at `address` (with `mac`, its port's, as a VM's NIC has),
    answering TCP on PORT with `name`."""

    def __init__(self, net: RouterNetwork, name: str, address: str,
                 mac: str | None = None) -> None:
        self.net, self.name = net, name
        tenant = net.addressing
        netns = net.plug_host(name, external=False, cidr=f"{address}/{tenant.tenant_prefix_len}",
                              gateway=tenant.tenant_gateway, mac=mac)
        super().__init__(netns, LISTENER, name, str(PORT))
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "ready"

    def remove(self) -> None:
        self.stop()
        self.net.unplug_host(self.name)


class Watcher(Probes):
    """Runs in a client's namespace, probing `address`:PORT every `interval` s into `log`."""

    def __init__(self, client: Client, address: str, log: str, interval: float = 0.005,
                 timeout: float = 0.5) -> None:
        super().__init__(client.net.host(client.name), address, PORT, log, interval=interval,
                         timeout=timeout)


class Client(_InNamespace):
    """A host on the external network that connects to addresses and reports who answered."""

    def __init__(self, net: RouterNetwork, name: str = "client") -> None:
        """At the region's client address (topology.Addressing.client)."""
        self.net, self.name = net, name
        super().__init__(net.plug_host(name, external=True, cidr=net.addressing.client_cidr,
                                       gateway=net.addressing.external_gateway), PROBER)

    def ask(self, address: str, timeout: float = 0.5) -> str | None:
        """Who answers a TCP connection to `address`:PORT (None: nobody within timeout)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{address} {PORT} {timeout}\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        return None if answer == "-" else answer

    def wait_for(self, address: str, expected: str | None, timeout: float,
                 attempt: float = 0.2) -> float:
        """Seconds until `expected` answers at `address`; raises TimeoutError."""
        started = time.monotonic()
        while self.ask(address, attempt) != expected:
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"{expected or 'nobody'} did not answer at {address}")
        return time.monotonic() - started

    def remove(self) -> None:
        self.stop()
        self.net.unplug_host(self.name)


@contextmanager
def nodes_and_client(net: RouterNetwork, topo: Topology,
                     names: Sequence[str]) -> Iterator[Client]:
    """Nodes `names` at their ports' addresses and MACs, and a client outside; those made are
    removed after (by PID and namespace), whatever failed after them."""
    made: list[Node | Client] = []
    try:
        for name in names:
            made.append(Node(net, name, topo.addresses[name], topo.macs[name]))
        client = Client(net)
        made.append(client)
        yield client
    finally:
        for host in made:
            host.remove()
