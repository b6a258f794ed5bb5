"""The lab: N cluster nodes on one switch, each in its own namespaces, all on this host.

Everything the lab creates is named with its prefix (namespaces `fha-*`) and recorded under
its directory, so `down` removes exactly that, by PID and by name, and nothing else.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from cluster import crm_mon
from cluster.corosync_conf import Member, render
from cluster.lab import netns
from cluster.lab.node import Node, NodeSpec

PREFIX = "fha"
SUBNET = "192.0.2"  # RFC 5737 TEST-NET-1: the nodes' network
SWITCH = f"{PREFIX}-sw"


class Lab:
    def __init__(self, lab_dir: Path, size: int = 3, *, token_ms: int = 1000) -> None:
        self.dir = lab_dir
        self.token_ms = token_ms
        self.nodes = [Node(NodeSpec(f"n{i}", i, f"{SUBNET}.{10 + i}", f"{PREFIX}-n{i}"),
                           lab_dir) for i in range(1, size + 1)]

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    # -- up ------------------------------------------------------------------------------
    def build_network(self) -> None:
        netns.make_switch(SWITCH)
        for node in self.nodes:
            netns.add(node.spec.netns)
            netns.plug(node.spec.netns, SWITCH, "eth0", f"{node.name}-port",
                       [f"{node.spec.address}/24"])

    def boot(self, progress: Callable[[str], None] = lambda _: None) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.build_network()
        conf = render([Member(n.name, n.spec.nodeid, n.spec.address) for n in self.nodes],
                      token_ms=self.token_ms)
        authkey = os.urandom(256)
        for node in self.nodes:
            node.prepare(conf, authkey)
            node.boot()
            progress(f"{node.name} booted (pid {node.pid1}, {node.spec.address})")

    def wait_formed(self, timeout: float = 90.0) -> crm_mon.ClusterState:
        """Until every node is online in a quorate cluster with a DC, seen from each node."""
        deadline = time.monotonic() + timeout
        names = sorted(n.name for n in self.nodes)
        while True:
            states = [self.status(n) for n in self.nodes if n.running]
            if states and all(s is not None and s.quorate and s.dc and s.online() == names
                              for s in states):
                return states[0]
            if time.monotonic() > deadline:
                raise TimeoutError(f"cluster did not form in {timeout:.0f} s: {states}")
            time.sleep(0.5)

    def status(self, node: Node) -> crm_mon.ClusterState | None:
        done = node.exec(["crm_mon", "-1", "--output-as=xml"], check=False, timeout=30)
        if done.returncode != 0 or not done.stdout.strip():
            return None
        return crm_mon.parse(done.stdout)

    # -- down ----------------------------------------------------------------------------
    def down(self) -> None:
        for node in self.nodes:
            node.crash()  # PID 1 of each node: every process of the node goes with it
        for node in self.nodes:
            netns.delete(node.spec.netns)
        netns.delete(SWITCH)
        shutil.rmtree(self.dir / "nodes", ignore_errors=True)
