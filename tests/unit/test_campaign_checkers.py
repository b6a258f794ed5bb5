"""The campaign's checkers on made-up samples: each can fail, and only on what it is for."""

from __future__ import annotations

import random
from collections import Counter

from cluster.lab.campaign import faults
from cluster.lab.campaign.checkers import FipWatch, Gaps, interleaved, leftovers, stored_twice
from cluster.lab.campaign.watch import outage
from resource_agents.metrics import crm_mon


def fip_watch() -> FipWatch:
    watch = FipWatch.__new__(FipWatch)  # no cloud: only what record/at use
    watch.node_of_port = {"p1": "n1", "p2": "n2"}
    watch.samples = []
    return watch


def test_neutron_association_is_read_by_node_over_time() -> None:
    watch = fip_watch()
    watch.record(10.0, "p1")
    watch.record(11.0, None)
    watch.record(12.0, "p2")
    watch.record(13.0, "stranger")
    assert [watch.at(t) for t in (9.0, 10.5, 11.5, 12.5, 14.0)] == [None, "n1", None, "n2",
                                                                    "stranger"]


def test_two_nodes_answering_in_turn_is_split_brain() -> None:
    answers = [(0.0, "n1"), (1.0, "n2"), (2.0, "n1")]
    assert interleaved(answers)


def test_a_failover_and_a_later_fail_back_are_not() -> None:
    answers = [(0.0, "n1"), (1.0, "n1"), (5.0, "n2"), (6.0, "n2"), (60.0, "n1")]
    assert interleaved(answers) == []


def test_a_submission_stored_twice_is_found() -> None:
    stored = Counter({-2.1: 1, -2.2: 2})
    assert stored_twice(stored, [-2.1, -2.2, -2.3]) == {-2.2: 2}
    assert stored_twice(Counter({-2.1: 1}), [-2.1]) == {}


def state(*, unclean: bool = False, failures: list | None = None,
          quorate: bool = True) -> crm_mon.ClusterState:
    nodes = {name: crm_mon.NodeState(name, True, False, False, unclean and name == "n2",
                                     name == "n1") for name in ("n1", "n2", "n3")}
    return crm_mon.ClusterState(nodes=nodes, dc="n1", quorate=quorate, resources=[],
                                failures=failures or [])


def test_a_clean_cluster_has_no_leftovers() -> None:
    assert leftovers(state(), "primitive fractal-api ocf:fractal:api\n") == []


def test_bans_failures_unclean_nodes_and_no_quorum_are_leftovers() -> None:
    failures = [{"op_key": "fractal-api_monitor_1000", "node": "n1", "status": "error"}]
    found = leftovers(state(unclean=True, failures=failures, quorate=False),
                      "location cli-ban-fractal-service-on-n1 fractal-service role=Started "
                      "-inf: n1\n")
    assert len(found) == 4, found
    assert leftovers(None, "") == ["no node answers crm_mon"]


def test_gaps_remember_the_longest_pause() -> None:
    gaps = Gaps()
    for now in (0.0, 0.25, 0.5, 1.4, 1.6):
        gaps.tick(now)
    assert round(gaps.longest, 2) == 0.9


def test_outage_is_the_longest_stretch_without_an_answer() -> None:
    rows = [(0.1, 0.2, True), (0.2, 1.2, False), (0.3, 1.3, False), (1.4, 1.5, True),
            (1.5, 2.5, False), (2.6, 2.7, True), (2.7, 2.8, True)]
    assert round(outage(rows, 0.0, 10.0), 2) == 1.3  # 0.2 (last answer) to 1.5 (next one)
    assert outage([(0.1, 0.2, True)], 0.0, 10.0) == 0.0
    assert outage([(0.1, 0.2, False)], 0.0, 10.0) == 10.0  # never answered again
    # Service lost at the fault: counted from the fault.
    assert round(outage([(0.0, 1.0, False), (1.1, 1.2, True)], 0.0, 10.0), 2) == 1.2


def test_a_lone_failed_probe_late_in_a_fault_is_a_short_gap() -> None:
    """The 30-fault campaign's #30: one probe of 187 failed 8.7 s into the fault; the old
    definition (fault to the first answer after the last failure) made it 8.8 s of outage."""
    rows = [(t / 10, t / 10 + 0.01, True) for t in range(87)]
    rows += [(8.7, 9.7, False), (8.8, 8.81, True), (8.9, 8.91, True)]
    assert round(outage(rows, 0.0, 20.0), 2) == 0.2  # from 8.61 to 8.81


def test_a_short_campaign_covers_distinct_kinds_and_is_reproducible() -> None:
    first = faults.draw(random.Random(7), 10)
    assert first == faults.draw(random.Random(7), 10)
    assert len(set(first)) == 10
    assert set(faults.draw(random.Random(7), 30)) == set(faults.KINDS)


def test_the_report_renders_stats_and_anomalies() -> None:
    from types import SimpleNamespace

    from cluster.lab.campaign.load import Ledger
    from cluster.lab.campaign.report import markdown
    from cluster.lab.campaign.run import FaultRecord, Outcome

    records = [FaultRecord(1, "crash serving node", "n1 (serving)", "n1", 4.2, 4.5, 30.0, "n2"),
               FaultRecord(2, "crash serving node", "n2 (serving)", "n2", None, None, 31.0,
                           violations=["the service did not answer\ncrm_mon says"])]
    gaps = SimpleNamespace(longest=0.3)
    watch = SimpleNamespace(apis=SimpleNamespace(samples=10, gaps=gaps),
                            fip=SimpleNamespace(samples=[1], gaps=gaps, errors=[]))
    ledger = Ledger(markers=[0.0] * 50, backlog=262, drained_s=166.4)
    load = SimpleNamespace(ledger=ledger, started=100.0, stopped=125.0, max_backlog=100)
    outcome = Outcome(5, records, load, watch,  # type: ignore[arg-type]
                      ["1 submissions stored more than once"], [], 12.0)
    text = markdown(outcome, "fractal-ha lab campaign --seed 5")
    assert "50 sent in 25 s (2.00/s)" in text  # the load's rate, as achieved
    assert "262 accepted fractals not done yet; all done 166 s after it" in text
    assert not outcome.passed
    assert "seed 5, 2 faults, FAILED" in text
    assert "| crash serving node | 2 | 4.20 | 4.20 | 4.20 | 30.50 | 31.00 | 31.00 | 1 |" in text
    assert "VIOLATION: the service did not answer" in text and "crm_mon says" in text


def test_neutron_association_is_read_from_its_database(tmp_path) -> None:
    import sqlite3

    watch = fip_watch()
    watch.db, watch.fip_id, watch.errors, watch.gaps = tmp_path / "neutron.db", "fip", [], Gaps()
    watch.sample()  # no database: an error, not a sample
    assert watch.samples == [] and len(watch.errors) == 1
    with sqlite3.connect(watch.db) as db:
        db.execute("CREATE TABLE floatingips (id TEXT, fixed_port_id TEXT)")
        db.execute("INSERT INTO floatingips VALUES ('fip', 'p2')")
    watch.sample()
    assert watch.samples[-1][1] == "n2"
    watch.fip_id = "another"
    watch.sample()  # the address gone from Neutron: an error
    assert len(watch.errors) == 2
