"""ocf:fractal:api and ocf:fractal:worker with `etcd_urls`: the services they start follow
their settings in etcd (the lease is not pinned by a flag then)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from cluster.ports import free_port
from tests.settings.support import config, seconds_until
from tests.support.agents import AgentRunner
from tests.support.etcd_cluster import EtcdCluster

pytestmark = pytest.mark.etcd


def _etcd_params(etcd: EtcdCluster) -> dict[str, str]:
    return {"etcd_urls": etcd.option, "etcd_ca": str(etcd.pki["ca.crt"]),
            "etcd_cert": str(etcd.pki["client.crt"]), "etcd_key": str(etcd.pki["client.key"])}


def test_agents_start_services_that_follow_etcd(
        etcd: EtcdCluster, ocf_root: Path, tmp_path: Path) -> None:
    # The agents' services read the default prefix: this test owns it while it runs.
    prefix = "/fractal/config/"
    assert config(etcd, prefix, "unset", "limits.max_iterations", "worker.concurrency",
                  "lease_seconds") == 0
    port = free_port()
    api = AgentRunner(ocf_root, "api", tmp_path / "rsctmp", "fractal-api", {
        "bind_address": "127.0.0.1", "port": str(port), "data_dir": str(tmp_path / "data"),
        "log_file": str(tmp_path / "api.log"), "allow_local_store": "true", "auth": "none",
        **_etcd_params(etcd)})
    worker = AgentRunner(ocf_root, "worker", tmp_path / "rsctmp", "workers:0", {
        "api_url": f"http://127.0.0.1:{port}", "workers": "1",
        "log_file": str(tmp_path / "worker.log"), **_etcd_params(etcd)})
    url = f"http://127.0.0.1:{port}/v1/fractals"
    try:
        started = api("start")
        assert started.rc == 0, started.stderr
        assert worker("start").rc == 0
        assert config(etcd, prefix, "set", "limits.max_iterations=100",
                      "worker.concurrency=2") == 0
        seconds_until(lambda: requests.post(url, json={"iterations": 101},
                                            timeout=5).status_code == 400, 1, "the API's cap")
        seconds_until(lambda: "render loops: 2" in (tmp_path / "worker.log").read_text(), 2,
                      "the worker's second render loop")
        # The worker applies a change, then saves it to its cache (settings/source.py): the
        # log line may come first (a CI run read the cache in between: KeyError).
        def cached() -> list[str | None]:
            return [json.loads(p.read_text())["values"].get("worker.concurrency")
                    for p in (tmp_path / "rsctmp").rglob("*.settings.json")]

        seconds_until(lambda: cached() == ["2"], 1, "the worker's settings cache")
        assert worker("monitor").rc == 0 and api("monitor").rc == 0
    finally:
        worker("stop")
        api("stop")
        config(etcd, prefix, "unset", "limits.max_iterations", "worker.concurrency")


def test_the_exporter_agent_reports_the_members_health(
        etcd: EtcdCluster, ocf_root: Path, tmp_path: Path) -> None:
    port = free_port()
    exporter = AgentRunner(ocf_root, "exporter", tmp_path / "rsctmp", "exporter:0", {
        "listen_address": "127.0.0.1", "port": str(port),
        "log_file": str(tmp_path / "exporter.log"), **_etcd_params(etcd)})
    try:
        started = exporter("start")
        assert started.rc == 0, started.stderr
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        healthy = [line for line in text.splitlines()
                   if line.startswith("fractal_ha_etcd_member_healthy{")]
        assert len(healthy) == 3 and all(line.endswith(" 1.0") for line in healthy), healthy
        assert "fractal_ha_etcd_quorate 1.0" in text
    finally:
        exporter("stop")
