"""The operator's everyday tools on the lab, with Debian's own crmsh and Pacemaker commands:
standby/online, ban/clear, fail counts, maintenance mode with a restart by hand, and the exit
reason of a failed start in `crm_mon --show-detail`. Each is checked by its effect on the
cluster's state (crm_mon's XML) and on the service through the floating IP."""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET

import pytest

from cluster.lab.campaign.checkers import ApiWatch
from cluster.operations import API_PIDFILE
from tests.cluster.conftest import Cluster, Observer, Pace
from tests.cluster.test_failover import accepting_again, api_node
from tests.support.processes import wait_until

# Lab only: on the emulated VMs each of these costs minutes (scripts/test.sh selects the VMs'
# tests by name, and these names are not among them).
pytestmark = pytest.mark.cluster


def other_node(lab: Cluster, than: str) -> str:
    return next(n.name for n in lab.nodes if n.name != than)


def api_pid(lab: Cluster, node: str) -> str:
    return lab.node(node).exec(["cat", API_PIDFILE]).stdout.strip()


def api_calls(lab: Cluster, node: str) -> list[tuple[str, int, int, int]]:
    """(operation, interval ms, call id, rc) of the API's history on `node`, from crm_mon."""
    xml = lab.nodes[0].exec(["crm_mon", "-1", "--output-as=xml"]).stdout
    path = (f"node_history/node[@name='{node}']/resource_history[@id='fractal-api']"
            "/operation_history")
    return [(op.get("task"), int(op.get("interval", "0ms").rstrip("ms") or 0),
             int(op.get("call")), int(op.get("rc"))) for op in ET.fromstring(xml).iterfind(path)]


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
                       and s.serving("fractal-ip") and start not in s.where("fractal-api"),
                       60 * pace.slow, f"the service off {start} in standby")
            assert start not in lab.status().where("fractal-worker"), "a standby node works"
        finally:
            crm(["crm", "node", "online", start])
        lab.settle()
        accepting_again(seen, pace)
    state = lab.status()
    assert not state.nodes[start].standby
    assert start not in state.serving("fractal-ip"), "online pulled the service back"
    assert start in state.where("fractal-worker"), "the node back online runs its worker"
    assert start in state.where("fractal-api"), "the node back online runs its API"
    seen.assert_no_split_brain()
    seen.assert_nothing_lost(timeout=120 * pace.slow)


def test_ban_moves_the_service_and_clear_leaves_it_where_it_went(healthy: Cluster,
                                                                pace: Pace) -> None:
    lab = healthy
    crm = lab.nodes[0].exec
    start = api_node(lab, pace)
    crm(["crm", "resource", "ban", "fractal-ip", start])
    try:
        wait_until(lambda: (w := api_node(lab, pace)) != start and lab.client("GET", "/healthz")
                   and w, 60 * pace.slow, f"the service banned from {start}")
        assert f"cli-ban-fractal-ip-on-{start}" in crm(["crm", "configure", "show"]).stdout
    finally:
        crm(["crm", "resource", "clear", "fractal-ip"])
    lab.settle()
    assert "cli-ban" not in crm(["crm", "configure", "show"]).stdout
    assert api_node(lab, pace) != start, "clearing the ban moved the service back"


def test_failcount_shows_a_failure_and_delete_resets_it(healthy: Cluster, pace: Pace) -> None:
    lab = healthy
    crm = lab.nodes[0].exec
    where = lab.kill_api()
    wait_until(lambda: lab.client("GET", "/healthz"), pace.restart_bound_s, "the API back")
    lab.settle()
    # One failure (of migration-threshold=3) keeps the instance on its node, restarted in
    # place; the address stays with it: the killed server's worker answered the monitor's
    # /healthz until the new server did (ocf:fractal:api keeps fractal-api-healthy at 1).
    state = lab.status()
    assert where in state.where("fractal-api"), "the killed instance was not restarted in place"
    assert api_node(lab, pace) == where, "the address moved off a node whose API served"

    def shown() -> int:
        out = crm(["crm", "resource", "failcount", "fractal-api", "show", where]).stdout
        return int(re.search(r"value=(\d+)", out).group(1))

    assert shown() == 1
    history = {h.resource: h.fail_count for h in lab.status().history if h.node == where}
    assert history.get("fractal-api") == 1
    crm(["crm", "resource", "failcount", "fractal-api", "delete", where])
    wait_until(lambda: shown() == 0, 10 * pace.slow, "the fail count reset")
    # crm_failcount -D clears the failed operation's history too: the instance is probed
    # again, absent from crm_mon meanwhile
    wait_until(lambda: where in lab.status().where("fractal-api"), 30 * pace.slow,
               f"the API on {where} after the reset")
    assert lab.client("GET", "/healthz")


