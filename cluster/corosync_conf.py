"""Render corosync.conf from the template shared by the lab and real VMs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from string import Template

TEMPLATE = Path(__file__).parent / "config" / "corosync.conf.template"
# The token is the token: corosync's default coefficient (650 ms per node beyond two) would
# make the lab's three-node "500 ms" token 1150 ms (the template says more).
TOKEN_COEFFICIENT_MS = 0


@dataclass(frozen=True)
class Member:
    name: str
    nodeid: int
    address: str


def render(members: list[Member], *, cluster_name: str = "fractal", token_ms: int = 1000,
           token_coefficient_ms: int = TOKEN_COEFFICIENT_MS) -> str:
    # One key per line inside braces: `node { ring0_addr: … }` on one line is a parse error.
    nodes = "".join(
        f"    node {{\n        ring0_addr: {m.address}\n        name: {m.name}\n"
        f"        nodeid: {m.nodeid}\n    }}\n" for m in members)
    # Two nodes: votequorum's two_node (either alone keeps quorum once both were seen, and
    # fencing settles which one serves: a site of two, cluster/geo/sites.py).
    quorum = {1: "    expected_votes: 1\n", 2: "    two_node: 1\n"}.get(len(members), "")
    return Template(TEMPLATE.read_text()).substitute(
        cluster_name=cluster_name, token_ms=token_ms, consensus_ms=int(token_ms * 1.2),
        token_coefficient_ms=token_coefficient_ms,
        quorum_options=quorum, nodes=nodes)
