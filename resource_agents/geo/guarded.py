"""What booth's ticket guards at this site, as this site's Pacemaker runs it: whether the
service's floating IP is already in place here.

The region check asks Neutron only because a site taking the ticket must move its floating
IP; once the address is started here, Neutron's API is not needed to keep it forwarding.
Read from the local CIB's rsc_ticket constraints (which resources the ticket guards) and
crm_mon's view of them (metrics/crm_mon.py's parser; C tools, a few tens of ms together).
"""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from resource_agents.install import PROVIDER

if TYPE_CHECKING:
    from resource_agents.metrics.crm_mon import ResourceState

FLOATING_IP_AGENT = f"ocf:{PROVIDER}:floating-ip"
TIMEOUT_S = 1.0  # each query: the check's cloud calls have their own budget


def _output(*argv: str) -> str | None:
    """A Pacemaker tool's answer; None if it gave none (not running, too slow)."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S)
    except (OSError, ValueError, subprocess.TimeoutExpired):  # ValueError: not UTF-8
        return None
    return done.stdout if done.returncode == 0 else None


def guarded_ids(constraints: ET.Element, ticket: str) -> set[str]:
    """The resources (primitives, groups, clones) the ticket's rsc_ticket constraints name,
    as one `rsc` each or as resource sets."""
    ids: set[str] = set()
    for rule in constraints.iter("rsc_ticket"):
        if rule.get("ticket") != ticket:
            continue
        ids.add(rule.get("rsc", ""))
        ids.update(ref.get("id", "") for ref in rule.iter("resource_ref"))
    return ids - {""}


def floating_ips(resources: list[ResourceState], ids: set[str]) -> list[ResourceState]:
    """The floating-IP resources among `ids`, or inside a group or clone among them."""
    return [r for r in resources if r.agent == FLOATING_IP_AGENT
            and ids & {r.id, r.group, r.clone}]


def started(resource: ResourceState) -> bool:
    """Started and not failed. crm_mon (Pacemaker >= 2.1.1) shows an operation in flight as
    the role it leads to ("Starting", "Stopping"), so an address still being moved is not."""
    return resource.role == "Started" and resource.active and not resource.failed \
        and bool(resource.nodes)


def address_in_place(ticket: str) -> bool:
    """Every floating IP the ticket guards is started at this site (at least one, none
    failed). False when there is none, or when Pacemaker cannot tell: Neutron is then asked."""
    if not ticket:
        return False
    # Here, not at the top: lxml (~10 ms) is for this question alone, not every renewal's check.
    from resource_agents.metrics import crm_mon

    constraints = _output("cibadmin", "--query", "--local", "--scope", "constraints")
    status = _output("crm_mon", "--output-as=xml") if constraints is not None else None
    if status is None:
        return False
    try:
        ids = guarded_ids(ET.fromstring(constraints), ticket)
        addresses = floating_ips(crm_mon.parse(status).resources, ids)
    except (ET.ParseError, ValueError, SyntaxError):  # lxml's XMLSyntaxError is one
        return False
    return bool(addresses) and all(started(r) for r in addresses)
