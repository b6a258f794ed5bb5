"""The lab cloud for tests: one per pytest run, shared by every directory that needs it
(tests/openstack for the cloud itself and the agents, tests/service and the store's unit
tests for Object Storage), in a private state directory; the services' virtualenv is the
shared, cached one."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster.lab import netns
from cluster.openstack import cloud, topology
from cluster.openstack.dataplane.network import RouterNetwork
from cluster.openstack.layout import REGIONS, Layout
from resource_agents.ocf import process


class LabCloud:
    def __init__(self, layout: Layout, topo: topology.Topology, setup_seconds: float) -> None:
        self.layout = layout
        self.topology = topo
        self.setup_seconds = setup_seconds


def run_lab_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabCloud]:
    """Body of the session fixture `lab_cloud` (tests/conftest.py): up, yield, down + checks."""
    layout = Layout(state=tmp_path_factory.mktemp("cloud") / "state",
                    venv=Layout().venv, netns_prefix="fost")
    started = time.monotonic()
    try:
        topo = cloud.up(layout, say=lambda line: print(line, flush=True))
        yield LabCloud(layout, topo, time.monotonic() - started)
    finally:
        sessions = {d.pid() for d in cloud.every_daemon(layout)} - {None}
        cloud.down(layout)
        assert not session_members(sessions), "processes left behind by `down`"
        assert not layout.state.exists()
        ours = tuple(f"{RouterNetwork.of(layout.in_region(r)).prefix}-" for r in REGIONS)
        left = [n for n in netns.existing() if n.startswith(ours)]
        assert not left, f"namespaces left behind by `down`: {left}"


def session_members(sessions: set[int]) -> list[int]:
    """Live processes in the given sessions (each daemon leads its own: gunicorn's workers too)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and process.is_alive(int(entry.name)):
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) in sessions:  # field 6 of stat: the session id
                found.append(int(entry.name))
    return found
