"""Failovers as this exporter sees them in successive crm_mon snapshots.

A primitive (not a clone instance) that was healthy on node A and is next seen healthy on
node B has relocated. The cause is read from the same snapshot: A is gone (offline or
unclean) → node_lost; A still up but the resource failed there (fail count or a recorded
failure) → resource_failed; otherwise an operator's move → moved.

The duration is from the last snapshot that saw it healthy on A to the first that sees it
healthy on B: an upper bound whose resolution is the interval between snapshots (the scrape
interval). Only quorate views count: a partition without quorum stops its resources, and its
view of where things run is not the cluster's.

Every node's exporter counts the same failover; query with max by (resource).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from resource_agents.metrics.crm_mon import ClusterState

# Failover durations (s): the lab fails over in ~4 s; the slow-failover alert's threshold
# (30 s by default) must be one of these bounds.
CAUSES = ("node_lost", "resource_failed", "moved")
BUCKETS = (1.0, 2.0, 3.0, 5.0, 10.0, 15.0, 20.0, 30.0, 60.0, 120.0, 300.0)


@dataclass
class Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    count: int = 0
    sum: float = 0.0
    last: float = 0.0

    def observe(self, value: float) -> None:
        for i, bound in enumerate(BUCKETS):
            if value <= bound:
                self.counts[i] += 1
        self.count += 1
        self.sum += value
        self.last = value


@dataclass
class Failover:
    resource: str
    cause: str
    source: str
    target: str
    seconds: float
    at: float


class FailoverTracker:
    def __init__(self) -> None:
        self.where: dict[str, tuple[str, float]] = {}  # resource -> (healthy on, seen at)
        self.counts: dict[tuple[str, str], int] = {}  # (resource, cause) -> failovers
        self.histograms: dict[str, Histogram] = {}  # resource -> durations (any cause)
        self.recent: list[Failover] = []  # for logs and tests; bounded

    def observe(self, state: ClusterState, now: float) -> list[Failover]:
        if not state.quorate:
            return []
        found = []
        for r in state.resources:
            if r.clone is None:  # zero series from the start: increase() misses a first 1
                self.histograms.setdefault(r.id, Histogram())
                for cause in CAUSES:
                    self.counts.setdefault((r.id, cause), 0)
        for resource, node in _healthy_locations(state).items():
            previous = self.where.get(resource)
            self.where[resource] = (node, now)
            if previous is None or previous[0] == node:
                continue
            source, seen_at = previous
            event = Failover(resource, _cause(state, resource, source), source, node,
                             now - seen_at, now)
            self.counts[(resource, event.cause)] = self.counts.get((resource, event.cause), 0) + 1
            self.histograms.setdefault(resource, Histogram()).observe(event.seconds)
            found.append(event)
        self.recent = (self.recent + found)[-50:]
        return found


def _healthy_locations(state: ClusterState) -> dict[str, str]:
    """Primitive → the one node where it runs healthily (clone instances excluded)."""
    located: dict[str, list[str]] = {}
    for r in state.resources:
        # failed=true stays after a recovery in place (until cleanup): where it runs counts
        if r.clone is not None or not r.active:
            continue
        up = [n for n in r.nodes if (s := state.nodes.get(n)) and s.online and not s.unclean]
        located.setdefault(r.id, []).extend(up)
    return {rid: nodes[0] for rid, nodes in located.items() if len(nodes) == 1}


def _cause(state: ClusterState, resource: str, source: str) -> str:
    node = state.nodes.get(source)
    if node is None or not node.online or node.unclean:
        return "node_lost"
    failed_there = any(h.node == source and h.resource == resource and h.fail_count > 0
                       for h in state.history)
    failed_there = failed_there or any(
        f.get("node") == source and f.get("op_key", "").startswith(f"{resource}_")
        for f in state.failures)
    return "resource_failed" if failed_there else "moved"
