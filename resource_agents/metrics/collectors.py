"""From a snapshot (and the agents' records) to metric families.

Facts ha_cluster_exporter also reports keep its names and labels (docs/observability.md has
the mapping), so its dashboards and alerts work unchanged; what is ours is `fractal_ha_*`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
    SummaryMetricFamily,
    UnknownMetricFamily,
)

from resource_agents.metrics import record
from resource_agents.metrics.cib import Location, TicketLease
from resource_agents.metrics.corosync import Quorum
from resource_agents.metrics.crm_mon import ClusterState
from resource_agents.metrics.failovers import BUCKETS, FailoverTracker
from resource_agents.metrics.source import Snapshot, Source

NODE_STATUSES = ("online", "standby", "standby_onfail", "maintenance", "pending", "unclean",
                 "shutdown", "expected_up", "dc")
RESOURCE_STATUSES = ("active", "orphaned", "blocked", "failed", "failure_ignored")


def _flag(value: bool) -> float:
    return 1.0 if value else 0.0


# -- pacemaker (crm_mon + cibadmin) ---------------------------------------------------------
def pacemaker(state: ClusterState, constraints: list[Location] | None) -> Iterator[Metric]:
    nodes = GaugeMetricFamily(
        "ha_cluster_pacemaker_nodes", "The status of each node in the cluster; 1 means the "
        "node is in that status, 0 otherwise", labels=["node", "type", "status"])
    for n in state.nodes.values():
        flags = (n.online, n.standby, n.standby_onfail, n.maintenance, n.pending, n.unclean,
                 n.shutdown, n.expected_up, n.is_dc)
        for status, flag in zip(NODE_STATUSES, flags, strict=True):
            nodes.add_metric([n.name, n.type, status], _flag(flag))
    yield nodes

    attrs = GaugeMetricFamily("ha_cluster_pacemaker_node_attributes",
                              "Metadata attributes of each node; value is always 1",
                              labels=["node", "name", "value"])
    for node, values in state.node_attributes.items():
        for name, value in values.items():
            attrs.add_metric([node, name, value], 1.0)
    yield attrs

    resources = GaugeMetricFamily(
        "ha_cluster_pacemaker_resources", "The status of each resource in the cluster; 1 means "
        "the resource is in that status, 0 otherwise",
        labels=["node", "resource", "role", "managed", "status", "agent", "group", "clone"])
    seen: set[tuple[str, ...]] = set()  # stopped clone instances look alike: report once
    for r in state.resources:
        flags = (r.active, r.orphaned, r.blocked, r.failed, r.failure_ignored)
        for node in r.nodes or ("",):
            for status, flag in zip(RESOURCE_STATUSES, flags, strict=True):
                labels = (node, r.id, r.role.lower(), str(r.managed).lower(), status, r.agent,
                          r.group or "", r.clone or "")
                if labels not in seen:
                    seen.add(labels)
                    resources.add_metric(list(labels), _flag(flag))
    yield resources

    yield GaugeMetricFamily("ha_cluster_pacemaker_stonith_enabled",
                            "Whether or not stonith is enabled", value=_flag(state.stonith_enabled))
    yield GaugeMetricFamily("ha_cluster_pacemaker_maintenance_mode_enabled",
                            "Whether or not cluster wide maintenance-mode is enabled",
                            value=_flag(state.maintenance_mode))

    # Untyped, not gauge: the name is ha_cluster_exporter's, and promtool's lint reserves the
    # _count suffix for histograms and summaries except on untyped metrics.
    fails = UnknownMetricFamily("ha_cluster_pacemaker_fail_count",
                                "The Fail count number per node and resource id",
                                labels=["node", "resource"])
    thresholds = GaugeMetricFamily("ha_cluster_pacemaker_migration_threshold",
                                   "The migration_threshold number per node and resource id",
                                   labels=["node", "resource"])
    for h in state.history:
        fails.add_metric([h.node, h.resource], h.fail_count)
        thresholds.add_metric([h.node, h.resource], h.migration_threshold)
    yield fails
    yield thresholds

    if state.last_change is not None:
        # A gauge here (ha_cluster_exporter: a counter without _total): it is a timestamp.
        yield GaugeMetricFamily("ha_cluster_pacemaker_config_last_change",
                                "The timestamp of the last change of the cluster configuration",
                                value=state.last_change)

    if constraints is not None:
        locations = GaugeMetricFamily(
            "ha_cluster_pacemaker_location_constraints",
            "Resource location constraints. The value indicates the score.",
            labels=["constraint", "node", "resource", "role"])
        for c in constraints:
            locations.add_metric([c.id, c.node, c.resource, c.role.lower()], c.score)
        yield locations

    fencing = GaugeMetricFamily(
        "fractal_ha_pacemaker_fencing_events", "Fencing actions in the cluster's fence history",
        labels=["target", "action", "status"])
    last = GaugeMetricFamily(
        "fractal_ha_pacemaker_fencing_last_timestamp_seconds",
        "When the last fencing action of that kind completed", labels=["target", "action",
                                                                       "status"])
    counts: dict[tuple[str, str, str], int] = {}
    latest: dict[tuple[str, str, str], float] = {}
    for e in state.fence_events:
        key = (e.target, e.action, e.status)
        counts[key] = counts.get(key, 0) + 1
        if e.completed is not None:
            latest[key] = max(latest.get(key, 0.0), e.completed)
    for key, n in counts.items():
        fencing.add_metric(list(key), n)
    for key, t in latest.items():
        last.add_metric(list(key), t)
    yield fencing
    yield last


def tickets(state: ClusterState, leases: list[TicketLease] | None) -> Iterator[Metric]:
    """Multi-site tickets as this site sees them: granted here or not, standby, and booth's
    lease. Label each site's scrape targets with `site` to compare sites (alerts.yml)."""
    if not state.tickets:
        return
    granted = GaugeMetricFamily("fractal_ha_ticket_granted", "Whether this site's cluster "
                                "holds the ticket (booth granted it here)", labels=["ticket"])
    standby = GaugeMetricFamily("fractal_ha_ticket_standby", "Whether the ticket is in standby "
                                "here (its resources stopped while granted)", labels=["ticket"])
    since = GaugeMetricFamily("fractal_ha_ticket_last_granted_timestamp_seconds",
                              "When the ticket was last granted to this site", labels=["ticket"])
    for t in state.tickets:
        granted.add_metric([t.id], _flag(t.granted))
        standby.add_metric([t.id], _flag(t.standby))
        if t.last_granted is not None:
            since.add_metric([t.id], t.last_granted)
    yield from (granted, standby, since)
    expires = GaugeMetricFamily(
        "fractal_ha_ticket_expires_timestamp_seconds", "When booth's lease on the ticket ends "
        "unless its holder renews it (as this site last heard)", labels=["ticket"])
    for lease in leases or ():
        if lease.expires is not None:
            expires.add_metric([lease.ticket], lease.expires)
    yield expires


