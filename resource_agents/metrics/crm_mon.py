"""The cluster's state as crm_mon reports it (`crm_mon --output-as=xml`), parsed with lxml.

One parser for every reader: the lab and its tests (where resources run, quorum) and the
metrics exporter (every node and resource flag, fail counts, operation history, fencing).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from lxml import etree

# Pacemaker's INFINITY: a fail count or score at or above it means "infinite".
INFINITY = 1_000_000


@dataclass(frozen=True)
class NodeState:
    name: str
    online: bool
    standby: bool
    maintenance: bool
    unclean: bool
    is_dc: bool
    id: str = ""
    type: str = "member"  # member | remote | ping
    standby_onfail: bool = False
    pending: bool = False
    shutdown: bool = False
    expected_up: bool = False


@dataclass(frozen=True)
class ResourceState:
    id: str
    agent: str
    role: str
    active: bool
    failed: bool
    managed: bool
    nodes: tuple[str, ...]
    clone: str | None = None
    group: str | None = None
    orphaned: bool = False
    blocked: bool = False
    failure_ignored: bool = False


@dataclass(frozen=True)
class Operation:
    task: str  # start, stop, monitor, probe, ...
    rc: int
    interval_ms: int
    last_rc_change: float | None  # epoch seconds (crm_mon prints local time, 1 s resolution)
    exec_ms: int


@dataclass(frozen=True)
class ResourceHistory:
    node: str
    resource: str
    fail_count: float  # float: Pacemaker's INFINITY becomes math.inf
    migration_threshold: float
    operations: tuple[Operation, ...] = ()


@dataclass(frozen=True)
class FenceEvent:
    target: str
    action: str
    status: str  # success | failed | pending
    delegate: str
    origin: str
    completed: float | None  # epoch seconds


@dataclass(frozen=True)
class Ticket:
    """A multi-site ticket as this site's Pacemaker holds it (booth grants and revokes it)."""

    id: str
    granted: bool
    standby: bool
    last_granted: float | None  # epoch seconds


@dataclass(frozen=True)
class ClusterState:
    quorate: bool
    dc: str | None
    nodes: dict[str, NodeState]
    resources: list[ResourceState] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    stonith_enabled: bool = False
    maintenance_mode: bool = False
    last_change: float | None = None  # epoch seconds of the last configuration change
    node_attributes: dict[str, dict[str, str]] = field(default_factory=dict)
    history: list[ResourceHistory] = field(default_factory=list)
    fence_events: list[FenceEvent] = field(default_factory=list)
    tickets: list[Ticket] = field(default_factory=list)

    def online(self) -> list[str]:
        return sorted(n.name for n in self.nodes.values() if n.online)

    def where(self, resource_id: str) -> list[str]:
        """Nodes where the resource (or any instance of a clone) is active."""
        return sorted(n for r in self.resources if resource_id in (r.id, r.clone) and r.active
                      for n in r.nodes)

    def serving(self, resource_id: str) -> list[str]:
        """where(), among online nodes: a lost node's resources stay listed as active until it
        is fenced, while a requires=quorum resource already runs on a survivor."""
        return [n for n in self.where(resource_id)
                if n in self.nodes and self.nodes[n].online]


def _bool(el: etree._Element, name: str) -> bool:
    return el.get(name) == "true"


def _count(raw: str | None) -> float:
    """A fail count or threshold: an integer, or INFINITY (Pacemaker writes it as 1000000)."""
    if raw is None:
        return 0.0
    if raw.upper() in ("INFINITY", "+INFINITY"):
        return float("inf")
    try:
        value = int(raw)
    except ValueError:
        return 0.0
    return float("inf") if value >= INFINITY else float(value)


def _ms(raw: str | None) -> int:
    try:
        return int((raw or "0").removesuffix("ms"))
    except ValueError:
        return 0


