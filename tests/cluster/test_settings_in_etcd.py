"""The lab's settings live in its etcd (a member on every node, cluster/lab/etcd.py): a
`fractal config set` on a node reaches the API behind the floating IP and every node's workers
while running, one member being down meanwhile; that member has the change once it is back."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from cluster.lab.lab import Lab
from tests.cluster.conftest import Cluster
from tests.support.processes import wait_until

pytestmark = pytest.mark.cluster
CAP = 64  # limits.max_width, lowered from 4096
OVER_CAP = {"width": 128, "height": 8, "iterations": 8}
CHANGED = (f"limits.max_width={CAP}", "worker.concurrency=2")
APPLIED = re.compile(r" (\S+) INFO settings from etcd applied: .*concurrency=(\d+)")


def concurrency_applied(lab: Lab, since: dict[str, int]) -> dict[str, str]:
    """worker name → the concurrency it last applied from etcd, from each node's worker log
    after byte offset `since[node]`."""
    found = {}
    for node in lab.nodes:
        log = worker_log(lab, node.name)
        with log.open(errors="replace") as text:
            text.seek(since[node.name])
            for match in APPLIED.finditer(text.read()):
                found[match[1]] = match[2]
    return found


def worker_log(lab: Lab, node: str) -> Path:
    return lab.node(node).dir / "var-log-fractal" / "worker.log"


def test_a_setting_changed_in_etcd_reaches_every_node_and_a_stopped_member_catches_up(
        healthy: Cluster) -> None:
    if not isinstance(healthy, Lab):
        pytest.skip("only the lab runs etcd on its nodes (the Vagrant VMs have none yet)")
    lab, etcd = healthy, healthy.etcd
    assert lab.client("GET", "/readyz")["settings"]["etcd"] == "up"
    victim = lab.status().serving("fractal-ip")[0]  # its API reads etcd through the others
    operator = next(n for n in lab.nodes if n.name != victim)
    workers = {f"{n.name}-{i}" for n in lab.nodes for i in range(lab.service.workers)}
    since = {n.name: worker_log(lab, n.name).stat().st_size for n in lab.nodes}
    etcd.stop(lab.node(victim))
    try:
        assert not etcd.healthy(lab.node(victim))
        etcd.config(operator, "set", *CHANGED)
        changed = time.monotonic()

        def refused() -> dict | None:
            answer = lab.request("POST", "/v1/fractals", OVER_CAP)
            return json.loads(answer.body) if answer is not None and answer.status == 400 \
                else None

        error = wait_until(refused, 10, "the lowered cap through the floating IP",
                           interval=0.2)["error"]
        print(f"\ncap refused through the floating IP {time.monotonic() - changed:.2f} s "
              "after the set")
        assert error["field"] == "width" and f"<= {CAP}" in error["message"]
        # Both were live for the API: nothing waits for its restart ([worker] is not its own).
        assert lab.client("GET", "/readyz")["settings"]["restart_pending"] == []
        wait_until(lambda: concurrency_applied(lab, since) == dict.fromkeys(workers, "2"), 10,
                   f"every worker ({', '.join(sorted(workers))}) on concurrency 2")
        since = {n.name: worker_log(lab, n.name).stat().st_size for n in lab.nodes}
        etcd.start(lab.node(victim))
        etcd.wait_healthy([lab.node(victim)], timeout=30)
        # A linearizable read from that member alone: it has caught up with the change.
        assert etcd.config(operator, "get", "limits.max_width",
                           urls=etcd.url(victim)).strip() == str(CAP)
    finally:
        if not etcd.healthy(lab.node(victim)):
            etcd.start(lab.node(victim))
            etcd.wait_healthy(lab.nodes, timeout=30)
        # Leave the lab's settings as they were for the other tests.
        etcd.config(operator, "unset", *(c.split("=")[0] for c in CHANGED))
    answer = wait_until(lambda: (a := lab.request("POST", "/v1/fractals", OVER_CAP))
                        and a.status == 201 and a, 10, "the cap restored")
    assert answer.json()["width"] == OVER_CAP["width"]
    wait_until(lambda: concurrency_applied(lab, since) == dict.fromkeys(workers, "1"), 10,
               "every worker back on concurrency 1")
