"""ocf:fractal:floating-ip against the lab cloud's real Neutron, as two nodes would run it."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pytest

from cluster.openstack.clouds import connect
from cluster.openstack.layout import MEMBER_CLOUD
from tests.support.agents import AgentRunner

pytestmark = pytest.mark.openstack
OK, GENERIC, INSTALLED, NOT_RUNNING = 0, 1, 5, 7


@pytest.fixture
def nodes(lab_cloud, ocf_root: Path, tmp_path: Path):
    """The agent as node n1 and as node n2 would run it (each with its own runtime dir)."""
    runners = {}
    for node in ("n1", "n2"):
        runner = AgentRunner(ocf_root, "floating-ip", tmp_path / node, "fractal-fip", {
            "cloud": MEMBER_CLOUD, "clouds_yaml": str(lab_cloud.layout.clouds_yaml),
            "floating_ip": lab_cloud.topology.floating_ip})
        runner.node = node
        runners[node] = runner
    yield runners
    for runner in runners.values():
        runner("stop", OCF_RESKEY_CRM_meta_on_node=runner.node)


def run(runner: AgentRunner, action: str, **env: str):
    return runner(action, OCF_RESKEY_CRM_meta_on_node=runner.node, **env)


def holder(lab_cloud) -> str | None:
    port = connect(lab_cloud.layout).network.get_ip(lab_cloud.topology.floating_ip_id).port_id
    return next((n for n, p in lab_cloud.topology.ports.items() if p == port), None)


def test_start_moves_it_and_stop_never_steals_it(nodes, lab_cloud) -> None:
    n1, n2 = nodes["n1"], nodes["n2"]
    assert run(n1, "monitor").rc == NOT_RUNNING
    assert run(n1, "stop").rc == OK
    assert run(n1, "start").rc == OK
    assert holder(lab_cloud) == "n1"
    assert run(n1, "monitor").rc == OK
    assert run(n2, "start").rc == OK  # n1 failed over: one update moves it
    assert holder(lab_cloud) == "n2"
    assert run(n1, "monitor").rc == NOT_RUNNING
    assert run(n1, "stop").rc == OK  # a late stop on n1 ...
    assert holder(lab_cloud) == "n2"  # ... leaves it where it now serves
    assert run(n2, "stop").rc == OK
    assert holder(lab_cloud) is None


def test_token_cache_is_private_and_holds_no_password(nodes, lab_cloud) -> None:
    n1 = nodes["n1"]
    assert run(n1, "start").rc == OK
    cache = n1.rsctmp / "fractal-floating-ip-fractal-fip" / "session.json"
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o600
    text = cache.read_text()
    assert lab_cloud.layout.secret("fractal") not in text
    assert json.loads(text)["port_id"] == lab_cloud.topology.ports["n1"]


def test_a_refused_token_is_renewed(nodes) -> None:
    n1 = nodes["n1"]
    assert run(n1, "start").rc == OK
    cache = n1.rsctmp / "fractal-floating-ip-fractal-fip" / "session.json"
    session = json.loads(cache.read_text())
    session["token"] = "gAAAAA-not-a-valid-token"
    cache.write_text(json.dumps(session))
    assert run(n1, "monitor").rc == OK
    assert json.loads(cache.read_text())["token"] != "gAAAAA-not-a-valid-token"


def test_a_cloud_api_failure_never_fails_the_monitor(nodes) -> None:
    """No api_grace cliff: past it the monitor logs errors, and the address stays running
    (the NAT still forwards; nobody can move it while the API is down)."""
    n1 = nodes["n1"]
    assert run(n1, "start").rc == OK
    cache = n1.rsctmp / "fractal-floating-ip-fractal-fip" / "session.json"
    session = json.loads(cache.read_text())
    session["endpoint"] = "http://127.0.0.1:9/v2.0"  # nothing answers: the API is "down"
    cache.write_text(json.dumps(session))
    recurring = {"OCF_RESKEY_CRM_meta_interval": "10000"}
    first = run(n1, "monitor", **recurring)
    assert first.rc == OK and "WARNING" in first.stderr, first.stderr
    n1.params["api_grace"] = "0"
    past = run(n1, "monitor", **recurring)
    assert past.rc == OK and "ERROR" in past.stderr and "cloud API failing" in past.stderr


def test_an_unusable_clouds_yaml_keeps_the_address_off_this_node_only(nodes) -> None:
    """A node whose clouds.yaml lacks the cloud: its probe says "not here" (it cannot have
    started it), its start fails with a reason and ERR_INSTALLED (banned from this node, not
    stopped everywhere as ERR_CONFIGURED would), and the other node still takes the address."""
    n1, n2 = nodes["n1"], nodes["n2"]
    n1.params["cloud"] = "no-such-cloud"
    assert run(n1, "monitor").rc == NOT_RUNNING
    result = run(n1, "start")
    assert result.rc == INSTALLED
    assert "no-such-cloud" in result.reason
    assert run(n2, "start").rc == OK
    assert run(n2, "monitor", OCF_RESKEY_CRM_meta_interval="10000").rc == OK


def test_a_trace_shows_the_cloud_calls_and_no_secret(nodes, lab_cloud, tmp_path: Path) -> None:
    """`crm resource trace` on the address: the Neutron calls with their status and duration,
    never the member's password nor the token (from the login or from the cache)."""
    n1 = nodes["n1"]
    traces = []
    for action in ("start", "monitor", "stop"):
        target = tmp_path / "traces" / action
        env = {"OCF_TRACE_RA": "1", "OCF_TRACE_FILE": str(target)}
        if action == "monitor":
            env["OCF_RESKEY_CRM_meta_interval"] = "10000"
        assert run(n1, action, **env).rc == OK
        traces.append(target.read_text())
        if action == "start":
            cache = n1.rsctmp / "fractal-floating-ip-fractal-fip" / "session.json"
            token = json.loads(cache.read_text())["token"]
    text = "\n".join(traces)
    assert re.search(r"cloud PUT /v2\.0/floatingips/\S+ -> 200 in \d+\.\d ms", text), text
    assert re.search(r"cloud GET /v2\.0/floatingips/\S+ -> 200", traces[1])
    assert lab_cloud.layout.secret("fractal") not in text
    assert token not in text
