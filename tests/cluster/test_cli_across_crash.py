"""`fractal create --count 20 --wait` across a crash of the API's node completes (issue 13): the
CLI retries its creations (each with an Idempotency-Key) and its polls with backoff, so the
takeover costs it a few seconds, not an error, and no creation is stored twice."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from cluster.lab.lab import SERVICE_ADDRESS, Lab
from tests.cluster.conftest import Cluster, Pace
from tests.cluster.test_failover import api_node

pytestmark = pytest.mark.cluster


def in_client(lab: Cluster, argv: list[str]) -> tuple[list[str], str]:
    """argv run where the cluster's clients are, and the API's URL from there."""
    if isinstance(lab, Lab):
        return (["ip", "netns", "exec", lab.client_netns, *argv],
                f"http://{SERVICE_ADDRESS}:{lab.service.api_port}")
    return lab._netns(argv), f"http://{lab.settings.service_address}:{lab.service.api_port}"


def test_cli_create_wait_across_a_node_crash(healthy: Cluster, pace: Pace) -> None:
    lab = healthy
    victim = api_node(lab, pace)
    argv, url = in_client(lab, [sys.executable, "-m", "fractal_service.cli.main"])
    cli = subprocess.Popen([*argv, "--api", url, "--token-file", str(lab.token_file),
                            "create", "--count", "20", "--width", "64",
                            "--height", "64", "--wait", "--wait-timeout", "300"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)  # mid-way through its creations
        lab.node(victim).crash()
        out, err = cli.communicate(timeout=360 * pace.slow)
    finally:
        if cli.poll() is None:
            cli.kill()
    assert cli.returncode == 0, err[-2000:]
    uuids = out.split()
    assert len(uuids) == 20 == len(set(uuids))
    assert api_node(lab, pace) != victim
