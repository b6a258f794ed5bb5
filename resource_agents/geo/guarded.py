"""What booth's ticket guards at this site, as this site's Pacemaker runs it: whether the
service's floating IP is already in place here.

The region check asks Neutron only because a site taking the ticket must move its floating
IP; once the address is started here, Neutron's API is not needed to keep it forwarding.
Read from the local CIB's rsc_ticket constraints (which resources the ticket guards) and
crm_mon's view of them (C tools, a few tens of ms together: cheap enough for every check).
"""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET

from resource_agents.install import PROVIDER

FLOATING_IP_AGENT = f"ocf:{PROVIDER}:floating-ip"
TIMEOUT_S = 2.0


def _xml(*argv: str) -> ET.Element | None:
    """A Pacemaker tool's XML answer; None if it gave none (not running, too slow, garbled)."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S)
        return ET.fromstring(done.stdout) if done.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ET.ParseError):
        return None


def guarded_ids(constraints: ET.Element, ticket: str) -> set[str]:
    """The resources (primitives, groups, clones) the ticket's rsc_ticket constraints name,
    as one `rsc` each or as resource sets."""
    ids: set[str] = set()
    for rule in constraints.iter("rsc_ticket"):
        if rule.get("ticket") != ticket:
            continue
        if rule.get("rsc"):
            ids.add(rule.get("rsc", ""))
        ids.update(ref.get("id", "") for ref in rule.iter("resource_ref"))
    return ids - {""}


def floating_ips(status: ET.Element, ids: set[str]) -> list[ET.Element]:
    """crm_mon's entries of the floating-IP resources among `ids` (or inside them)."""
    found: dict[int, ET.Element] = {}
    for element in status.iter():
        if element.get("id") in ids and element.tag in ("resource", "group", "clone", "bundle"):
            for resource in element.iter("resource"):
                if resource.get("resource_agent") == FLOATING_IP_AGENT:
                    found[id(resource)] = resource
    return list(found.values())


def started(resource: ET.Element) -> bool:
    return (resource.get("role") == "Started" and resource.get("active") == "true"
            and resource.get("failed") == "false"
            and resource.get("nodes_running_on", "0") not in ("", "0"))


def address_in_place(ticket: str) -> bool:
    """Every floating IP the ticket guards is started at this site (at least one, none
    failed). False when there is none, or when Pacemaker cannot tell: Neutron is then asked."""
    constraints = _xml("cibadmin", "--query", "--local", "--scope", "constraints")
    status = _xml("crm_mon", "--output-as=xml")
    if constraints is None or status is None:
        return False
    resources = status.find("resources")
    addresses = floating_ips(resources, guarded_ids(constraints, ticket)) \
        if resources is not None else []
    return bool(addresses) and all(started(r) for r in addresses)
