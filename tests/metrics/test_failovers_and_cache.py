"""Failovers counted across snapshots, the shared crm_mon cache, and a failing crm_mon."""

from __future__ import annotations

import logging
import os
import stat
import threading
from pathlib import Path

import pytest
from lxml import etree

from resource_agents.metrics import crm_mon
from resource_agents.metrics.failovers import FailoverTracker
from resource_agents.metrics.source import Source
from tests.metrics.support import DATA, exposition, samples, source_for, value


def captured(name: str, **online: bool) -> bytes:
    """A captured crm_mon document, with some nodes' online flag changed."""
    root = etree.fromstring((DATA / f"{name}.crm_mon.xml").read_bytes())
    for node in root.iterfind("nodes/node"):
        if node.get("name") in online:
            node.set("online", str(online[node.get("name")]).lower())
    return etree.tostring(root)


def test_a_crash_of_the_api_node_counts_a_node_lost_failover() -> None:
    tracker = FailoverTracker()
    # the service on n3 (move_constraint), then n3 crashed and was fenced: on n1 (one_node_down)
    assert tracker.observe(crm_mon.parse(captured("move_constraint")), now=100.0) == []
    events = tracker.observe(crm_mon.parse(captured("one_node_down")), now=104.5)
    assert {(e.resource, e.cause, e.source, e.target) for e in events} == {
        ("fractal-api", "node_lost", "n3", "n1"), ("fractal-ip", "node_lost", "n3", "n1")}
    assert all(e.seconds == pytest.approx(4.5) for e in events)
    assert tracker.counts[("fractal-api", "node_lost")] == 1
    assert tracker.counts[("fractal-api", "moved")] == 0
    h = tracker.histograms["fractal-api"]
    assert (h.count, h.sum) == (1, pytest.approx(4.5))
    assert h.counts[:3] == [0, 0, 0] and h.counts[3] == 1  # 4.5 s: in the le=5 bucket
    # the same placement again is no new failover
    assert tracker.observe(crm_mon.parse(captured("one_node_down")), now=110.0) == []


def test_an_operator_move_is_counted_as_moved() -> None:
    tracker = FailoverTracker()
    tracker.observe(crm_mon.parse(captured("move_constraint")), now=0.0)  # on n3
    # on n1 while n3 is still up and nothing failed on n3: a move
    events = tracker.observe(crm_mon.parse(captured("one_node_down", n3=True)), now=3.0)
    assert {(e.resource, e.cause) for e in events} == {("fractal-api", "moved"),
                                                       ("fractal-ip", "moved")}


def test_a_failed_resource_that_moved_is_resource_failed() -> None:
    tracker = FailoverTracker()
    tracker.observe(crm_mon.parse(captured("failed_action")), now=0.0)  # on n2, failed there
    events = tracker.observe(crm_mon.parse(captured("move_constraint")), now=6.0)  # on n3
    causes = {e.resource: e.cause for e in events}
    assert causes == {"fractal-api": "resource_failed", "fractal-ip": "moved"}


def test_a_partition_without_quorum_counts_nothing() -> None:
    tracker = FailoverTracker()
    tracker.observe(crm_mon.parse(captured("failed_action")), now=0.0)
    assert tracker.observe(crm_mon.parse(captured("no_quorum")), now=5.0) == []
    assert tracker.where["fractal-api"] == ("n2", 0.0)  # the minority's view changed nothing


def test_failover_series_exist_from_the_start_at_zero(tmp_path: Path) -> None:
    # increase() would miss a first failover on a series that appears with the value 1
    found = samples(exposition(source_for("all_online", tmp_path), tmp_path))
    for cause in ("node_lost", "resource_failed", "moved"):
        assert value(found, "fractal_ha_failovers_total", resource="fractal-api",
                     cause=cause) == 0
    assert not [k for k in found if k[0] == "fractal_ha_failovers_total"
                and dict(k[1])["resource"] == "fractal-worker"]  # clones do not fail over


