"""The agents driven by a real Pacemaker: one lab node (its own namespaces), crm commands."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster.lab.node import Node
from cluster.lab.single import SingleNodeCluster
from tests.support.processes import wait_until

pytestmark = pytest.mark.pacemaker
API = "http://127.0.0.1:8080"
API_LINE = re.compile(r"\bapi_|fractal-api|ocf:fractal:api|\(api\)|'api'")


@pytest.fixture(scope="module")
def node(ocf_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """One node, booted once for this module; it sees the agents only in its own mounts."""
    with SingleNodeCluster(tmp_path_factory.mktemp("single"),
                           ocf_providers=ocf_root / "resource.d") as cluster:
        node = cluster.node
        node.exec(["crm", "configure", "property", "stonith-enabled=false"])
        node.exec(["crm", "configure", "primitive", "api", "ocf:fractal:api",
                   "params", "port=8080", "health_timeout=2", "allow_local_store=true",
                   "auth=none",  # this module is about Pacemaker, not who may write
                   "op", "monitor", "interval=2s", "timeout=10s",
                   "op", "start", "timeout=30s", "op", "stop", "timeout=30s"])
        yield node


def http(node: Node, method: str, path: str, body: dict | None = None) -> dict | None:
    argv = ["curl", "-fsS", "-m", "3", "-X", method, API + path]
    if body is not None:
        argv += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
    done = node.exec(argv, check=False)
    return json.loads(done.stdout) if done.returncode == 0 and done.stdout else None


def api_pid(node: Node) -> int | None:
    done = node.exec(["cat", "/run/resource-agents/fractal-api-api/api.pid"], check=False)
    return int(done.stdout) if done.returncode == 0 else None


def where(node: Node, resource: str) -> list[str]:
    state = node.cluster_state()
    return state.where(resource) if state else []


def fail_count(node: Node, resource: str) -> int:
    done = node.exec(["crm_failcount", "--query", "-r", resource, "-N", node.name], check=False)
    for word in done.stdout.split():
        if word.startswith("value="):
            value = word.removeprefix("value=")
            if value == "INFINITY":  # a failed start (or stop): the history below says which
                return 1_000_000
            return 0 if value in ("(null)", "") else int(value)
    return 0


@pytest.fixture(autouse=True)
def api_history(node: Node) -> Iterator[None]:
    """The API's lines of the node's pacemaker.log written during the test (operations and the
    agent's own messages; not the CIB's): printed at teardown, shown by pytest on a failure."""
    log = node.dir / "var-log-pacemaker" / "pacemaker.log"
    start = log.stat().st_size if log.exists() else 0
    yield
    try:
        with log.open(errors="replace") as fh:
            fh.seek(start)
            lines = [line.rstrip() for line in fh
                     if API_LINE.search(line) and "pacemaker-based" not in line]
    except OSError as exc:
        lines = [f"(no pacemaker.log: {exc})"]
    print("\n".join(["the API in pacemaker.log during the test:", *lines[-60:]]))


def test_pacemaker_starts_the_api(node: Node) -> None:
    wait_until(lambda: where(node, "api") == [node.name], 60, "api to be started")
    # a start returns only once /healthz answers, so the op's completion means service
    wait_until(lambda: (http(node, "GET", "/healthz") or {}).get("status") == "ok", 10, "/healthz")


def test_a_reloadable_parameter_changes_without_a_restart(node: Node) -> None:
    # Early in the module: after the restart, kill and cleanup tests below, the same change
    # was not reloaded within 30 s (not understood yet; README's tests section says so).
    wait_until(lambda: http(node, "GET", "/healthz"), 60, "the API")
    pid = api_pid(node)
    node.exec(["crm", "resource", "param", "api", "set", "health_timeout", "3"])
    # Pacemaker runs reload-agent (OCF 1.1) for a reloadable parameter, not stop + start
    wait_until(lambda: _reloaded(node), 30, "the reload")
    assert api_pid(node) == pid
    assert (http(node, "GET", "/healthz") or {}).get("status") == "ok"
    assert fail_count(node, "api") == 0


def test_crm_resource_stop_start_restart(node: Node) -> None:
    wait_until(lambda: http(node, "GET", "/healthz"), 60, "the API")
    node.exec(["crm", "resource", "stop", "api"])
    wait_until(lambda: where(node, "api") == [] and http(node, "GET", "/healthz") is None,
               60, "api to stop")
    node.exec(["crm", "resource", "start", "api"])
    wait_until(lambda: http(node, "GET", "/healthz"), 60, "api to start again")
    before = api_pid(node)
    node.exec(["crm", "resource", "restart", "api"], timeout=120)
    wait_until(lambda: http(node, "GET", "/healthz") and api_pid(node) not in (None, before),
               60, "a restarted API")


def test_a_killed_api_is_recovered_and_cleanup_clears_the_failure(node: Node) -> None:
    wait_until(lambda: http(node, "GET", "/healthz"), 60, "the API")
    uuid = http(node, "POST", "/v1/fractals", {"width": 16, "height": 16})["uuid"]
    killed = api_pid(node)
    node.exec(["kill", "-KILL", str(killed)])
    wait_until(lambda: fail_count(node, "api") >= 1, 30, "Pacemaker to see the failure")
    wait_until(lambda: http(node, "GET", "/healthz") and api_pid(node) != killed, 60,
               "Pacemaker to restart the API")
    # nothing lost (polled: the old server's orphaned worker may answer for a moment)
    wait_until(lambda: (http(node, "GET", f"/v1/fractals/{uuid}") or {}).get("uuid") == uuid,
               10, "the fractal created before the crash")
    node.exec(["crm", "resource", "cleanup", "api"])
    wait_until(lambda: fail_count(node, "api") == 0, 30, "the fail count to clear")


def test_worker_clone_renders_through_the_api(node: Node) -> None:
    wait_until(lambda: http(node, "GET", "/healthz"), 60, "the API")
    node.exec(["crm", "configure", "primitive", "workers", "ocf:fractal:worker",
               "params", f"api_url={API}", "workers=1", "heartbeat_timeout=30",
               "op", "monitor", "interval=5s", "timeout=10s"])
    node.exec(["crm", "configure", "clone", "workers-clone", "workers"])
    wait_until(lambda: where(node, "workers-clone") == [node.name], 60, "the workers")
    uuid = http(node, "POST", "/v1/fractals", {"width": 64, "height": 64})["uuid"]
    wait_until(lambda: http(node, "GET", f"/v1/fractals/{uuid}")["state"] == "done", 60,
               "a worker to render")
    assert http(node, "GET", f"/v1/fractals/{uuid}")["generated_by"] == f"{node.name}-0"


def test_crm_resource_trace_and_untrace(node: Node) -> None:
    """`crm resource trace` as on a shell agent: a file per traced action under the node's
    /var/lib/heartbeat/trace_ra/TYPE/, none once `untrace` is done."""
    wait_until(lambda: http(node, "GET", "/healthz"), 60, "the API")
    traces = node.dir / "var-lib-heartbeat" / "trace_ra" / "api"

    def monitor_traces() -> list[Path]:
        return sorted(traces.glob("api.monitor.*")) if traces.is_dir() else []

    node.exec(["crm", "resource", "trace", "api", "monitor"])
    wait_until(lambda: len(monitor_traces()) >= 2, 30, "monitor traces")
    # The newest file may still be written by a running monitor: judge a finished one.
    text = monitor_traces()[-2].read_text()
    assert "env OCF_RESKEY_trace_ra=1" in text
    assert "call agents.api.ApiAgent.monitor" in text
    assert text.rstrip().endswith("exit 0")
    node.exec(["crm", "resource", "untrace", "api", "monitor"])
    # the untraced monitor is rescheduled: afterwards (a monitor every 2 s) no file appears
    time.sleep(3)
    before = len(monitor_traces())
    time.sleep(6)
    assert len(monitor_traces()) == before
    assert where(node, "api") == [node.name]


def _reloaded(node: Node) -> bool:
    done = node.exec(["grep", "-c", "Result of reload-agent operation for api",
                      "/var/log/pacemaker/pacemaker.log"], check=False)
    return done.returncode == 0 and int(done.stdout.strip() or 0) > 0
