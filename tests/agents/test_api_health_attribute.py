"""ocf:fractal:api's node attribute (fractal-api-healthy), which fractal.crm's location rule
reads to move the address off a node whose API failed: what is sent to attrd and when. A fake
attrd_updater on PATH records each call; no cluster."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from resource_agents.agents.api import HEALTH_ATTRIBUTE
from resource_agents.ocf import process
from tests.support.processes import wait_until

OK, NOT_RUNNING = 0, 7
# What Pacemaker's executor passes every operation (the agent tells a cluster by it).
START = {"OCF_RESKEY_CRM_meta_timeout": "60000"}
STOP = START
MONITOR = {"OCF_RESKEY_CRM_meta_timeout": "10000", "OCF_RESKEY_CRM_meta_interval": "1000"}
PROBE = {"OCF_RESKEY_CRM_meta_timeout": "10000", "OCF_RESKEY_CRM_meta_interval": "0"}


@pytest.fixture
def attrd(tmp_path: Path, api_agent) -> Path:
    """A fake attrd_updater first on PATH: appends its arguments to the returned file and
    exits with the number in tmp_path/attrd-rc (0 when absent)."""
    calls = tmp_path / "attrd-calls"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "attrd_updater"
    fake.write_text(f"#!/bin/sh\necho \"$*\" >> {calls}\n"
                    f"rc=$(cat {tmp_path}/attrd-rc 2>/dev/null || echo 0)\n"
                    "[ \"$rc\" = 0 ] || echo 'Could not update: Transport endpoint is not "
                    "connected' >&2\nexit $rc\n")
    fake.chmod(0o755)
    calls.touch()
    api_agent.path_env = f"{bin_dir}:{os.environ['PATH']}"
    return calls


def run(agent, action: str, env: dict[str, str]):
    return agent(action, PATH=agent.path_env, **env)


def sent(calls: Path) -> list[str]:
    """The values sent so far, in order."""
    values = []
    for line in calls.read_text().splitlines():
        args = line.split()
        assert args[:3] == ["--name", HEALTH_ATTRIBUTE, "--update"], line
        values.append(args[3])
    return values


def api_pid(agent) -> int:
    return process.read_pid(agent.rsctmp / "fractal-api-fractal-api" / "api.pid")


def test_sent_on_changes_only_and_on_every_start_stop_and_probe(api_agent, attrd) -> None:
    assert run(api_agent, "start", START).rc == OK
    assert sent(attrd) == ["1"]
    for _ in range(3):  # a steady monitor (every second) runs no attrd_updater
        assert run(api_agent, "monitor", MONITOR).rc == OK
    assert sent(attrd) == ["1"]
    os.killpg(api_pid(api_agent), signal.SIGKILL)
    wait_until(lambda: not process.is_alive(api_pid(api_agent)), 5, "the server to die")
    # the failing monitor says 0 before its failure reaches the cluster, once
    assert run(api_agent, "monitor", MONITOR).rc == NOT_RUNNING
    assert run(api_agent, "monitor", MONITOR).rc == NOT_RUNNING
    assert sent(attrd) == ["1", "0"]
    assert run(api_agent, "stop", STOP).rc == OK  # a stop always says 0
    assert run(api_agent, "start", START).rc == OK  # a start always says 1
    assert run(api_agent, "monitor", PROBE).rc == OK  # a probe always says what it found
    assert run(api_agent, "monitor", MONITOR).rc == OK
    assert sent(attrd) == ["1", "0", "0", "1", "1"]
    assert run(api_agent, "stop", STOP).rc == OK
    assert run(api_agent, "monitor", PROBE).rc == NOT_RUNNING
    assert sent(attrd) == ["1", "0", "0", "1", "1", "0", "0"]


def test_an_old_record_is_sent_again(api_agent, attrd) -> None:
    """The value is asserted again after a minute (an attribute purged with a membership
    change comes back), not at every monitor."""
    assert run(api_agent, "start", START).rc == OK
    record = api_agent.rsctmp / "fractal-api-fractal-api" / "health-attribute"
    assert record.read_text().split()[0] == "1"
    record.write_text(f"1 {time.time() - 61:.3f}\n")
    assert run(api_agent, "monitor", MONITOR).rc == OK
    assert run(api_agent, "monitor", MONITOR).rc == OK
    assert sent(attrd) == ["1", "1"]


def test_a_failing_attrd_is_a_warning_and_is_retried(api_agent, attrd, tmp_path: Path) -> None:
    (tmp_path / "attrd-rc").write_text("102\n")
    result = run(api_agent, "start", START)
    assert result.rc == OK, result.stderr  # the server runs: the start succeeded
    assert run(api_agent, "monitor", MONITOR).rc == OK
    assert sent(attrd) == ["1", "1"]  # not recorded as sent: the monitor tried again
    log = (tmp_path / "api.log").read_text() + result.stderr
    assert "not set" in log and "Transport endpoint" in log
    (tmp_path / "attrd-rc").unlink()
    assert run(api_agent, "monitor", MONITOR).rc == OK
    assert run(api_agent, "monitor", MONITOR).rc == OK
    assert sent(attrd) == ["1", "1", "1"]


def test_outside_a_cluster_or_without_the_program_nothing_fails(api_agent, attrd) -> None:
    # by hand (ocf-tester, validate): no CRM_meta_*, no attribute
    assert run(api_agent, "start", {}).rc == OK
    assert run(api_agent, "monitor", {}).rc == OK
    assert sent(attrd) == []
    # under a cluster with no attrd_updater at all: logged, the actions succeed
    api_agent.path_env = "/nonexistent"
    assert run(api_agent, "monitor", PROBE).rc == OK
    assert run(api_agent, "stop", STOP).rc == OK



def test_a_killed_master_whose_worker_serves_keeps_the_address_here(api_agent, attrd) -> None:
    """The master alone SIGKILLed: its worker still answers, so the monitor fails (Pacemaker
    restarts the server in place) without saying 0, and the stop leaves the 1: moving the
    address would be the clients' only gap (a NAT flip, ~1 s of timeouts on the lab)."""
    assert run(api_agent, "start", START).rc == OK
    master = api_pid(api_agent)
    os.kill(master, signal.SIGKILL)
    wait_until(lambda: not process.is_alive(master), 5, "the master to die")
    assert run(api_agent, "monitor", MONITOR).rc == NOT_RUNNING
    assert run(api_agent, "stop", STOP).rc == OK
    assert run(api_agent, "start", START).rc == OK
    assert "0" not in sent(attrd)
