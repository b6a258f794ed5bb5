"""Location constraints from the CIB (`cibadmin --query --local`): what `crm resource move`
leaves behind (cli-prefer-*, cli-ban-*), which crm_mon's output does not include."""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree


@dataclass(frozen=True)
class Location:
    id: str
    resource: str
    node: str
    role: str
    score: float  # +/-inf for (-)INFINITY


def _score(raw: str | None) -> float:
    text = (raw or "0").strip().upper()
    if text in ("INFINITY", "+INFINITY"):
        return float("inf")
    if text == "-INFINITY":
        return float("-inf")
    try:
        return float(int(text))
    except ValueError:
        return 0.0


def locations(xml: str | bytes) -> list[Location]:
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    found = []
    for c in root.iterfind("configuration/constraints/rsc_location"):
        # A rule-based constraint has no node; ha_cluster_exporter reports it with node="".
        found.append(Location(c.get("id", ""), c.get("rsc", c.get("rsc-pattern", "")),
                              c.get("node", ""), c.get("role", ""), _score(c.get("score"))))
    return found
