"""A one-node Pacemaker cluster in namespaces of its own, to drive resource agents for real.

Its network namespace is named after this process and a random tag, not the lab's fixed
`fha-*` names: it can run while a three-node lab (or another test session) runs on the same
host, and taking it down removes only what it made. The node has no switch: one end of a veth
pair carries its ring address, which is all corosync needs to form a cluster of one.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from pathlib import Path

from cluster.corosync_conf import Member, render
from cluster.lab import netns
from cluster.lab.node import Node, NodeSpec
from resource_agents.metrics import crm_mon


class SingleNodeCluster:
    def __init__(self, directory: Path, *, ocf_providers: Path | None = None,
                 name: str = "n1", address: str = "192.0.2.11") -> None:
        self.dir = directory
        self.ocf_providers = ocf_providers  # agents the node sees (see ocf_view)
        self.address = address
        self.netns = f"fha-single-{os.getpid()}-{secrets.token_hex(3)}"
        self.node = Node(NodeSpec(name, 1, address, self.netns), directory)

    def up(self, timeout: float = 90.0) -> crm_mon.ClusterState:
        """Boot the node and return once it is online, quorate and its own DC."""
        if self.netns in netns.existing():
            raise netns.NetError(f"namespace {self.netns} already exists")
        netns.add(self.netns)
        # Both ends of a veth pair stay in the node (no `dummy` module on every kernel).
        netns.ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth0-peer",
                 netns=self.netns)
        netns.ip("link", "set", "eth0-peer", "up", netns=self.netns)
        netns.ip("addr", "add", f"{self.address}/24", "dev", "eth0", netns=self.netns)
        netns.ip("link", "set", "eth0", "up", netns=self.netns)
        member = Member(self.node.name, self.node.spec.nodeid, self.address)
        self.node.prepare(render([member]), os.urandom(256))
        self.node.boot(ocf_providers=self.ocf_providers)
        deadline = time.monotonic() + timeout
        while True:
            state = self.node.cluster_state()
            if state and state.quorate and state.dc == self.node.name \
                    and state.online() == [self.node.name]:
                return state
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.node.name} did not form a cluster in {timeout:.0f} s:"
                                   f" {state}; {self.node.log_tail()}")
            time.sleep(0.5)

    def down(self) -> None:
        self.node.crash()  # the node's PID 1: every process of the node goes with it
        netns.delete(self.netns)
        shutil.rmtree(self.node.dir, ignore_errors=True)

    def __enter__(self) -> SingleNodeCluster:
        try:
            self.up()
        except BaseException:
            self.down()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()
