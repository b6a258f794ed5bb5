"""The heal between fault tests runs `crm_resource --cleanup` only when something failed: a
cleanup re-probes every resource on every node, which costs minutes on the emulated VMs."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cluster import operations
from resource_agents.metrics import crm_mon

DATA = Path(__file__).resolve().parent.parent / "metrics" / "data"


def captured(name: str) -> crm_mon.ClusterState:
    return crm_mon.parse((DATA / f"{name}.crm_mon.xml").read_bytes())


@dataclass
class Node:
    name: str
    running: bool = True
    commands: list[list[str]] = field(default_factory=list)

    def exec(self, argv: list[str], check: bool = True) -> subprocess.CompletedProcess:
        self.commands.append(argv)
        return subprocess.CompletedProcess(argv, 0, "", "")


@dataclass
class Cluster:
    state: crm_mon.ClusterState | None
    nodes: list[Node] = field(default_factory=lambda: [Node("n1", running=False), Node("n2")])
    settled: int = 0

    def status(self) -> crm_mon.ClusterState | None:
        return self.state

    def settle(self, timeout: float = 0) -> None:
        self.settled += 1


@pytest.mark.parametrize("capture", ["all_online", "no_quorum", "booth_holder"])
def test_nothing_failed_no_cleanup(capture: str) -> None:
    cluster = Cluster(captured(capture))
    operations.clear_failures(cluster)  # type: ignore[arg-type]
    assert cluster.settled == 1
    assert not any(n.commands for n in cluster.nodes)


@pytest.mark.parametrize("capture", ["failed_action", "one_node_down", "move_constraint"])
def test_a_failure_or_a_fail_count_is_cleaned_up_on_a_running_node(capture: str) -> None:
    cluster = Cluster(captured(capture))
    operations.clear_failures(cluster)  # type: ignore[arg-type]
    assert cluster.nodes[1].commands == [["crm_resource", "--cleanup"]]
    assert not cluster.nodes[0].commands
    assert cluster.settled == 2


def test_an_unreadable_cluster_is_cleaned_up() -> None:
    cluster = Cluster(None)
    operations.clear_failures(cluster)  # type: ignore[arg-type]
    assert cluster.nodes[1].commands == [["crm_resource", "--cleanup"]]


def test_a_fail_count_without_a_listed_failure_counts() -> None:
    state = captured("move_constraint")
    assert state.history and any(h.fail_count for h in state.history)
    assert operations.needs_cleanup(crm_mon.ClusterState(
        quorate=True, dc="n1", nodes=state.nodes, history=state.history))
