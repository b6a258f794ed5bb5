"""The operator's everyday tools on the lab, with Debian's own crmsh and Pacemaker commands:
standby/online, ban/clear, fail counts, and the exit reason of a failed start in
`crm_mon --show-detail`. (Maintenance mode is not here yet: after it ended, Pacemaker once
recorded a timed-out depth-10 monitor, "Controller on n2 did not return result in time", cause
not found.) Each is checked by its effect on the cluster's state (crm_mon's XML) and on the
service through the floating IP."""

from __future__ import annotations

import re

import pytest

from tests.cluster.conftest import Cluster, Observer, Pace
from tests.cluster.test_failover import accepting_again, api_node
from tests.support.processes import wait_until

# Lab only: on the emulated VMs each of these costs minutes (scripts/test.sh selects the VMs'
# tests by name, and these names are not among them).
pytestmark = pytest.mark.cluster


def other_node(lab: Cluster, than: str) -> str:
    return next(n.name for n in lab.nodes if n.name != than)


def test_standby_moves_the_service_and_online_does_not_pull_it_back(healthy: Cluster,
                                                                    pace: Pace) -> None:
    lab = healthy
    crm = lab.nodes[0].exec
    start = api_node(lab, pace)
    with Observer(lab, pace) as seen:
        wait_until(lambda: seen.accepted, 10 * pace.slow, "submissions to flow")
        crm(["crm", "node", "standby", start])
        try:
            wait_until(lambda: (s := lab.status()) and s.nodes[start].standby
                       and s.where("fractal-api") and start not in s.where("fractal-api"),
                       60 * pace.slow, f"the service off {start} in standby")
            assert start not in lab.status().where("fractal-worker"), "a standby node works"
        finally:
            crm(["crm", "node", "online", start])
        lab.settle()
        accepting_again(seen, pace)
    state = lab.status()
    assert not state.nodes[start].standby
    assert start not in state.where("fractal-api"), "online pulled the service back"
    assert start in state.where("fractal-worker"), "the node back online runs its worker"
    seen.assert_no_split_brain()
    seen.assert_nothing_lost(timeout=120 * pace.slow)


def test_ban_moves_the_service_and_clear_leaves_it_where_it_went(healthy: Cluster,
                                                                pace: Pace) -> None:
    lab = healthy
    crm = lab.nodes[0].exec
    start = api_node(lab, pace)
    crm(["crm", "resource", "ban", "fractal-service", start])
    try:
        wait_until(lambda: (w := api_node(lab, pace)) != start and lab.client("GET", "/healthz")
                   and w, 60 * pace.slow, f"the service banned from {start}")
        assert f"cli-ban-fractal-service-on-{start}" in crm(["crm", "configure", "show"]).stdout
    finally:
        crm(["crm", "resource", "clear", "fractal-service"])
    lab.settle()
    assert "cli-ban" not in crm(["crm", "configure", "show"]).stdout
    assert api_node(lab, pace) != start, "clearing the ban moved the service back"


def test_failcount_shows_a_failure_and_delete_resets_it(healthy: Cluster, pace: Pace) -> None:
    lab = healthy
    crm = lab.nodes[0].exec
    where = lab.kill_api()
    wait_until(lambda: lab.client("GET", "/healthz"), pace.restart_bound_s, "the API back")
    lab.settle()
    assert api_node(lab, pace) == where, "one failure (of migration-threshold=3) moved it"

    def shown() -> int:
        out = crm(["crm", "resource", "failcount", "fractal-api", "show", where]).stdout
        return int(re.search(r"value=(\d+)", out).group(1))

    assert shown() == 1
    history = {h.resource: h.fail_count for h in lab.status().history if h.node == where}
    assert history.get("fractal-api") == 1
    crm(["crm", "resource", "failcount", "fractal-api", "delete", where])
    wait_until(lambda: shown() == 0, 10 * pace.slow, "the fail count reset")
    assert api_node(lab, pace) == where and lab.client("GET", "/healthz")


def test_a_failed_start_shows_its_exit_reason_in_crm_mon(healthy: Cluster, pace: Pace) -> None:
    lab = healthy
    node = lab.nodes[0]
    # A second API resource without a store: refused as not configured (rc 6) under
    # Pacemaker, with a one-line reason; it never runs, the service is not touched.
    probe = '<primitive id="bad-config-api" class="ocf" provider="fractal" type="api"/>'
    node.exec(["cibadmin", "--create", "--scope", "resources", "--xml-text", probe])
    try:
        detail = wait_until(
            lambda: "store_url is empty" in (out := node.exec(
                ["crm_mon", "-1", "--show-detail"]).stdout) and out,
            30 * pace.slow, "the failed action with its exit reason")
        line = next(x for x in detail.splitlines() if "store_url is empty" in x)
        assert "bad-config-api_start_0" in line and "not configured" in line, line
        # whole: Pacemaker keeps 127 characters of a reason, the agent's fits
        assert "allow_local_store=true'" in line, line
    finally:
        node.exec(["crm_resource", "--resource", "bad-config-api", "--set-parameter",
                   "target-role", "--meta", "--parameter-value", "Stopped"], check=False)
        node.exec(["cibadmin", "--delete", "--scope", "resources", "--xml-text", probe])
        node.exec(["crm_resource", "--cleanup", "--resource", "bad-config-api"], check=False)
    assert lab.client("GET", "/healthz"), "the service"
