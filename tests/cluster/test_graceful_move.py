"""A planned move (`crm resource move`) and a standby of the serving node, as a client doing 20
requests/s sees them: the new holder's API is already up (every node runs one), the address is
handed over in one update (migrate_to/migrate_from). In a standby Pacemaker stops the old API
while the address is still being handed over (nothing orders the stop after a migration): the
old API serves as a lame duck until requests stop reaching it (fractal_service/api/drain.py).
At most one failed request per move and per standby; the longest gap between two answers is
printed in ms."""

from __future__ import annotations

import itertools
import re
import time
from datetime import datetime
from pathlib import Path

import pytest

from cluster.lab.lab import SERVICE_ADDRESS, Lab
from cluster.lab.probes import Probes, http_get, http_ok
from tests.cluster.conftest import Cluster, Observer, Pace
from tests.cluster.test_failover import accepting_again, api_node
from tests.support.processes import wait_until

pytestmark = pytest.mark.cluster
RATE_EVERY_S = 0.05  # 20 requests/s, each its own connection
REQUEST_TIMEOUT_S = 1.0


def window(probes: Probes, since: float, until: float) -> tuple[int, int, float]:
    """(requests, failed, longest gap in ms between two answers) started in [since, until]."""
    rows = [r for r in probes.attempts(since) if r[0] <= until]
    answered = [ended for _, ended, answer in rows if http_ok(answer)]
    gaps = [b - a for a, b in itertools.pairwise(answered)]
    return len(rows), sum(not http_ok(a) for *_, a in rows), max(gaps, default=0.0) * 1000


# What a handover did, for a failed window: the scheduler's plan (a Migrate, or a stop and a
# start that leave the address with nobody in between), each fractal-ip action, and the NAT
# the data plane applied, by wall clock.
EVIDENCE = re.compile(r"Actions: |fractal-ip.*(migrate_|_start_|_stop_)|floating IPs now")


def evidence(lab: Lab, since: float, until: float) -> str:
    """The lines of EVIDENCE logged between wall-clock `since` and `until`, in time order."""
    logs = [n.dir / "var-log-pacemaker" / "pacemaker.log" for n in lab.nodes]
    logs.append(lab.cloud.dir("dataplane") / "server.log")
    year = datetime.now().year
    found = []
    for log in logs:
        for line in log.read_text(errors="replace").splitlines():
            if not EVIDENCE.search(line) or "cib_perform_op" in line:
                continue
            try:  # pacemaker: "Dec 02 13:48:25.564 n1 …"; the data plane: "2026-12-02 13:50:38,148"
                at = (datetime.strptime(f"{year} {line[:19]}", "%Y %b %d %H:%M:%S.%f")
                      if line[:1].isalpha()
                      else datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f"))
            except ValueError:
                continue
            if since <= at.timestamp() <= until:
                found.append((at, line[:220]))
    return "\n".join(line for _, line in sorted(found))


def handed_over(lab: Cluster, pace: Pace, source: str) -> str:
    """Until the address runs off `source` and nothing is in flight; returns its node."""
    where = wait_until(lambda: (w := api_node(lab, pace)) != source and w, 60 * pace.slow,
                       f"the address off {source}")
    lab.settle()
    return where


def test_planned_move_and_standby_fail_at_most_one_request(healthy: Cluster, pace: Pace,
                                                           tmp_path: Path) -> None:
    if not isinstance(healthy, Lab):
        pytest.skip("the 20 requests/s client runs in the lab's client namespace")
    lab = healthy
    crm = lab.nodes[0].exec
    probes = Probes(lab.client_netns, SERVICE_ADDRESS, lab.service.api_port,
                    tmp_path / "probes.log", interval=RATE_EVERY_S, timeout=REQUEST_TIMEOUT_S,
                    request=http_get("/healthz", SERVICE_ADDRESS))
    results: dict[str, tuple[int, int, float]] = {}
    standby = None
    try:
        with Observer(lab, pace) as seen:
            wait_until(lambda: seen.accepted, 10 * pace.slow, "submissions to flow")
            start = api_node(lab, pace)
            target = next(n.name for n in lab.nodes if n.name != start)
            began, wall = time.monotonic(), time.time()
            crm(["crm", "resource", "move", "fractal-ip", target])
            assert handed_over(lab, pace, start) == target
            results["move"] = window(probes, began, time.monotonic() + REQUEST_TIMEOUT_S)
            if results["move"][1] > 1:
                print(f"the move, {start} -> {target}:\n{evidence(lab, wall, time.time())}")
            crm(["crm", "resource", "clear", "fractal-ip"])
            lab.settle()

            standby = target
            began, wall = time.monotonic(), time.time()
            crm(["crm", "node", "standby", standby])
            handed_over(lab, pace, standby)
            wait_until(lambda: standby not in lab.status().where("fractal-api"),
                       30 * pace.slow, f"the API on {standby} stopped (drained)")
            results["standby"] = window(probes, began, time.monotonic() + REQUEST_TIMEOUT_S)
            if results["standby"][1] > 1:
                print(f"the standby of {standby}:\n{evidence(lab, wall, time.time())}")
            crm(["crm", "node", "online", standby])
            standby = None
            lab.settle()
            accepting_again(seen, pace)
        time.sleep(REQUEST_TIMEOUT_S)
    finally:
        probes.stop()
        if standby is not None:
            crm(["crm", "node", "online", standby], check=False)
        crm(["crm", "resource", "clear", "fractal-ip"], check=False)
    for kind, (requests, failed, gap_ms) in results.items():
        print(f"{kind}: {failed} of {requests} requests failed at 20/s, longest gap between "
              f"answers {gap_ms:.0f} ms")
    assert results["move"][1] <= 1, results
    assert results["standby"][1] <= 1, results
    seen.assert_no_split_brain()
    seen.assert_nothing_lost(timeout=120 * pace.slow)