def failovers(tracker: FailoverTracker) -> Iterator[Metric]:
    total = CounterMetricFamily(
        "fractal_ha_failovers", "Primitives seen healthy on another node than before, by "
        "cause (node_lost, resource_failed, moved); every node counts: use max by (resource)",
        labels=["resource", "cause"])
    durations = HistogramMetricFamily(
        "fractal_ha_failover_duration_seconds", "From the last snapshot with the resource "
        "healthy on its old node to the first with it healthy on the new one (upper bound)",
        labels=["resource"])
    for (resource, cause), n in sorted(tracker.counts.items()):
        total.add_metric([resource, cause], n)
    for resource, h in sorted(tracker.histograms.items()):
        buckets = [(repr(b), c) for b, c in zip(BUCKETS, h.counts, strict=True)]
        durations.add_metric([resource], [*buckets, ("+Inf", h.count)], h.sum)
    yield total
    yield durations


# -- corosync ---------------------------------------------------------------------------
def corosync(q: Quorum) -> Iterator[Metric]:
    yield GaugeMetricFamily("ha_cluster_corosync_quorate", "Whether or not the cluster is quorate",
                            value=_flag(q.quorate))
    votes = GaugeMetricFamily("ha_cluster_corosync_quorum_votes",
                              "Cluster quorum votes; one line per type", labels=["type"])
    for kind, n in q.votes.items():
        votes.add_metric([kind], n)
    yield votes
    members = GaugeMetricFamily(
        "ha_cluster_corosync_member_votes",
        "How many votes each member node has contributed with to the current quorum",
        labels=["node_id", "node", "local"])
    for m in q.members:
        members.add_metric([m.node_id, m.name, str(m.local).lower()], m.votes)
    yield members


