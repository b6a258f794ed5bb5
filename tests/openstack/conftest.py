"""One lab cloud per test session (real Keystone and Neutron, our compute and proxies),
in a private state directory; the services' virtualenv is the shared, cached one."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster.lab import netns
from cluster.openstack import cloud, topology
from cluster.openstack.layout import Layout
from resource_agents.ocf import process


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "openstack: needs the lab cloud (real Keystone, Neutron)")


class LabCloud:
    def __init__(self, layout: Layout, topo: topology.Topology, setup_seconds: float) -> None:
        self.layout = layout
        self.topology = topo
        self.setup_seconds = setup_seconds


@pytest.fixture(scope="session")
def lab_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabCloud]:
    layout = Layout(state=tmp_path_factory.mktemp("cloud") / "state",
                    venv=Layout().venv, netns_prefix="fost")
    started = time.monotonic()
    try:
        topo = cloud.up(layout, say=lambda line: print(line, flush=True))
        yield LabCloud(layout, topo, time.monotonic() - started)
    finally:
        sessions = {d.pid() for d in cloud.daemons(layout)} - {None}
        cloud.down(layout)
        assert not session_members(sessions), "processes left behind by `down`"
        assert not layout.state.exists()
        left = [n for n in netns.existing() if n.startswith(f"{layout.netns_prefix}-")]
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
