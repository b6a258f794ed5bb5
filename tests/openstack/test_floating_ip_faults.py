"""ocf:fractal:floating-ip when the cloud fails, is slow, or a node lacks something: the HA
layer must never turn a cloud problem into an outage (the decision table in the agent's
docstring and the README). Against the lab cloud's real Keystone and Neutron, faults injected
by its proxies."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from cluster.openstack.clouds import connect
from cluster.openstack.faults import control
from cluster.openstack.layout import MEMBER_CLOUD
from resource_agents.agents.floating_ip import FloatingIpAgent
from resource_agents.openstack import neutron
from tests.openstack.test_floating_ip_agent import holder, nodes, run

__all__ = ["nodes"]  # the fixture, shared with the agent's plain tests
pytestmark = pytest.mark.openstack
OK, GENERIC, INSTALLED, NOT_RUNNING = 0, 1, 5, 7
RECURRING = {"OCF_RESKEY_CRM_meta_interval": "10000"}
STANDBY = {"OCF_RESKEY_CRM_meta_interval": "60000", "OCF_RESKEY_CRM_meta_role": "Stopped"}


@pytest.fixture
def faults(lab_cloud, nodes):
    """Faults cleared before `nodes` stops the agents (teardown in reverse order)."""
    yield lab_cloud.layout
    control.clear(lab_cloud.layout)


def cache(runner) -> Path:
    return runner.rsctmp / "fractal-floating-ip-fractal-fip" / "session.json"


def facts(runner) -> dict[str, float]:
    """The gauges the agent left for the exporter (metrics/record.py's file)."""
    text = (runner.rsctmp / "fractal-metrics" / "fractal-fip.state").read_text()
    return {line.split()[1]: float(line.split()[2])
            for line in text.splitlines() if line.startswith("g ")}


def timed(runner, action: str, timeout_s: float, **env: str):
    started = time.monotonic()
    outcome = run(runner, action, OCF_RESKEY_CRM_meta_timeout=str(int(timeout_s * 1000)), **env)
    return outcome, time.monotonic() - started


# -- 1. a re-probe during an outage: cached truth or "not running", never an error ------------
@pytest.mark.parametrize("down", ["neutron", "keystone"])
def test_a_reprobe_during_an_outage_answers_the_cached_truth(nodes, faults, down) -> None:
    n1, n2 = nodes["n1"], nodes["n2"]
    assert run(n2, "monitor").rc == NOT_RUNNING  # n2's probe: a warm session
    assert run(n1, "start").rc == OK
    if down == "keystone":  # the tokens refused, so that the probe must log in again
        for runner in (n1, n2):
            session = json.loads(cache(runner).read_text())
            cache(runner).write_text(json.dumps({**session, "token": "gAAAAA-revoked"}))
    control.inject(faults, down, outage_seconds=120)
    probe_n1, took = timed(n1, "monitor", 20)
    assert (probe_n1.rc, took < 20) == (OK, True), probe_n1.stderr
    assert run(n2, "monitor", OCF_RESKEY_CRM_meta_timeout="20000").rc == NOT_RUNNING


# -- 2. a control-plane outage is not a data-plane outage --------------------------------------
def test_the_monitor_keeps_the_address_through_a_cloud_outage_loudly(nodes, faults) -> None:
    n1 = nodes["n1"]
    assert run(n1, "start").rc == OK
    control.inject(faults, "neutron", outage_seconds=40)  # api_grace's old cliff was 30 s
    ended = time.monotonic() + 40
    codes = []
    while time.monotonic() < ended:
        outcome = run(n1, "monitor", OCF_RESKEY_CRM_meta_timeout="20000", **RECURRING)
        codes.append(outcome.rc)
        time.sleep(4)
    assert set(codes) == {OK}, codes
    assert facts(n1)["cloud_api_failing_seconds"] >= 30  # for the exporter and the alert
    assert "cloud API failing" in outcome.stderr  # and a log line
    control.clear(faults)
    assert run(n1, "monitor", **RECURRING).rc == OK
    assert facts(n1)["cloud_api_failing_seconds"] == 0


# -- 3. the cache: keyed by what it depends on, validated on read ------------------------------
def test_a_parameter_change_takes_effect_at_the_next_start(nodes, lab_cloud) -> None:
    n1 = nodes["n1"]
    assert run(n1, "start").rc == OK
    assert holder(lab_cloud) == "n1"
    n1.params["port_map"] = f"n1:{lab_cloud.topology.ports['n3']}"
    assert run(n1, "start").rc == OK
    assert holder(lab_cloud) == "n3"
    assert run(n1, "monitor", **RECURRING).rc == OK


@pytest.mark.parametrize("damage", [
    lambda s: json.dumps({**s, "expires_at": None}),
    lambda s: json.dumps({**s, "port_id": 42, "endpoint": ["x"]}),
    lambda s: "{not json",
    lambda s: json.dumps([s]),
])
def test_a_corrupt_cache_is_discarded(nodes, lab_cloud, damage) -> None:
    n1 = nodes["n1"]
    assert run(n1, "start").rc == OK
    cache(n1).write_text(damage(json.loads(cache(n1).read_text())))
    monitored = run(n1, "monitor", **RECURRING)
    assert monitored.rc == OK, monitored.stderr
    assert "discarded" in monitored.stderr
    cache(n1).write_text(damage(json.loads(cache(n1).read_text())))
    assert run(n1, "stop").rc == OK
    assert holder(lab_cloud) is None


# -- 4. node-local conditions are ERR_INSTALLED, naming the node -------------------------------
@pytest.mark.parametrize("node, params", [
    ("n9", {}),  # no compute server named like this node
    ("n1", {"network": "public"}),  # n1's server has no port on that network
])
def test_a_node_local_problem_is_err_installed_on_that_node_only(nodes, lab_cloud, node,
                                                                 params) -> None:
    n1, n2 = nodes["n1"], nodes["n2"]
    n1.node = node
    n1.params.update(params)
    assert run(n1, "monitor").rc == NOT_RUNNING  # its probe: not here
    started = run(n1, "start")
    assert started.rc == INSTALLED, started.stderr
    assert node in started.reason
    assert run(n2, "start").rc == OK  # the service stays on the others
    assert holder(lab_cloud) == "n2"


# -- 6. hard deadlines, and a bounded stop that succeeds -------------------------------------
@pytest.mark.parametrize("slow", [("neutron",), ("neutron", "keystone")])
def test_start_and_stop_finish_within_their_timeouts_under_latency(nodes, faults, lab_cloud,
                                                                   slow) -> None:
    """3 s a request. A slow Keystone makes Neutron slower still (it validates tokens
    there, logging in itself first): a call may then take 12 s, and what counts is that every
    action ends within its timeout, whatever its outcome."""
    n1, n2 = nodes["n1"], nodes["n2"]
    assert run(n2, "monitor").rc == NOT_RUNNING  # warm
    for service in slow:
        control.inject(faults, service, latency_ms=3000)
    cold, took = timed(n1, "start", 20)  # a login through 3 s per call
    assert took < 20, (cold.rc, took)
    warm, took = timed(n2, "start", 20)
    assert took < 20, (warm.rc, took)
    if slow == ("neutron",):  # a GET and a PUT: 6 s
        assert warm.rc == OK, warm.stderr
        assert holder(lab_cloud) == "n2"
    for runner in (n1, n2):
        stopped, took = timed(runner, "stop", 20)
        assert (stopped.rc, took < 20) == (OK, True), (stopped.stderr, took)


def test_a_stop_during_total_failure_is_bounded_and_succeeds(nodes, faults, lab_cloud) -> None:
    n1 = nodes["n1"]
    assert run(n1, "start").rc == OK
    control.inject(faults, "neutron", error_rate=1)
    control.inject(faults, "keystone", error_rate=1)
    stopped, took = timed(n1, "stop", 20)
    assert (stopped.rc, took < 20) == (OK, True), (stopped.stderr, took)
    assert "could not" in stopped.stderr  # said loudly
    started, took = timed(n1, "start", 20)
    assert (started.rc, took < 20) == (GENERIC, True), (started.stderr, took)
    control.clear(faults)
    assert run(nodes["n2"], "start").rc == OK  # one PUT takes it wherever it pointed
    assert holder(lab_cloud) == "n2"


def test_the_stop_disassociates_only_the_revision_it_read(nodes, lab_cloud, monkeypatch) -> None:
    """Another node takes the address between stop's GET and its PUT: Neutron refuses the
    conditional PUT (412) and the stop leaves the address where it now is."""
    n1 = nodes["n1"]
    assert run(n1, "start").rc == OK
    member = connect(lab_cloud.layout, MEMBER_CLOUD).network
    real = neutron.call

    def racing(method, url, *args, **kwargs):
        answer = real(method, url, *args, **kwargs)
        if method == "GET" and not racing.done:
            racing.done = True
            member.update_ip(lab_cloud.topology.floating_ip_id,
                             port_id=lab_cloud.topology.ports["n2"])
        return answer

    racing.done = False
    monkeypatch.setattr(neutron, "call", racing)
    environ = n1.env(OCF_RESKEY_CRM_meta_on_node="n1")
    assert FloatingIpAgent(environ).run(["floating-ip", "stop"]) == OK
    assert racing.done
    assert holder(lab_cloud) == "n2"


# -- standby freshness: the takeover logs in nowhere ------------------------------------------
def test_a_standby_monitor_keeps_the_session_ready_for_a_takeover(nodes, faults,
                                                                  lab_cloud) -> None:
    n1, n2 = nodes["n1"], nodes["n2"]
    assert run(n1, "start").rc == OK
    # n2's probe happened while the cloud was down: no session there yet
    assert run(n2, "monitor", **STANDBY).rc == NOT_RUNNING
    assert cache(n2).exists()
    control.revoke_tokens(lab_cloud.layout, "fractal")  # an operator revoked the tokens
    for _ in range(10):  # Keystone revokes by the second: a token of this second is dead too
        assert run(n2, "monitor", **STANDBY).rc == NOT_RUNNING
        token = json.loads(cache(n2).read_text())["token"]
        if run(n2, "monitor", **STANDBY).rc == NOT_RUNNING and \
                json.loads(cache(n2).read_text())["token"] == token:
            break
        time.sleep(0.5)
    control.inject(faults, "keystone", latency_ms=1500)
    took_over, took = timed(n2, "start", 20)
    assert took_over.rc == OK, took_over.stderr
    assert json.loads(cache(n2).read_text())["token"] == token  # no login on the way
    assert took < 4, took  # a login through this Keystone alone takes longer
    assert holder(lab_cloud) == "n2"
