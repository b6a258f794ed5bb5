"""Agents log the cluster's way: HA_LOGFILE with the resource's tag, and the exit reason on
stderr for crm_mon; a healthy monitor says nothing."""

from __future__ import annotations

from pathlib import Path


def test_logfile_and_exit_reason(api_agent, tmp_path: Path) -> None:
    logfile = tmp_path / "ha.log"
    api_agent.params["port"] = "0"
    result = api_agent("start", HA_LOGFILE=str(logfile))
    assert result.rc == 6
    assert result.reason == "parameter port '0' must be >= 1"
    logged = logfile.read_text()
    assert "api(fractal-api)" in logged and "ERROR: parameter port '0' must be >= 1" in logged


def test_start_records_what_it_did(api_agent, tmp_path: Path) -> None:
    logfile = tmp_path / "ha.log"
    assert api_agent("start", HA_LOGFILE=str(logfile)).rc == 0
    logged = logfile.read_text()
    assert "INFO: spawned fractal-api pid" in logged and "INFO: started (pid" in logged


def test_monitor_of_a_healthy_api_logs_nothing(api_agent, tmp_path: Path) -> None:
    logfile = tmp_path / "ha.log"
    assert api_agent("start").rc == 0
    result = api_agent("monitor", HA_LOGFILE=str(logfile))
    assert result.rc == 0 and result.stderr == ""
    assert not logfile.exists() or logfile.read_text() == ""
