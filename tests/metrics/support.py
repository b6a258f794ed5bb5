"""Helpers for the metrics tests: the exporter fed with captured XML through real processes.

The exporter runs its tools as subprocesses; here the tools are `cat` of the documents captured
on the lab (tests/metrics/data, see capture.py), so the whole path — processes, cache, parsing,
exposition — runs as in production, only the cluster is a recording.
"""

from __future__ import annotations

from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from resource_agents.metrics.server import make_registry
from resource_agents.metrics.source import Source

DATA = Path(__file__).resolve().parent / "data"
STATES = ("all_online", "failed_action", "move_constraint", "one_node_down", "no_quorum")
QUORATE = """Quorum information
------------------
Date:             Wed Nov 25 10:55:38 2026
Quorum provider:  corosync_votequorum
Nodes:            3
Node ID:          1
Ring ID:          1.12
Quorate:          Yes

Votequorum information
----------------------
Expected votes:   3
Highest expected: 3
Total votes:      3
Quorum:           2
Flags:            Quorate

Membership information
----------------------
    Nodeid      Votes    Qdevice Name
         1          1         NR n1 (local)
         2          1         NR n2
         3          1         NR n3
"""


def source_for(state: str, tmp: Path, quorumtool: str = QUORATE, ttl: float = 1.0) -> Source:
    quorum = tmp / f"{state}.quorumtool.txt"
    quorum.write_text(quorumtool)
    return Source(ttl=ttl, crm_mon_argv=["cat", str(DATA / f"{state}.crm_mon.xml")],
                  cibadmin_argv=["cat", str(DATA / f"{state}.cib.xml")],
                  quorumtool_argv=["cat", str(quorum)])


def exposition(source: Source, rsctmp: Path) -> str:
    return generate_latest(make_registry(source, str(rsctmp))).decode()


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """{(sample name, labels): value} of an exposition."""
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, frozenset(s.labels.items()))] = s.value
    return found


def value(found: dict, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    assert key in found, f"no sample {name}{labels}; have: " + ", ".join(
        sorted(f"{n}{dict(ls)}" for n, ls in found if n == name)[:20])
    return found[key]
