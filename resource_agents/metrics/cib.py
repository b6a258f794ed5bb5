"""What the CIB holds and crm_mon's output does not: location constraints (`cibadmin --query
--local`: what `crm resource move` leaves behind, cli-prefer-*, cli-ban-*) and booth's leases on
multi-site tickets."""

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


@dataclass(frozen=True)
class TicketLease:
    """What booth writes into the CIB's ticket state: the lease's end and its holder."""

    ticket: str
    expires: float | None  # epoch seconds
    owner: str  # booth's site id, "0" or "" when nobody holds it


def ticket_leases(xml: str | bytes) -> list[TicketLease]:
    """From `cibadmin --query --local --xpath //status/tickets` (crm_mon shows granted,
    standby and last-granted, not booth's attributes)."""
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    leases = []
    for t in root.iter("ticket_state"):
        try:
            expires: float | None = float(t.get("expires", ""))
        except ValueError:
            expires = None
        leases.append(TicketLease(t.get("id", ""), expires, t.get("owner", "")))
    return leases
