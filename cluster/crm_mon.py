"""The cluster's state as crm_mon reports it (`crm_mon --output-as=xml`), parsed with lxml."""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree


@dataclass(frozen=True)
class NodeState:
    name: str
    online: bool
    standby: bool
    maintenance: bool
    unclean: bool
    is_dc: bool


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


@dataclass(frozen=True)
class ClusterState:
    quorate: bool
    dc: str | None
    nodes: dict[str, NodeState]
    resources: list[ResourceState] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)

    def online(self) -> list[str]:
        return sorted(n.name for n in self.nodes.values() if n.online)

    def where(self, resource_id: str) -> list[str]:
        """Nodes where the resource (or any instance of a clone) is active."""
        return sorted(n for r in self.resources if resource_id in (r.id, r.clone) and r.active
                      for n in r.nodes)


def _bool(el: etree._Element, name: str) -> bool:
    return el.get(name) == "true"


def parse(xml: str | bytes) -> ClusterState:
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    summary = root.find("summary")
    dc_el = summary.find("current_dc") if summary is not None else None
    quorate = dc_el is not None and dc_el.get("with_quorum") == "true"
    dc = dc_el.get("name") if dc_el is not None and dc_el.get("present") == "true" else None
    nodes = {}
    for n in root.iterfind("nodes/node"):
        nodes[n.get("name")] = NodeState(n.get("name"), _bool(n, "online"), _bool(n, "standby"),
                                         _bool(n, "maintenance"), _bool(n, "unclean"),
                                         _bool(n, "is_dc"))
    resources = []
    for r in root.iter("resource"):
        parent = r.getparent()
        clone = parent.get("id") if parent is not None and parent.tag == "clone" else None
        resources.append(ResourceState(
            id=r.get("id"), agent=r.get("resource_agent", ""), role=r.get("role", ""),
            active=_bool(r, "active"), failed=_bool(r, "failed"), managed=_bool(r, "managed"),
            nodes=tuple(n.get("name") for n in r.iterfind("node")), clone=clone))
    failures = [dict(f.attrib) for f in root.iterfind("failures/failure")]
    return ClusterState(quorate, dc, nodes, resources, failures)
