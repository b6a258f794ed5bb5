"""What the agents record at the end of each action, and how the exporter serves it."""

from __future__ import annotations

import os
from pathlib import Path

from resource_agents.metrics import record
from tests.metrics.support import exposition, samples, source_for, value
from tests.support.agents import AgentRunner
from tests.support.processes import free_port

LABELS = {"resource": "fractal-api", "agent": "api"}


def test_the_api_agent_records_every_action(ocf_root: Path, tmp_path: Path) -> None:
    rsctmp = tmp_path / "rsctmp"
    agent = AgentRunner(ocf_root, "api", rsctmp, "fractal-api", {
        "bind_address": "127.0.0.1", "port": str(free_port()),
        "data_dir": str(tmp_path / "data"), "log_file": str(tmp_path / "api.log")})
    interval = {"OCF_RESKEY_CRM_meta_interval": "5000"}
    try:
        assert agent("monitor").rc == 7  # interval 0: Pacemaker's probe
        assert agent("start").rc == 0
        for _ in range(3):
            assert agent("monitor", **interval).rc == 0
        pid = int((rsctmp / "fractal-api-fractal-api" / "api.pid").read_text())
        os.kill(pid, 9)
        failed = agent("monitor", **interval)
        assert failed.rc == 7 and failed.reason == "fractal-api process is gone"
    finally:
        assert agent("stop").rc == 0
    assert agent("meta-data").rc == 0  # asked by tools: not recorded

    states = record.read_all(str(rsctmp))
    assert [(s.agent, s.resource) for s in states] == [("api", "fractal-api")]
    s = states[0]
    assert s.counts == {("probe", "7"): 1, ("start", "0"): 1, ("monitor", "0"): 3,
                        ("monitor", "7"): 1, ("stop", "0"): 1}
    code, seconds, _, reason = s.last["monitor"]
    assert (code, reason) == (7, "fractal-api process is gone")
    assert 0 < seconds < 5
    assert 0 < s.sums["start"] < 60

    found = samples(exposition(source_for("all_online", tmp_path), rsctmp))
    assert value(found, "fractal_ha_agent_actions_total", action="monitor", exit_code="0",
                 **LABELS) == 3
    assert value(found, "fractal_ha_agent_action_duration_seconds_count", action="monitor",
                 **LABELS) == 4
    assert value(found, "fractal_ha_agent_last_exit_code", action="monitor", **LABELS) == 7
    assert value(found, "fractal_ha_agent_last_exit_reason_info", action="monitor",
                 reason="fractal-api process is gone", **LABELS) == 1
    assert value(found, "fractal_ha_agent_last_exit_reason_info", action="start", reason="",
                 **LABELS) == 1


def test_clone_instances_are_reported_under_the_resource_id(tmp_path: Path) -> None:
    path = record.path_for(str(tmp_path), "fractal-worker:1")
    record.update(path, "worker", record.resource_of("fractal-worker:1"), "monitor", 0, 0.01)
    assert os.path.basename(path) == "fractal-worker_1.state"
    assert record.read_all(str(tmp_path))[0].resource == "fractal-worker"


def test_facts_gauge_counter_and_observation(tmp_path: Path) -> None:
    path = record.path_for(str(tmp_path), "fractal-ip")
    record.update(path, "floating-ip", "fractal-ip", "start", 0, 1.5,
                  facts={"associated": ("g", 1), "association_duration_seconds": ("o", 1.25),
                         "takeovers": ("a", 1.0)})
    record.update(path, "floating-ip", "fractal-ip", "start", 0, 0.5,
                  facts={"associated": ("g", 1), "association_duration_seconds": ("o", 0.25),
                         "takeovers": ("a", 0.0)})
    record.update(path, "floating-ip", "fractal-ip", "stop", 0, 0.2,
                  facts={"associated": ("g", 0)})
    found = samples(exposition(source_for("all_online", tmp_path), tmp_path))
    ip = {"resource": "fractal-ip"}
    assert value(found, "fractal_ha_floating_ip_associated", **ip) == 0
    assert value(found, "fractal_ha_floating_ip_takeovers_total", **ip) == 1
    assert value(found, "fractal_ha_floating_ip_association_duration_seconds_count", **ip) == 2
    assert value(found, "fractal_ha_floating_ip_association_duration_seconds_sum", **ip) == 1.5
    assert value(found, "fractal_ha_floating_ip_last_association_duration_seconds", **ip) == 0.25


def test_a_damaged_line_loses_one_fact_not_the_record(tmp_path: Path) -> None:
    path = Path(record.path_for(str(tmp_path), "fractal-api"))
    record.update(str(path), "api", "fractal-api", "monitor", 0, 0.01)
    path.write_text(path.read_text() + "c monitor zero many\nl start\n")
    record.update(str(path), "api", "fractal-api", "monitor", 0, 0.01)
    assert record.read_all(str(tmp_path))[0].counts == {("monitor", "0"): 2}


def test_an_unwritable_rsctmp_never_fails_the_action(ocf_root: Path, tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    agent = AgentRunner(ocf_root, "api", blocked, "fractal-api",
                        {"port": str(free_port()), "log_file": str(tmp_path / "api.log")})
    assert agent("monitor").rc == 7  # the record cannot be written; the answer is unchanged
