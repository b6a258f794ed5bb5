"""Debian's fence_openstack fences a lab server: the compute hooks really kill and start a
process this test owns (standing in for a lab node)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cluster.openstack.compute import registry
from resource_agents.ocf import process
from tests.openstack.clients import fence
from tests.support.processes import wait_until

pytestmark = pytest.mark.openstack


class FakeNode:
    """A process standing in for a node; hooks start it (pidfile) and SIGKILL it."""

    def __init__(self, folder: Path) -> None:
        self.pidfile = folder / "node.pid"
        self.start_cmd = [sys.executable, "-c", (
            "import subprocess, sys; p = subprocess.Popen(['sleep', '600'], "
            "start_new_session=True); open(sys.argv[1], 'w').write(str(p.pid))"),
            str(self.pidfile)]
        self.stop_cmd = ["sh", "-c", f'kill -9 "$(cat {self.pidfile})"']

    def pid(self) -> int:
        return int(self.pidfile.read_text())

    def running(self) -> bool:
        return self.pidfile.exists() and process.is_alive(self.pid())

    def cleanup(self) -> None:
        if self.running():
            os.kill(self.pid(), signal.SIGKILL)


@pytest.fixture
def node(lab_cloud, tmp_path):
    fake = FakeNode(tmp_path)
    subprocess.run(fake.start_cmd, check=True)
    server_id = lab_cloud.topology.servers["n2"]
    registry.set_hooks(lab_cloud.layout, server_id,
                       {"stop": fake.stop_cmd, "start": fake.start_cmd})
    yield server_id, fake
    registry.set_hooks(lab_cloud.layout, server_id, {})
    fake.cleanup()


def test_status_off_on_reboot(lab_cloud, node, tmp_path):
    server_id, fake = node
    run = lambda action: fence(lab_cloud.layout, tmp_path / "home", action, server_id)  # noqa: E731

    done = run("status")
    assert (done.returncode, done.stdout.strip()) == (0, "Status: ON"), done.stderr
    first = fake.pid()

    done = run("off")
    assert done.returncode == 0, done.stderr
    assert not process.is_alive(first), "fencing off must kill the node"
    done = run("status")
    assert (done.returncode, done.stdout.strip()) == (2, "Status: OFF")

    done = run("on")
    assert done.returncode == 0, done.stderr
    assert fake.running() and fake.pid() != first

    before = fake.pid()
    done = run("reboot")
    assert done.returncode == 0, done.stderr
    wait_until(lambda: run("status").returncode == 0, 30, "the node on after reboot")
    assert not process.is_alive(before) and fake.running()


def test_list_names_every_server(lab_cloud, tmp_path):
    done = fence(lab_cloud.layout, tmp_path / "home", "list", "x")
    assert done.returncode == 0, done.stderr
    listed = dict(line.split(",") for line in done.stdout.split())
    assert listed == {sid: node for node, sid in lab_cloud.topology.servers.items()}


def test_unknown_plug_fails(lab_cloud, tmp_path):
    done = fence(lab_cloud.layout, tmp_path / "home", "status",
                 "00000000-0000-0000-0000-000000000000")
    assert done.returncode != 0
    assert "Not Found" in done.stderr or "not found" in done.stderr.lower()
