"""The cluster's API asks who writes (auth=token in cluster/config/fractal.crm): an anonymous
write through the service address is refused, while the cluster's own client and the workers
authenticate with the token file every node holds (named in the CIB, never written there)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import time

import pytest

from tests.cluster.conftest import Cluster, Pace
from tests.cluster.test_cli_across_crash import in_client
from tests.support.processes import wait_until

pytestmark = pytest.mark.cluster
TOKEN_ON_NODES = "/etc/fractal/api-token"  # ServiceConfig.token_file


def status(lab: Cluster, method: str, path: str, body: dict | None = None,
           token: str | None = None) -> int:
    """One request through the service address without the cluster's credentials (`token`: a
    bearer token of the caller's own); its HTTP status (0: no answer)."""
    argv, url = in_client(lab, ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                                "-m", "10", "-X", method])
    if body is not None:
        argv += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
    if token is not None:
        argv += ["-H", f"Authorization: Bearer {token}"]
    done = subprocess.run([*argv, url + path], capture_output=True, text=True, timeout=30)
    return int(done.stdout or 0)


def create(lab: Cluster, fractal: dict, within: float) -> str:
    """The cluster's client (its credentials added by `client`) creates `fractal`, retrying with
    one Idempotency-Key as every client does while the loaded lab's store answers 503."""
    key = {"Idempotency-Key": f"test-auth-{time.time_ns()}"}
    created = wait_until(lambda: lab.client("POST", "/v1/fractals", fractal, timeout=10,
                                            headers=key),
                         within, "the cluster's client to create a fractal", interval=1.0)
    return created["uuid"]


def test_anonymous_writes_refused_while_the_client_and_workers_authenticate(
        healthy: Cluster, pace: Pace) -> None:
    lab = healthy
    fractal = {"width": 64, "height": 64}
    assert status(lab, "POST", "/v1/fractals", fractal) == 401
    assert status(lab, "POST", "/v1/fractals", fractal, token="x" * 43) == 401
    assert status(lab, "POST", "/v1/jobs/claim", {"worker": "intruder", "lease_seconds": 30}) \
        == 401
    uuid = create(lab, fractal, 30 * pace.slow)
    assert status(lab, "DELETE", f"/v1/fractals/{uuid}") == 401
    assert status(lab, "GET", f"/v1/fractals/{uuid}") == 200  # reads stay public
    # The workers claim, render and upload through the same API: they authenticate too.
    wait_until(lambda: (lab.client("GET", f"/v1/fractals/{uuid}") or {}).get("state") == "done",
               60 * pace.slow, "the workers to render the fractal")


def test_every_node_holds_the_token_by_file_and_the_cib_does_not(healthy: Cluster) -> None:
    lab = healthy
    raw = lab.token_file.read_bytes()
    token, digest = raw.decode().strip(), hashlib.sha256(raw).hexdigest()
    running = [node for node in lab.nodes if node.running]
    cib = running[0].exec(["cibadmin", "--query"]).stdout
    assert TOKEN_ON_NODES in cib and token not in cib
    for node in running:
        mode = node.exec(["stat", "-c", "%a %U", TOKEN_ON_NODES]).stdout.split()
        assert mode == ["600", "root"], f"{node.name}: {TOKEN_ON_NODES} is {mode}"
        # (compared by digest: a failure never prints the secret)
        assert node.exec(["sha256sum", TOKEN_ON_NODES]).stdout.split()[0] == digest, node.name
