"""Failover on the real three-node lab: the service address answers again within a bound, the API
runs on at most one node at every sample, and every fractal accepted during the fault is done."""

from __future__ import annotations

import pytest

from cluster.lab.lab import Lab
from tests.cluster.conftest import Observer
from tests.support.processes import wait_until

pytestmark = pytest.mark.cluster

# Bounds a user would accept; the measured values are printed for the record.
RESTART_BOUND_S = 20
FAILOVER_BOUND_S = 30


def api_node(lab: Lab) -> str:
    state = wait_until(lambda: (s := lab.status()) and s.where("fractal-api") and s, 30,
                       "the API to be placed")
    return state.where("fractal-api")[0]


def kill_api_process(lab: Lab, node_name: str) -> None:
    node = lab.node(node_name)
    pid = node.exec(["cat", "/run/resource-agents/fractal-api-fractal-api/api.pid"]).stdout
    node.exec(["kill", "-KILL", pid.strip()])


def test_api_process_killed(healthy: Lab) -> None:
    lab = healthy
    before = api_node(lab)
    with Observer(lab) as seen:
        wait_until(lambda: seen.accepted, 10, "submissions to flow")
        seen.fault()
        kill_api_process(lab, before)
        wait_until(lambda: seen.first_success_after_fault, RESTART_BOUND_S, "the API back")
        wait_until(lambda: len(seen.accepted) > 5, 10, "more submissions")
    print(f"API SIGKILL: service back after {seen.downtime:.2f} s")
    assert seen.downtime < RESTART_BOUND_S
    assert api_node(lab) == before  # recovered in place: one failure is below the threshold
    seen.assert_no_split_brain()
    seen.assert_nothing_lost()


def test_active_node_crash_then_rejoin_without_fail_back(healthy: Lab) -> None:
    lab = healthy
    victim = api_node(lab)
    with Observer(lab) as seen:
        wait_until(lambda: seen.accepted, 10, "submissions to flow")
        seen.fault()
        lab.node(victim).crash()
        wait_until(lambda: seen.first_success_after_fault, FAILOVER_BOUND_S, "the takeover")
        survivor = api_node(lab)
        wait_until(lambda: len(seen.accepted) > 5, 10, "more submissions")
    print(f"node crash: service back after {seen.downtime:.2f} s on {survivor}")
    assert survivor != victim
    seen.assert_no_split_brain()
    seen.assert_nothing_lost()
    lab.boot_node(lab.node(victim))
    lab.wait_formed(timeout=120)
    assert api_node(lab) == survivor  # stickiness: the rejoining node does not pull it back


def test_active_node_isolated(healthy: Lab) -> None:
    lab = healthy
    victim = api_node(lab)
    with Observer(lab) as seen:
        wait_until(lambda: seen.accepted, 10, "submissions to flow")
        seen.fault()
        lab.isolate(victim)
        try:
            wait_until(lambda: seen.first_success_after_fault, FAILOVER_BOUND_S, "the takeover")
        except AssertionError:
            views = {n.name: n.exec(["crm_mon", "-1"], check=False).stdout for n in lab.nodes}
            raise AssertionError(f"no takeover; victim {victim}; views {views}") from None
        wait_until(lambda: len(seen.accepted) > 5, 10, "more submissions")
        # the minority lost quorum and stopped its copy (no-quorum-policy=stop)
        minority = lab.node(victim)
        wait_until(lambda: (s := lab.status(minority)) and not s.quorate
                   and not s.where("fractal-api"), 30, "the isolated node to stop the API")
    print(f"isolation: service back after {seen.downtime:.2f} s")
    assert api_node(lab) != victim
    seen.assert_no_split_brain()
    seen.assert_nothing_lost()


def test_planned_move_and_clear(healthy: Lab) -> None:
    lab = healthy
    start = api_node(lab)
    target = next(n.name for n in lab.nodes if n.name != start)
    with Observer(lab) as seen:
        wait_until(lambda: seen.accepted, 10, "submissions to flow")
        lab.nodes[0].exec(["crm", "resource", "move", "fractal-service", target])
        wait_until(lambda: api_node(lab) == target and lab.client("GET", "/healthz"), 60,
                   f"the service on {target}")
        lab.nodes[0].exec(["crm", "resource", "clear", "fractal-service"])
        wait_until(lambda: len(seen.accepted) > 5, 10, "more submissions")
    constraints = lab.nodes[0].exec(["crm", "configure", "show"]).stdout
    assert "cli-prefer" not in constraints  # the move left nothing behind
    assert api_node(lab) == target  # and clearing it does not move the service back
    seen.assert_no_split_brain()
    seen.assert_nothing_lost()