def test_maintenance_mode_leaves_a_hand_restart_alone_and_reprobes_after(healthy: Cluster,
                                                                         pace: Pace) -> None:
    lab = healthy
    crm = lab.nodes[0].exec
    where = api_node(lab, pace)
    last_call = max(call for *_, call, _rc in api_calls(lab, where))
    crm(["crm", "configure", "property", "maintenance-mode=true"])
    try:
        wait_until(lambda: lab.status().maintenance_mode, 10 * pace.slow, "maintenance mode")
        # Until the transition that cancels the recurring monitors has run: a monitor that
        # still sees the kill records a failure, which Pacemaker acts on once it ends.
        lab.settle()
        killed_at = time.time()
        killed = lab.kill_api(where)
        # The dead master's worker serves on as a lame duck (api/worker_class.py) while asked,
        # drain_max (10 s) at most, then nothing answers.
        wait_until(lambda: not lab.client("GET", "/healthz", timeout=1), 20 * pace.slow,
                   "the lame duck to end")
        # Nothing watches in maintenance mode: three monitor intervals later no API process
        # has started anywhere (no restart, no move: the others' keep running) and nobody
        # answers at the address.
        apis = ApiWatch(lab, pace)
        held_until = time.monotonic() + 3 * pace.api_monitor_s + 2 * pace.slow
        while time.monotonic() < held_until:
            apis.sample()
            assert not lab.client("GET", "/healthz", timeout=1), "restarted in maintenance"
        # (the dead server's orphaned worker may linger: only a process started since counts)
        started = {k: s for k, s in apis.spans.items() if s[0] > killed_at - 1}
        assert apis.samples >= 2 and not started, f"an API started meanwhile: {started}"
        # The operator restarts it by hand, with the agent and the CIB's parameters.
        lab.node(killed).exec(["crm_resource", "--force-start", "--resource", "fractal-api"],
                              timeout=60)
        wait_until(lambda: lab.client("GET", "/healthz"), 10 * pace.slow, "the hand restart")
        by_hand = api_pid(lab, where)
        # Pacemaker does not re-probe when maintenance mode ends (seen on the lab: only the
        # recurring monitors resume): the operator has it re-probed first, still hands off.
        # Once nothing is in flight, as for a cleanup (cluster/operations.clear_failures).
        lab.settle()
        crm(["crm", "resource", "refresh", "fractal-api"])
        lab.settle()
        probed = [(task, rc) for task, _, call, rc in api_calls(lab, where) if call > last_call]
        # (crm_mon may list one probe twice: set semantics)
        assert set(probed) == {("probe", 0)}, f"not re-probed as running: {probed}"
    finally:
        crm(["crm", "configure", "property", "maintenance-mode=false"])
    # Back under management: found running where it was; nothing restarts it.
    lab.settle()
    state = lab.status()
    assert not state.maintenance_mode
    assert where in state.where("fractal-api") and state.serving("fractal-ip") == [where]
    assert not state.failures, f"failed actions left: {state.failures}"
    assert api_pid(lab, where) == by_hand, "the API restarted after maintenance mode"
    since = [(task, interval, rc) for task, interval, call, rc in api_calls(lab, where)
             if call > last_call]
    # the probe, then its recurring monitors back and passing; no start, no stop
    assert set(since) == {("monitor", 1000, 0), ("monitor", 30000, 0), ("probe", 0, 0)}, since


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