# -- the agents' records ------------------------------------------------------------------
def agents(states: list[record.State]) -> Iterator[Metric]:
    labels = ["resource", "agent", "action"]
    actions = CounterMetricFamily("fractal_ha_agent_actions",
                                  "Agent actions on this node, by exit code",
                                  labels=[*labels, "exit_code"])
    durations = SummaryMetricFamily("fractal_ha_agent_action_duration_seconds",
                                    "Time agent actions took on this node", labels=labels)
    last_code = GaugeMetricFamily("fractal_ha_agent_last_exit_code",
                                  "Exit code of the last action of that kind (OCF codes)",
                                  labels=labels)
    last_seconds = GaugeMetricFamily("fractal_ha_agent_last_action_duration_seconds",
                                     "Duration of the last action of that kind", labels=labels)
    last_time = GaugeMetricFamily("fractal_ha_agent_last_action_timestamp_seconds",
                                  "When the last action of that kind ended", labels=labels)
    reasons = InfoMetricFamily("fractal_ha_agent_last_exit_reason",
                               "The last action's exit reason (empty when it succeeded)",
                               labels=labels)
    facts: dict[str, list[Metric]] = {}
    for s in states:
        per_action: dict[str, int] = {}
        for (action, code), n in sorted(s.counts.items()):
            actions.add_metric([s.resource, s.agent, action, code], n)
            per_action[action] = per_action.get(action, 0) + n
        for action, n in per_action.items():
            durations.add_metric([s.resource, s.agent, action], n, s.sums.get(action, 0.0))
        for action, (code, seconds, when, why) in sorted(s.last.items()):
            key = [s.resource, s.agent, action]
            last_code.add_metric(key, code)
            last_seconds.add_metric(key, seconds)
            last_time.add_metric(key, when)
            reasons.add_metric(key, {"reason": why})
        for name, (kind, values) in sorted(s.facts.items()):
            _fact(facts, s, name, kind, values)
    yield from (actions, durations, last_code, last_seconds, last_time, reasons)
    for families in facts.values():
        yield from families


def _fact(facts: dict[str, list[Metric]], s: record.State, name: str, kind: str,
          values: tuple[float, ...]) -> None:
    """An agent's own fact, named fractal_ha_<agent>_<name> (e.g. floating-ip's
    association_duration_seconds → fractal_ha_floating_ip_association_duration_seconds)."""
    base = f"fractal_ha_{s.agent.replace('-', '_')}_{name}"
    help_ = f"{name.replace('_', ' ')}, as ocf:fractal:{s.agent} reports it"
    if base not in facts:
        if kind == "g":
            facts[base] = [GaugeMetricFamily(base, help_, labels=["resource"])]
        elif kind == "a":
            facts[base] = [CounterMetricFamily(base, help_, labels=["resource"])]
        elif kind == "o":
            last = f"fractal_ha_{s.agent.replace('-', '_')}_last_{name}"
            facts[base] = [SummaryMetricFamily(base, help_, labels=["resource"]),
                           GaugeMetricFamily(last, f"last {help_}", labels=["resource"])]
        else:
            return
    families = facts[base]
    if kind in ("g", "a") and values:
        families[0].add_metric([s.resource], values[0])
    elif kind == "o" and len(values) == 3:
        families[0].add_metric([s.resource], values[0], values[1])
        families[1].add_metric([s.resource], values[2])


# -- the whole scrape -----------------------------------------------------------------------
class ExporterCollector:
    """One registry collector: every part, then ha_cluster_scrape_* about each part."""

    def __init__(self, source: Source, rsctmp: str) -> None:
        self.source = source
        self.rsctmp = rsctmp

    def describe(self) -> Iterable[Metric]:
        return []  # dynamic: nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        snap = self.source.snapshot()
        timings: list[tuple[str, float, bool]] = []
        parts: list[tuple[str, float, bool, Callable[[], Iterable[Metric]]]] = [
            ("pacemaker", snap.pacemaker.seconds, not snap.pacemaker.error,
             lambda: self._pacemaker(snap)),
            ("corosync", snap.corosync.seconds, not snap.corosync.error,
             lambda: corosync(snap.corosync.value) if snap.corosync.value else []),
            ("agents", 0.0, True, lambda: agents(record.read_all(self.rsctmp))),
        ]
        for name, tool_seconds, ok, build in parts:
            started = time.perf_counter()
            yield from list(build())
            timings.append((name, tool_seconds + time.perf_counter() - started, ok))
        yield from self._exporter(timings)

    def _pacemaker(self, snap: Snapshot) -> Iterator[Metric]:
        if snap.pacemaker.value is not None:
            yield from pacemaker(snap.pacemaker.value, snap.constraints.value)
            yield from tickets(snap.pacemaker.value, snap.tickets.value)
        yield from failovers(self.source.failovers)

    def _exporter(self, timings: list[tuple[str, float, bool]]) -> Iterator[Metric]:
        duration = GaugeMetricFamily("ha_cluster_scrape_duration_seconds",
                                     "Duration of a collector scrape (with its tools' run time)",
                                     labels=["collector"])
        success = GaugeMetricFamily("ha_cluster_scrape_success",
                                    "Whether a collector succeeded", labels=["collector"])
        for name, seconds, ok in timings:
            duration.add_metric([name], seconds)
            success.add_metric([name], _flag(ok))
        yield duration
        yield success
        runs = CounterMetricFamily("fractal_ha_exporter_command_runs",
                                   "Runs of the cluster's tools by the exporter",
                                   labels=["command"])
        fails = CounterMetricFamily("fractal_ha_exporter_command_failures",
                                    "Runs that failed, timed out or gave unparsable output",
                                    labels=["command"])
        for command, n in self.source.runs.items():
            runs.add_metric([command], n)
            fails.add_metric([command], self.source.failures[command])
        yield runs
        yield fails
