"""Fencing through a compute API that fails half its calls (503) completes in bounded time:
Debian's fence_openstack does not retry a failed call, so the retries are Pacemaker's
(cluster/config/fencing.crm). With Pacemaker's defaults the DC gave up on the crashed node
("Too many failures (10) to fence") and the campaign saw a 189 s outage."""

from __future__ import annotations

import time

import pytest

from cluster.lab.campaign.run import (
    ANSWER_AFTER_HEAL_S,
    FENCE_BOUND_S,
    FaultRecord,
    await_fenced,
    heal,
    serving,
    start_clean,
    wait_answering,
)
from cluster.lab.lab import Lab
from cluster.openstack.faults import control

pytestmark = pytest.mark.campaign


def test_a_crashed_node_is_fenced_while_compute_fails_half_its_calls(lab: Lab) -> None:
    start_clean(lab, print)
    victim, dc = serving(lab)
    record = FaultRecord(1, "compute 50% 503 + crash", f"{victim} (DC {dc})", victim)
    control.inject(lab.cloud, "compute", error_rate=0.5, error_status=503, random_errors=True)
    try:
        began = time.monotonic()
        lab.node(victim).crash()
        await_fenced(lab, record, [victim])
        fenced_s = time.monotonic() - began
    finally:
        control.clear(lab.cloud)
    print(f"{victim} fenced after {fenced_s:.1f} s (bound {FENCE_BOUND_S:.0f} s)")
    assert not record.violations, record.violations[0]
    heal(lab, record, [], [victim])
    assert wait_answering(lab, ANSWER_AFTER_HEAL_S) is not None, "no answer after the heal"