def test_concurrent_scrapes_share_one_crm_mon_run(tmp_path: Path) -> None:
    source = source_for("all_online", tmp_path, ttl=30.0)
    texts: list[str] = []
    threads = [threading.Thread(target=lambda: texts.append(exposition(source, tmp_path)))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(texts) == 8
    assert source.runs == {"crm_mon": 1, "cibadmin": 1, "corosync-quorumtool": 1,
                           "cibadmin-tickets": 0}  # no ticket in crm_mon: not asked
    found = samples(texts[-1])
    assert value(found, "fractal_ha_exporter_command_runs_total", command="crm_mon") == 1


def test_cibadmin_runs_again_only_when_the_configuration_changed(tmp_path: Path) -> None:
    document = tmp_path / "crm_mon.xml"
    document.write_bytes(captured("all_online"))
    source = Source(ttl=0.0, crm_mon_argv=["cat", str(document)],
                    cibadmin_argv=["cat", str(DATA / "all_online.cib.xml")],
                    quorumtool_argv=["cat", str(DATA / "quorumtool_one_node.txt")])
    for _ in range(3):
        source.snapshot()
    assert (source.runs["crm_mon"], source.runs["cibadmin"]) == (3, 1)
    document.write_bytes(captured("move_constraint"))  # a later last_change
    source.snapshot()
    assert (source.runs["crm_mon"], source.runs["cibadmin"]) == (4, 2)


def test_a_failing_crm_mon_is_a_metric_and_a_log_line(tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    tool = tmp_path / "crm_mon"
    tool.write_text("#!/bin/sh\necho 'crm_mon: Connection to cluster failed: "
                    "Transport endpoint is not connected' >&2\nexit 102\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    source = Source(ttl=0.0, crm_mon_argv=[str(tool)],
                    cibadmin_argv=["cat", str(DATA / "all_online.cib.xml")],
                    quorumtool_argv=["cat", str(DATA / "quorumtool_one_node.txt")])
    with caplog.at_level(logging.WARNING, logger="fractal-ha.exporter"):
        first = samples(exposition(source, tmp_path))
        second = samples(exposition(source, tmp_path))
    assert value(first, "ha_cluster_scrape_success", collector="pacemaker") == 0
    assert value(first, "ha_cluster_scrape_success", collector="corosync") == 1
    assert value(second, "fractal_ha_exporter_command_failures_total", command="crm_mon") == 2
    assert not [k for k in second if k[0] == "ha_cluster_pacemaker_nodes"]
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == ("crm_mon failed: exit 102: crm_mon: Connection to cluster failed: "
                        "Transport endpoint is not connected")
    # fixed: one line says so
    tool.write_text(f"#!/bin/sh\nexec cat {DATA / 'all_online.crm_mon.xml'}\n")
    with caplog.at_level(logging.WARNING, logger="fractal-ha.exporter"):
        third = samples(exposition(source, tmp_path))
    assert value(third, "ha_cluster_scrape_success", collector="pacemaker") == 1
    assert caplog.records[-1].getMessage() == "crm_mon works again"


def test_a_hung_crm_mon_times_out(tmp_path: Path) -> None:
    source = Source(ttl=0.0, timeout=0.3, crm_mon_argv=["sleep", "10"],
                    cibadmin_argv=["cat", str(DATA / "all_online.cib.xml")],
                    quorumtool_argv=["cat", str(DATA / "quorumtool_one_node.txt")])
    snap = source.snapshot()
    assert snap.pacemaker.error == "timed out after 0.3 s"
    assert snap.pacemaker.seconds < 2
    assert snap.corosync.value is not None and snap.corosync.value.quorate


def test_a_missing_tool_is_reported_not_raised(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-crm_mon")
    source = Source(ttl=0.0, crm_mon_argv=[missing],
                    cibadmin_argv=[missing], quorumtool_argv=[missing])
    snap = source.snapshot()
    assert "No such file" in snap.pacemaker.error
    assert os.path.basename(missing) in snap.pacemaker.error
