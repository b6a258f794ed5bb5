"""The split-brain checker fails on a broken cluster, not only on made-up samples
(tests/unit/test_checkers.py): on the real lab, a node that takes the service address by hand
while cut off from the others — which the quorate side's crm_mon cannot see — and a second
DNAT rule for the floating IP in the router are each reported. Both start from a clean,
serving cluster, on which the same checker reports nothing."""

from __future__ import annotations

import subprocess
import time

import pytest

from cluster.lab.campaign.checkers import AddressWatch
from cluster.lab.campaign.run import FaultRecord, heal, serving, start_clean
from cluster.lab.lab import Lab

pytestmark = pytest.mark.cluster

SAMPLES_WHEN_HEALTHY = 4
REPORT_BOUND_S = 10.0  # a broken address is reported within this many seconds of sampling


def watch_until_reported(watch: AddressWatch) -> list[str]:
    deadline = time.monotonic() + REPORT_BOUND_S
    while time.monotonic() < deadline and not watch.problems():
        watch.sample()
    return watch.problems()


def clean_watch(lab: Lab) -> AddressWatch:
    watch = AddressWatch(lab)
    for _ in range(SAMPLES_WHEN_HEALTHY):
        watch.sample()
    assert watch.problems() == [], "the checker reports a healthy cluster"
    return watch


def test_an_isolated_node_taking_the_address_by_hand_is_split_brain(lab: Lab) -> None:
    start_clean(lab, print)
    server, _dc = serving(lab)
    rogue = next(n.name for n in lab.nodes if n.name != server)
    watch = clean_watch(lab)
    address = lab.service.address
    record = FaultRecord(1, "rogue address", f"{rogue} isolated, {address} on its eth0", rogue)
    lab.isolate(rogue)
    try:
        lab.node(rogue).exec(["ip", "addr", "add", f"{address}/32", "dev", "eth0"])
        problems = watch_until_reported(watch)
        quorate = lab.status(lab.node(server))
        holders = quorate.serving("fractal-ip") if quorate else []
    finally:
        lab.node(rogue).exec(["ip", "addr", "del", f"{address}/32", "dev", "eth0"], check=False)
        heal(lab, record, [lambda: lab.isolate(rogue, cut=False)], [rogue])
    print(f"reported: {problems}; the quorate side's crm_mon: address on {holders}")
    assert holders == [server], "crm_mon (the quorate side) saw one holder only"
    assert any(rogue in p for p in problems), problems


def test_a_second_nat_rule_for_the_floating_ip_is_split_brain(lab: Lab) -> None:
    start_clean(lab, print)
    server, _dc = serving(lab)
    other = next(n for n in lab.nodes if n.name != server)
    watch = clean_watch(lab)
    # Inserted first in PREROUTING: the other node's API answers the floating IP from now on,
    # while the router still holds the agent's rule (Neutron associates one port).
    rule = ["-t", "nat", "-I", "PREROUTING", "-d", f"{lab.service.address}/32", "-j", "DNAT",
            "--to-destination", other.spec.address]
    router = ["ip", "netns", "exec", lab.net.router, "iptables"]
    subprocess.run([*router, *rule], check=True)
    try:
        problems = watch_until_reported(watch)
    finally:
        subprocess.run([*router, "-t", "nat", "-D", *rule[3:]], check=True)
    print(f"reported: {problems}")
    assert any("NAT to" in p and other.name in p for p in problems), problems
    assert clean_watch(lab).problems() == []  # and nothing once the rule is gone
