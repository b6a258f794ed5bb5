"""The lab: N cluster nodes and a client on one switch, each in its own namespaces, one host.

Everything the lab creates is named with its prefix (namespaces `fha-*` for the operator's lab;
tests pick a prefix of their own, so a test run and a lab can share a host) and recorded under
its directory, so `down` removes exactly that, by PID and by name, and nothing else. The nodes
see the ocf:fractal agents installed in the lab's directory (an overlay on their own
/usr/lib/ocf/resource.d): the host's OCF root is left alone.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from cluster import crm_mon
from cluster.corosync_conf import Member, render
from cluster.crm_config import ServiceConfig
from cluster.lab import netns
from cluster.lab.node import Node, NodeSpec

PREFIX = "fha"
SUBNET = "192.0.2"  # RFC 5737 TEST-NET-1: the nodes' network
CLIENT_ADDRESS = f"{SUBNET}.200"
SERVICE_ADDRESS = f"{SUBNET}.100"  # where clients and workers reach the API
SHARED_DATA = "/srv/fractal"  # inside every node: the lab's stand-in for shared storage


class Lab:
    def __init__(self, lab_dir: Path, size: int = 3, *, token_ms: int = 1000,
                 prefix: str = PREFIX) -> None:
        self.dir = lab_dir
        self.token_ms = token_ms
        self.prefix = prefix
        self.switch = f"{prefix}-sw"
        self.client_netns = f"{prefix}-client"
        self.nodes = [Node(NodeSpec(f"n{i}", i, f"{SUBNET}.{10 + i}", f"{prefix}-n{i}"),
                           lab_dir) for i in range(1, size + 1)]
        self.service = ServiceConfig(SERVICE_ADDRESS, data_dir=SHARED_DATA)

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(f"no node {name!r} (the lab has {', '.join(n.name for n in self.nodes)})")

    # -- up ------------------------------------------------------------------------------
    @property
    def ocf_providers(self) -> Path:
        return self.dir / "ocf" / "resource.d"

    def namespaces(self) -> list[str]:
        return [n.spec.netns for n in self.nodes] + [self.client_netns, self.switch]

    def build_network(self) -> None:
        netns.make_switch(self.switch)
        for node in self.nodes:
            netns.add(node.spec.netns)
            netns.plug(node.spec.netns, self.switch, "eth0", f"{node.name}-port",
                       [f"{node.spec.address}/24"])
        netns.add(self.client_netns)
        netns.plug(self.client_netns, self.switch, "eth0", "client-port",
                   [f"{CLIENT_ADDRESS}/24"])

    def boot_node(self, node: Node) -> None:
        node.boot(shared_dir=self.dir / "shared", ocf_providers=self.ocf_providers)

    def boot(self, progress: Callable[[str], None] = lambda _: None) -> None:
        from resource_agents import install

        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "shared").mkdir(exist_ok=True)
        install.install(self.dir / "ocf")
        self.build_network()
        conf = render([Member(n.name, n.spec.nodeid, n.spec.address) for n in self.nodes],
                      token_ms=self.token_ms)
        authkey = os.urandom(256)
        for node in self.nodes:
            node.prepare(conf, authkey)
            self.boot_node(node)
            progress(f"{node.name} booted (pid {node.pid1}, {node.spec.address})")

    def configure(self) -> None:
        """Load the Fractal service's configuration through one node's crm shell."""
        path = self.dir / "fractal.crm"
        path.write_text(self.service.render())
        self.nodes[0].exec(["crm", "configure", "load", "update", str(path)])

    def wait_formed(self, timeout: float = 90.0) -> crm_mon.ClusterState:
        """Until every running node is online in a quorate cluster with a DC, seen from each."""
        deadline = time.monotonic() + timeout
        running = [n for n in self.nodes if n.running]
        names = sorted(n.name for n in running)
        while True:
            states = [self.status(n) for n in running]
            if states and all(s is not None and s.quorate and s.dc and s.online() == names
                              for s in states):
                return states[0]
            if time.monotonic() > deadline:
                raise TimeoutError(f"cluster did not form in {timeout:.0f} s: {states}")
            time.sleep(0.5)

    def status(self, node: Node | None = None) -> crm_mon.ClusterState | None:
        """The cluster as `node` sees it; by default as the quorate partition sees it (an
        isolated node's own view is not the cluster's truth)."""
        if node is None:
            views = (self.status(n) for n in self.nodes if n.running)
            fallback = None
            for view in views:
                if view is not None and view.quorate:
                    return view
                fallback = fallback or view
            return fallback
        return node.cluster_state()

    # -- the client's view ---------------------------------------------------------------
    def client(self, method: str, path: str, body: dict | None = None,
               timeout: float = 3.0) -> dict | None:
        """Call the API at the service address from the client namespace; None if no answer."""
        argv = ["ip", "netns", "exec", self.client_netns, "curl", "-fsS", "-m", str(timeout),
                "-X", method, f"http://{SERVICE_ADDRESS}:{self.service.api_port}{path}"]
        if body is not None:
            argv += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 5)
        if done.returncode != 0:
            return None
        return json.loads(done.stdout) if done.stdout.strip() else {}

    # -- faults --------------------------------------------------------------------------
    def isolate(self, name: str, cut: bool = True) -> None:
        netns.set_link(self.switch, f"{name}-port", up=not cut)

    # -- down ----------------------------------------------------------------------------
    def down(self) -> None:
        for node in self.nodes:
            node.crash()  # PID 1 of each node: every process of the node goes with it
        for name in self.namespaces():
            netns.delete(name)
        for created in ("nodes", "shared", "ocf"):
            shutil.rmtree(self.dir / created, ignore_errors=True)
        (self.dir / "fractal.crm").unlink(missing_ok=True)
