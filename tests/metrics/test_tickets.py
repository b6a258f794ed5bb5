"""Multi-site tickets in the exporter: crm_mon's and the CIB's views captured on the booth lab
(cluster/geo/ticket_lab.py, `python -m tests.metrics.capture booth`), at the site holding the
ticket and at the other one."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from lxml import etree

from resource_agents.metrics.source import Source
from tests.metrics.support import DATA, QUORATE, exposition, samples, source_for, value

TICKET = {"ticket": "fractal-service"}


def booth_source(view: str, tmp: Path, tickets_argv: list[str] | None = None) -> Source:
    quorum = tmp / "quorumtool.txt"
    quorum.write_text(QUORATE)
    return Source(crm_mon_argv=["cat", str(DATA / f"{view}.crm_mon.xml")],
                  cibadmin_argv=["cat", str(DATA / "all_online.cib.xml")],
                  quorumtool_argv=["cat", str(quorum)],
                  tickets_argv=tickets_argv or ["cat", str(DATA / f"{view}.tickets.xml")])


def lease(view: str) -> float:
    root = etree.parse(str(DATA / f"{view}.tickets.xml")).getroot()
    return float(next(root.iter("ticket_state")).get("expires"))


def test_the_holding_site_reports_the_ticket_granted_with_booths_lease(tmp_path: Path) -> None:
    text = exposition(booth_source("booth_holder", tmp_path), tmp_path / "rsctmp")
    found = samples(text)
    assert value(found, "fractal_ha_ticket_granted", **TICKET) == 1
    assert value(found, "fractal_ha_ticket_standby", **TICKET) == 0
    assert value(found, "fractal_ha_ticket_expires_timestamp_seconds", **TICKET) == \
        lease("booth_holder")
    granted_at = value(found, "fractal_ha_ticket_last_granted_timestamp_seconds", **TICKET)
    assert 0 < lease("booth_holder") - granted_at < 3600
    if shutil.which("promtool"):
        done = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                              capture_output=True, timeout=60)
        assert done.returncode == 0 and not (done.stdout + done.stderr).strip(), done.stdout


def test_the_other_site_reports_it_revoked(tmp_path: Path) -> None:
    found = samples(exposition(booth_source("booth_other_site", tmp_path), tmp_path / "r"))
    assert value(found, "fractal_ha_ticket_granted", **TICKET) == 0
    assert value(found, "fractal_ha_ticket_expires_timestamp_seconds", **TICKET) == \
        lease("booth_other_site")
    assert ("fractal_ha_ticket_last_granted_timestamp_seconds",
            frozenset(TICKET.items())) not in found  # never granted there


def test_a_cluster_without_tickets_never_asks_the_cib_for_them(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    tool = tmp_path / "tickets"
    tool.write_text(f"#!/bin/sh\necho x >> {calls}\n")
    tool.chmod(0o755)
    source = source_for("all_online", tmp_path)
    source.argv["cibadmin-tickets"] = [str(tool)]
    found = samples(exposition(source, tmp_path / "rsctmp"))
    assert not calls.exists()
    assert not [name for name, _ in found if name.startswith("fractal_ha_ticket_")]


def test_a_failing_ticket_query_is_counted_and_the_rest_still_served(tmp_path: Path) -> None:
    source = booth_source("booth_holder", tmp_path, tickets_argv=["false"])
    found = samples(exposition(source, tmp_path / "rsctmp"))
    assert value(found, "fractal_ha_exporter_command_failures_total",
                 command="cibadmin-tickets") == 1
    assert value(found, "fractal_ha_ticket_granted", **TICKET) == 1  # crm_mon's part
    assert ("fractal_ha_ticket_expires_timestamp_seconds",
            frozenset(TICKET.items())) not in found
