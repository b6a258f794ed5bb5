"""The exporter run by a real Pacemaker (one lab node): cluster/config/exporter.crm loaded with
crmsh, ocf:fractal:exporter starts `fractal-ha exporter`, the real crm_mon, cibadmin and
corosync-quorumtool feed it, and its own agent's records show up in what it serves."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster.lab.node import Node
from cluster.lab.single import SingleNodeCluster
from tests.metrics.support import samples, value
from tests.support.processes import wait_until

pytestmark = pytest.mark.pacemaker
CRM = Path(__file__).resolve().parents[2] / "cluster" / "config" / "exporter.crm"
PIDFILE = "/run/resource-agents/fractal-exporter-fractal-exporter/exporter.pid"
AGENT = {"resource": "fractal-exporter", "agent": "exporter"}


@pytest.fixture(scope="module")
def node(ocf_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    with SingleNodeCluster(tmp_path_factory.mktemp("single"),
                           ocf_providers=ocf_root / "resource.d") as cluster:
        node = cluster.node
        node.exec(["crm", "configure", "property", "stonith-enabled=false"])
        node.exec(["crm", "configure", "load", "update", str(CRM)])
        # It serves while its start op still waits for it: wait for the exporter to report
        # its own start as done (crm_mon's view, through its 1 s cache).
        wait_until(lambda: 'role="started"' in (metrics(node) or ""), 60,
                   "the exporter started by Pacemaker", interval=0.5)
        yield node


def metrics(node: Node) -> str | None:
    done = node.exec(["curl", "-fsS", "-m", "5", "http://127.0.0.1:9664/metrics"], check=False)
    return done.stdout if done.returncode == 0 else None


def test_exporter_reports_the_real_cluster(node: Node) -> None:
    text = metrics(node)
    assert text
    found = samples(text)
    assert value(found, "ha_cluster_pacemaker_nodes", node="n1", type="member",
                 status="online") == 1
    assert value(found, "ha_cluster_pacemaker_nodes", node="n1", type="member", status="dc") == 1
    assert value(found, "ha_cluster_corosync_quorate") == 1
    assert value(found, "ha_cluster_corosync_member_votes", node_id="1", node="n1",
                 local="true") == 1
    assert value(found, "ha_cluster_pacemaker_resources", node="n1",
                 resource="fractal-exporter", role="started", managed="true", status="active",
                 agent="ocf:fractal:exporter", group="", clone="fractal-exporters") == 1
    for collector in ("pacemaker", "corosync", "agents"):
        assert value(found, "ha_cluster_scrape_success", collector=collector) == 1
    # the agent that started the exporter left its record, which the exporter serves
    assert value(found, "fractal_ha_agent_actions_total", action="start", exit_code="0",
                 **AGENT) == 1
    assert value(found, "fractal_ha_agent_actions_total", action="probe", exit_code="7",
                 **AGENT) == 1
    if shutil.which("promtool"):
        done = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                              capture_output=True, timeout=60)
        assert done.returncode == 0 and not (done.stdout + done.stderr).strip(), done.stdout


def test_a_killed_exporter_is_restarted_and_the_failure_counted(node: Node) -> None:
    pid = node.exec(["cat", PIDFILE]).stdout.strip()
    node.exec(["kill", "-KILL", pid])

    def restarted() -> dict | None:
        text = metrics(node)
        found = samples(text) if text else {}
        key = ("ha_cluster_pacemaker_fail_count",
               frozenset({"node": "n1", "resource": "fractal-exporter"}.items()))
        return found if found.get(key) == 1 else None

    found = wait_until(restarted, 60, "the exporter restarted with fail count 1", interval=1)
    assert node.exec(["cat", PIDFILE]).stdout.strip() != pid
    assert value(found, "fractal_ha_agent_actions_total", action="monitor", exit_code="7",
                 **AGENT) == 1
    assert value(found, "fractal_ha_agent_actions_total", action="start", exit_code="0",
                 **AGENT) == 2