def local_time(raw: str | None) -> float | None:
    """crm_mon's timestamps: "Wed Nov 25 09:12:45 2026" (local time) or ISO "2026-11-25
    09:12:52Z" / with microseconds (UTC)."""
    if not raw:
        return None
    text = raw.strip()
    try:
        return time.mktime(time.strptime(text, "%a %b %d %H:%M:%S %Y"))
    except ValueError:
        pass
    utc = text.endswith("Z")
    text = text.removesuffix("Z")
    whole, _, fraction = text.partition(".")
    try:
        parsed = time.strptime(whole, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    seconds = float(time.mktime(parsed))
    if utc:
        import calendar

        seconds = float(calendar.timegm(parsed))
    return seconds + (float(f"0.{fraction}") if fraction.isdigit() else 0.0)


def _resources(root: etree._Element) -> list[ResourceState]:
    resources = []
    for r in root.iterfind("resources//resource"):
        parent = r.getparent()
        group = parent.get("id") if parent is not None and parent.tag == "group" else None
        holder = parent.getparent() if group is not None else parent
        clone = holder.get("id") if holder is not None and holder.tag == "clone" else None
        resources.append(ResourceState(
            id=r.get("id"), agent=r.get("resource_agent", ""), role=r.get("role", ""),
            active=_bool(r, "active"), failed=_bool(r, "failed"), managed=_bool(r, "managed"),
            nodes=tuple(n.get("name") for n in r.iterfind("node")), clone=clone, group=group,
            orphaned=_bool(r, "orphaned"), blocked=_bool(r, "blocked"),
            failure_ignored=_bool(r, "failure_ignored")))
    return resources


def _history(root: etree._Element) -> list[ResourceHistory]:
    history = []
    for node in root.iterfind("node_history/node"):
        for rh in node.iterfind("resource_history"):
            ops = tuple(Operation(
                task=op.get("task", ""), rc=int(op.get("rc", "0")),
                interval_ms=_ms(op.get("interval")),
                last_rc_change=local_time(op.get("last-rc-change")),
                exec_ms=_ms(op.get("exec-time"))) for op in rh.iterfind("operation_history"))
            history.append(ResourceHistory(
                node=node.get("name"), resource=rh.get("id"),
                fail_count=_count(rh.get("fail-count")),
                migration_threshold=_count(rh.get("migration-threshold")), operations=ops))
    return history


def parse(xml: str | bytes) -> ClusterState:
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    summary = root.find("summary")
    dc_el = summary.find("current_dc") if summary is not None else None
    quorate = dc_el is not None and dc_el.get("with_quorum") == "true"
    dc = dc_el.get("name") if dc_el is not None and dc_el.get("present") == "true" else None
    options = summary.find("cluster_options") if summary is not None else None
    change = summary.find("last_change") if summary is not None else None
    nodes = {}
    for n in root.iterfind("nodes/node"):
        nodes[n.get("name")] = NodeState(
            n.get("name"), _bool(n, "online"), _bool(n, "standby"), _bool(n, "maintenance"),
            _bool(n, "unclean"), _bool(n, "is_dc"), id=n.get("id", ""),
            type=n.get("type", "member"), standby_onfail=_bool(n, "standby_onfail"),
            pending=_bool(n, "pending"), shutdown=_bool(n, "shutdown"),
            expected_up=_bool(n, "expected_up"))
    attributes = {n.get("name"): {a.get("name"): a.get("value", "")
                                  for a in n.iterfind("attribute")}
                  for n in root.iterfind("node_attributes/node")}
    failures = [dict(f.attrib) for f in root.iterfind("failures/failure")]
    fences = [FenceEvent(target=e.get("target", ""), action=e.get("action", ""),
                         status=e.get("status", ""), delegate=e.get("delegate", ""),
                         origin=e.get("origin", ""), completed=local_time(e.get("completed")))
              for e in root.iterfind("fence_history/fence_event")]
    tickets = [Ticket(t.get("id", ""), t.get("status") == "granted", _bool(t, "standby"),
                      local_time(t.get("last-granted")))
               for t in root.iterfind("tickets/ticket")]
    return ClusterState(
        quorate, dc, nodes, _resources(root), failures,
        stonith_enabled=options is not None and _bool(options, "stonith-enabled"),
        maintenance_mode=options is not None and _bool(options, "maintenance-mode"),
        last_change=local_time(change.get("time")) if change is not None else None,
        node_attributes=attributes, history=_history(root), fence_events=fences,
        tickets=tickets)
