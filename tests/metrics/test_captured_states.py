"""The exporter's metrics for crm_mon/cibadmin output captured on the lab in five states."""

from __future__ import annotations

import calendar
import math
from pathlib import Path

import pytest

from resource_agents.metrics import cib, corosync, crm_mon
from tests.metrics.support import DATA, STATES, exposition, samples, source_for, value

QUORUM = "ha_cluster_pacemaker_nodes"


def scrape(state: str, tmp_path: Path) -> dict:
    return samples(exposition(source_for(state, tmp_path), tmp_path / "rsctmp"))


API = {"resource": "fractal-api", "managed": "true", "agent": "ocf:fractal:api",
       "group": "fractal-service", "clone": ""}
IP = {"resource": "fractal-ip", "managed": "true", "agent": "ocf:fractal:floating-ip",
      "group": "fractal-service", "clone": ""}
RESOURCES = "ha_cluster_pacemaker_resources"


def test_all_online(tmp_path: Path) -> None:
    found = scrape("all_online", tmp_path)
    for node in ("n1", "n2", "n3"):
        assert value(found, QUORUM, node=node, type="member", status="online") == 1
        assert value(found, QUORUM, node=node, type="member", status="unclean") == 0
        assert value(found, QUORUM, node=node, type="member", status="dc") == (node == "n2")
    for labels in (API, IP):
        assert value(found, RESOURCES, node="n2", role="started", status="active", **labels) == 1
        assert value(found, RESOURCES, node="n2", role="started", status="failed", **labels) == 0
    worker = {"resource": "fractal-worker", "managed": "true", "agent": "ocf:fractal:worker",
              "group": "", "clone": "fractal-workers", "status": "active", "role": "started"}
    for node in ("n1", "n2", "n3"):
        assert value(found, RESOURCES, node=node, **worker) == 1
    # captured as the cluster came up: the fence device was still starting
    assert value(found, RESOURCES, node="n1", resource="fence-openstack", role="starting",
                 managed="true", status="active", agent="stonith:fence_openstack", group="",
                 clone="") == 1
    assert value(found, "ha_cluster_pacemaker_stonith_enabled") == 1
    assert value(found, "ha_cluster_pacemaker_maintenance_mode_enabled") == 0
    assert value(found, "ha_cluster_pacemaker_fail_count", node="n2", resource="fractal-api") == 0
    assert value(found, "ha_cluster_pacemaker_migration_threshold", node="n2",
                 resource="fractal-worker") == 3
    # "Wed Nov 25 11:21:40 2026" in the host's local time, as crm_mon prints it
    assert value(found, "ha_cluster_pacemaker_config_last_change") == crm_mon.local_time(
        "Wed Nov 25 11:21:40 2026")
    assert not [k for k in found if k[0] == "ha_cluster_pacemaker_location_constraints"]
    assert not [k for k in found if k[0] == "fractal_ha_pacemaker_fencing_events"]
    assert value(found, "ha_cluster_scrape_success", collector="pacemaker") == 1


def test_failed_action_is_flagged_where_it_happened(tmp_path: Path) -> None:
    found = scrape("failed_action", tmp_path)
    # captured just after the failure: crm_mon lists it, its fail count is not in the history yet
    assert value(found, "ha_cluster_pacemaker_fail_count", node="n2", resource="fractal-ip") == 0
    # recovered in place, still flagged failed until a cleanup
    assert value(found, RESOURCES, node="n2", role="started", status="failed", **API) == 1
    state = crm_mon.parse((DATA / "failed_action.crm_mon.xml").read_bytes())
    assert [(f["node"], f["op_key"], f["exitreason"]) for f in state.failures] == [
        ("n2", "fractal-api_monitor_2000", "fractal-api process is gone")]
    history = {(h.node, h.resource): h for h in state.history}
    failed = [op for op in history[("n2", "fractal-api")].operations if op.rc == 7]
    assert [(op.task, op.interval_ms) for op in failed] == [("monitor", 2000)]


def test_move_constraint_is_reported_with_its_score(tmp_path: Path) -> None:
    found = scrape("move_constraint", tmp_path)
    score = value(found, "ha_cluster_pacemaker_location_constraints",
                  constraint="cli-prefer-fractal-service", node="n3",
                  resource="fractal-service", role="started")
    assert score == math.inf
    assert value(found, RESOURCES, node="n3", role="started", status="active", **API) == 1
    # a start that failed on n2 on the way (port still in use): INFINITY, Pacemaker's 1000000
    assert value(found, "ha_cluster_pacemaker_fail_count", node="n2",
                 resource="fractal-api") == math.inf


