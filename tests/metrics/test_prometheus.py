"""Prometheus side: promtool on the rules, configs and both /metrics endpoints; the exporter as a
real process over HTTP; the Grafana dashboard's queries against what the endpoints expose."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from resource_agents.metrics import record
from tests.metrics.support import DATA, samples, value
from tests.support.processes import ApiServer, Process, free_port, wait_until

PROM = Path(__file__).resolve().parents[2] / "cluster" / "prometheus"
EXPORTER = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "fractal-ha"



@pytest.fixture(autouse=True, scope="module")
def promtool_installed() -> None:
    # scripts/setup.sh installs Debian's prometheus package: without promtool the set-up is
    # broken, and these checks must fail, not be skipped.
    assert shutil.which("promtool"), "promtool missing: run scripts/setup.sh"


def promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["promtool", *args], input=stdin, capture_output=True, text=True,
                          timeout=120)


def test_alert_rules_pass_their_unit_tests() -> None:
    done = promtool("test", "rules", str(PROM / "alerts_test.yml"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_scrape_configs_are_valid(tmp_path: Path) -> None:
    done = promtool("check", "config", str(PROM / "prometheus-lab.yml"))
    assert done.returncode == 0, done.stdout + done.stderr
    # The deployment's file refers to /etc/prometheus/fractal-ha/: lay it out in tmp_path.
    etc = tmp_path / "fractal-ha"
    (etc / "targets").mkdir(parents=True)
    shutil.copy(PROM / "alerts.yml", etc / "alerts.yml")
    (etc / "targets" / "nodes.yml").write_text('- targets: ["node4.example.net:9664"]\n')
    config = tmp_path / "prometheus.yml"
    config.write_text((PROM / "prometheus.yml").read_text().replace(
        "/etc/prometheus/fractal-ha", str(etc)))
    done = promtool("check", "config", str(config))
    assert done.returncode == 0, done.stdout + done.stderr


# -- the exporter as a process, its tools stand-ins reading the lab's captures -------------
@pytest.fixture(scope="module")
def exporter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    tmp = tmp_path_factory.mktemp("exporter")
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    calls = tmp / "crm_mon.calls"
    tools = {"crm_mon": f"echo x >> {calls}\nexec cat {DATA / 'failed_action.crm_mon.xml'}",
             "cibadmin": f"exec cat {DATA / 'move_constraint.cib.xml'}",
             "corosync-quorumtool": f"exec cat {DATA / 'quorumtool_one_node.txt'}"}
    for name, body in tools.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    rsctmp = tmp / "rsctmp"
    # records as the agents leave them, with every kind of fact
    ip = record.path_for(str(rsctmp), "fractal-ip")
    record.update(ip, "floating-ip", "fractal-ip", "start", 0, 1.2,
                  facts={"associated": ("g", 1), "association_duration_seconds": ("o", 1.1),
                         "takeovers": ("a", 1)})
    record.update(record.path_for(str(rsctmp), "fractal-api"), "api", "fractal-api", "monitor",
                  1, 0.01, "fractal-api pid 42 unhealthy: GET /healthz timed out after 2 s")
    port = free_port()


    proc = Process([str(EXPORTER), "exporter", "--listen", f"127.0.0.1:{port}",
                    "--cache-seconds", "30", "--rsctmp", str(rsctmp)], tmp / "exporter.log",
                   env={"PATH": f"{bin_dir}:{os.environ['PATH']}"})
    proc.start()
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return requests.get(url + "/healthz", timeout=1).ok
        except requests.RequestException:
            return False

    try:
        wait_until(answers, 20, f"the exporter on {url}")
        yield url, calls
    finally:
        assert proc.stop() == 0, proc.output()  # SIGTERM: a clean exit


def test_exporter_serves_metrics_over_http(exporter: tuple[str, Path]) -> None:
    url, calls = exporter
    assert requests.get(url + "/healthz", timeout=5).text == "ok\n"
    assert not calls.exists()  # /healthz never runs crm_mon
    assert "/metrics" in requests.get(url + "/", timeout=5).text
    assert requests.get(url + "/nope", timeout=5).status_code == 404
    answers = [requests.get(url + "/metrics", timeout=5) for _ in range(5)]
    assert all(a.status_code == 200 for a in answers)
    assert answers[0].headers["Content-Type"].startswith("text/plain; version=")
    assert calls.read_text().count("x") == 1  # five scrapes within the cache: one crm_mon
    found = samples(answers[-1].text)
    assert value(found, "ha_cluster_pacemaker_resources", node="n2", resource="fractal-api",
                 role="started", managed="true", status="failed", agent="ocf:fractal:api",
                 group="fractal-service", clone="") == 1
    assert value(found, "fractal_ha_floating_ip_takeovers_total", resource="fractal-ip") == 1


def test_exporter_output_passes_promtool_check_metrics(exporter: tuple[str, Path]) -> None:
    text = requests.get(exporter[0] + "/metrics", timeout=5).text
    done = promtool("check", "metrics", stdin=text)
    assert done.returncode == 0 and not (done.stdout + done.stderr).strip(), done.stdout


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    server = ApiServer(tmp_path_factory.mktemp("api"))
    server.start()
    try:
        created = requests.post(server.url + "/v1/fractals", timeout=5,
                                json={"width": 16, "height": 16, "iterations": 8})
        assert created.status_code == 201
        requests.get(server.url + "/v1/fractals", timeout=5)
        yield server
    finally:
        server.stop()


def test_api_metrics_pass_promtool_check_metrics(api: ApiServer) -> None:
    text = requests.get(api.url + "/metrics", timeout=5).text
    done = promtool("check", "metrics", stdin=text)
    assert done.returncode == 0 and not (done.stdout + done.stderr).strip(), done.stdout


# -- the dashboard ---------------------------------------------------------------------
def _names(text: str) -> set[str]:
    """Every sample name an exposition can carry (families without samples yet included)."""
    names = set()
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"),
                "summary": ("_count", "_sum"), "info": ("_info",)}
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(family.name + s for s in suffixes.get(family.type, ()))
        names.update(s.name for s in family.samples)
    return names


def _queries(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, item in node.items():
            if key == "expr" and isinstance(item, str):
                yield item
            else:
                yield from _queries(item)
    elif isinstance(node, list):
        for item in node:
            yield from _queries(item)


def test_dashboard_queries_are_valid_and_use_exposed_metrics(
        exporter: tuple[str, Path], api: ApiServer, tmp_path: Path) -> None:
    dashboard = json.loads((PROM / "grafana-dashboard.json").read_text())
    queries = list(_queries(dashboard))
    assert len(queries) >= 20
    titles = {p["title"] for p in dashboard["panels"] if p["type"] == "row"}
    assert titles == {"Cluster overview", "Failovers", "API", "Fractal throughput"}
    exposed = (_names(requests.get(exporter[0] + "/metrics", timeout=5).text)
               | _names(requests.get(api.url + "/metrics", timeout=5).text) | {"up"})
    used = {m for q in queries for m in re.findall(r"\b(?:ha_cluster|fractal)_\w+", q)}
    assert used - exposed == set()
    # PromQL syntax: each query as a recording rule, Grafana's variables given values
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:q{i}", "expr": q.replace("$__range", "1h")
         .replace("$__rate_interval", "1m")} for i, q in enumerate(queries)]}]}
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(json.dumps(rules))  # JSON is YAML
    done = promtool("check", "rules", str(path))
    assert done.returncode == 0, done.stdout + done.stderr


def test_cache_expires(tmp_path: Path) -> None:
    """Outside the cache period each scrape runs crm_mon once (real `fractal-ha exporter`)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    (bin_dir / "crm_mon").write_text(
        f"#!/bin/sh\necho x >> {calls}\nexec cat {DATA / 'all_online.crm_mon.xml'}\n")
    (bin_dir / "crm_mon").chmod(0o755)


    port = free_port()
    proc = Process([str(EXPORTER), "exporter", "--listen", f"127.0.0.1:{port}",
                    "--cache-seconds", "0.2", "--rsctmp", str(tmp_path)], tmp_path / "log",
                   env={"PATH": f"{bin_dir}:{os.environ['PATH']}"})
    proc.start()
    try:
        url = f"http://127.0.0.1:{port}/metrics"

        def scrape() -> str | None:
            try:
                return requests.get(url, timeout=5).text
            except requests.RequestException:
                return None

        wait_until(scrape, 20, "the exporter")
        scrape()  # within 0.2 s of the first: cached
        time.sleep(0.3)
        scrape()
        assert calls.read_text().count("x") == 2
    finally:
        proc.stop()
