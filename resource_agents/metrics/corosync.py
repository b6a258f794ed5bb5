"""Quorum as corosync's votequorum sees it on this node (`corosync-quorumtool -p`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Member:
    node_id: str
    votes: int
    name: str
    local: bool


@dataclass(frozen=True)
class Quorum:
    quorate: bool
    node_id: str
    ring_id: str
    votes: dict[str, int]  # expected_votes, highest_expected, total_votes, quorum
    members: list[Member] = field(default_factory=list)


class ParseError(ValueError):
    pass


_FIELD = re.compile(r"^(?P<key>[A-Za-z ]+):\s+(?P<value>.*?)\s*$", re.M)
# "    1          1         NR n1 (local)": the Qdevice column is present with -p and may
# be empty; the name is the last word before the optional "(local)".
_MEMBER = re.compile(r"^\s*(?P<id>\w+)\s+(?P<votes>\d+)\s+(?:(?P<qdevice>[A-Z,]+)\s+)?"
                     r"(?P<name>\S+)(?P<local>\s+\(local\))?\s*$")
_VOTES = {"Expected votes": "expected_votes", "Highest expected": "highest_expected",
          "Total votes": "total_votes", "Quorum": "quorum"}


def parse(text: str) -> Quorum:
    head, _, membership = text.partition("Membership information")
    fields = {m["key"].strip(): m["value"] for m in _FIELD.finditer(head)}
    if "Quorate" not in fields:
        raise ParseError("no 'Quorate:' line in corosync-quorumtool output")
    votes = {}
    for label, key in _VOTES.items():
        try:
            votes[key] = int(fields.get(label, "").split()[0])
        except (ValueError, IndexError):
            continue
    members = []
    for line in membership.splitlines():
        m = _MEMBER.match(line)
        if m and m["id"] != "Nodeid":
            members.append(Member(m["id"], int(m["votes"]), m["name"], bool(m["local"])))
    return Quorum(quorate=fields["Quorate"].startswith("Yes"), node_id=fields.get("Node ID", ""),
                  ring_id=fields.get("Ring ID", ""), votes=votes, members=members)