def test_one_node_down_and_fenced(tmp_path: Path) -> None:
    found = scrape("one_node_down", tmp_path)
    assert value(found, QUORUM, node="n3", type="member", status="online") == 0
    assert value(found, QUORUM, node="n3", type="member", status="unclean") == 0  # fenced
    assert value(found, QUORUM, node="n1", type="member", status="online") == 1
    assert value(found, RESOURCES, node="n1", role="started", status="active", **API) == 1
    # the stopped worker instance is reported once, on no node
    assert value(found, RESOURCES, node="", resource="fractal-worker", role="stopped",
                 managed="true", status="active", agent="ocf:fractal:worker", group="",
                 clone="fractal-workers") == 0
    fenced = {"target": "n3", "action": "off", "status": "success"}
    assert value(found, "fractal_ha_pacemaker_fencing_events", **fenced) == 1
    assert value(found, "fractal_ha_pacemaker_fencing_last_timestamp_seconds",
                 **fenced) == calendar.timegm((2026, 11, 25, 11, 22, 32, 0, 0, 0))


def test_no_quorum(tmp_path: Path) -> None:
    lost = ("Quorate:          No\n\nVotequorum information\n----------------------\n"
            "Expected votes:   3\nHighest expected: 3\nTotal votes:      1\nQuorum:           2 "
            "Activity blocked\nFlags:            \n\nMembership information\n"
            "----------------------\n    Nodeid      Votes    Qdevice Name\n"
            "         1          1         NR n1 (local)\n")
    source = source_for("no_quorum", tmp_path, quorumtool=lost)
    found = samples(exposition(source, tmp_path / "rsctmp"))
    assert value(found, "ha_cluster_corosync_quorate") == 0
    assert value(found, "ha_cluster_corosync_quorum_votes", type="total_votes") == 1
    assert value(found, "ha_cluster_corosync_quorum_votes", type="quorum") == 2
    assert value(found, "ha_cluster_corosync_member_votes", node_id="1", node="n1",
                 local="true") == 1
    assert not crm_mon.parse((DATA / "no_quorum.crm_mon.xml").read_bytes()).quorate
    # n3 was fenced before; n2 was lost without quorum, so it cannot be fenced: unclean
    assert value(found, QUORUM, node="n2", type="member", status="unclean") == 1
    assert value(found, QUORUM, node="n3", type="member", status="unclean") == 0
    for node in ("n2", "n3"):
        assert value(found, QUORUM, node=node, type="member", status="online") == 0


@pytest.mark.parametrize("state", STATES)
def test_every_capture_parses_consistently(state: str, tmp_path: Path) -> None:
    parsed = crm_mon.parse((DATA / f"{state}.crm_mon.xml").read_bytes())
    assert sorted(parsed.nodes) == ["n1", "n2", "n3"]
    assert parsed.last_change is not None
    assert all(r.group == "fractal-service" for r in parsed.resources
               if r.id in ("fractal-api", "fractal-ip"))
    assert parsed.stonith_enabled
    found = scrape(state, tmp_path)
    # no duplicate series, every collector succeeded
    for collector in ("pacemaker", "corosync", "agents"):
        assert value(found, "ha_cluster_scrape_success", collector=collector) == 1
    locations = cib.locations((DATA / f"{state}.cib.xml").read_bytes())
    assert [c.id for c in locations] == (["cli-prefer-fractal-service"]
                                         if state == "move_constraint" else [])


def test_quorumtool_parser_reads_a_real_output() -> None:
    # `corosync-quorumtool -p` on a one-node lab cluster (Debian 12, corosync 3.1)
    q = corosync.parse((DATA / "quorumtool_one_node.txt").read_text())
    assert q.quorate and q.node_id == "1" and q.ring_id == "1.5"
    assert q.votes == {"expected_votes": 1, "highest_expected": 1, "total_votes": 1, "quorum": 1}
    assert q.members == [corosync.Member("1", 1, "n1", True)]
    with pytest.raises(corosync.ParseError):
        corosync.parse("Cannot initialize QUORUM service\n")
