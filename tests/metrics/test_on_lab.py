"""On the three-node lab: the exporter clone on every node (cluster/config/exporter.crm), a real
Prometheus (Debian's) with cluster/prometheus/prometheus-lab.yml and alerts.yml scraping every
node's exporter and API; after a crash of the API's node, PromQL shows the failover counted and
the right alerts firing."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from cluster import operations
from cluster.lab import netns
from cluster.lab.lab import Lab
from tests.support.processes import Process, wait_until

pytestmark = pytest.mark.cluster
ROOT = Path(__file__).resolve().parents[2]
CRM = ROOT / "cluster" / "config" / "exporter.crm"
PROM = ROOT / "cluster" / "prometheus"
MONITOR_ADDRESS = "192.0.2.250/24"  # on the nodes' tenant network, outside Neutron's ports


class PrometheusError(RuntimeError):
    """Prometheus did not answer a query, or answered with an error."""


class Prometheus:
    """A Prometheus server in a namespace of its own on the lab's tenant switch."""

    def __init__(self, lab: Lab, directory: Path) -> None:
        self.lab = lab
        self.netns = f"{lab.prefix}-prom"
        config = yaml.safe_load((PROM / "prometheus-lab.yml").read_text())
        config["rule_files"] = [str(PROM / "alerts.yml")]
        (directory / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.process = Process(
            ["ip", "netns", "exec", self.netns, "prometheus",
             f"--config.file={directory / 'prometheus.yml'}",
             f"--storage.tsdb.path={directory / 'data'}", "--web.listen-address=127.0.0.1:9090"],
            directory / "prometheus.log")

    def start(self) -> None:
        netns.add(self.netns)
        netns.plug(self.netns, self.lab.net.tenant_switch, "eth0", "prom-port",
                   [MONITOR_ADDRESS])
        self.process.start()
        wait_until(self.ready, 60, "Prometheus to be ready", interval=0.5)

    def stop(self) -> None:
        self.process.stop()
        netns.delete(self.netns)

    def api(self, path: str, raw: bool = False, **params: str) -> object:
        """The answer's data; a failed call raises (a query that fails must not read as "no
        series": "no alert firing" would then pass with Prometheus unreachable)."""
        argv = ["ip", "netns", "exec", self.netns, "curl", "-fsS", "-m", "5", "-G",
                f"http://127.0.0.1:9090{path}"]
        for key, value in params.items():
            argv += ["--data-urlencode", f"{key}={value}"]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=15)
        if done.returncode != 0:
            raise PrometheusError(f"{path} {params}: curl {done.returncode}: {done.stderr}")
        if raw:
            return done.stdout
        answer = json.loads(done.stdout)
        if answer.get("status") != "success":
            raise PrometheusError(f"{path} {params}: {answer}")
        return answer["data"]

    def ready(self) -> bool:
        try:
            return bool(self.api("/-/ready", raw=True))
        except PrometheusError:
            return False

    def query(self, expr: str) -> list[tuple[dict[str, str], float]]:
        data = self.api("/api/v1/query", query=expr)
        return [(r["metric"], float(r["value"][1])) for r in data["result"]]

    def scalar(self, expr: str) -> float | None:
        result = self.query(expr)
        return result[0][1] if result else None

    def firing(self, alert: str, **labels: str) -> list[dict[str, str]]:
        selector = "".join(f',{k}="{v}"' for k, v in labels.items())
        return [m for m, _ in self.query(
            f'ALERTS{{alertname="{alert}",alertstate="firing"{selector}}}')]


def api_node(lab: Lab) -> str:
    """The node holding the service address (every node runs an API)."""
    state = wait_until(lambda: (s := lab.status()) and s.serving("fractal-ip") and s, 60,
                       "the address to be placed")
    return state.serving("fractal-ip")[0]


@pytest.fixture(scope="module")
def prometheus(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    restore(lab)  # whatever the tests before left: every node up (the first one runs crm)
    first = lab.nodes[0]
    first.exec(["crm", "configure", "load", "update", str(CRM)])
    names = sorted(n.name for n in lab.nodes)
    wait_until(lambda: (s := lab.status()) and s.where("fractal-exporters") == names, 90,
               "the exporter on every node")
    server = Prometheus(lab, tmp_path_factory.mktemp("prometheus"))
    server.start()
    try:
        wait_until(lambda: server.scalar('count(up{job="fractal-ha"} == 1)') == 3, 60,
                   "Prometheus scraping the three exporters", interval=1)
        yield server
    finally:
        server.stop()
        # Leave the shared lab as tests/cluster configured it.
        first.exec(["crm", "resource", "stop", "fractal-exporters"], check=False)
        wait_until(lambda: (s := lab.status()) and not s.where("fractal-exporters"), 60,
                   "the exporters stopped")
        first.exec(["crm", "configure", "delete", "fractal-exporters", "fractal-exporter"],
                   check=False)


def test_prometheus_scrapes_every_exporter_and_the_api(prometheus: Prometheus) -> None:
    p = prometheus
    wait_until(lambda: p.scalar('sum(up{job="fractal-api"})') == 3, 30,
               "the API scraped on every node (a clone)", interval=1)
    online = p.query('max by (node) (ha_cluster_pacemaker_nodes{status="online"})')
    assert sorted((m["node"], v) for m, v in online) == [("n1", 1), ("n2", 1), ("n3", 1)]
    assert p.scalar("min(ha_cluster_corosync_quorate)") == 1
    assert p.scalar('min(ha_cluster_scrape_success)') == 1
    # one service address resource, active on exactly one node, as every exporter sees it
    assert p.scalar('sum by (instance) (ha_cluster_pacemaker_resources{resource="fractal-ip",'
                    'status="active"})') == 1
    # the agents' records: the API's monitors on the node that runs it
    assert p.scalar('sum(fractal_ha_agent_actions_total{agent="api",action="monitor",'
                    'exit_code="0"})') >= 1
    for alert in ("FractalHAQuorumLost", "FractalHAApiUnreachable", "FractalHAExporterFailing",
                  "FractalHAFloatingIPUnassociated"):
        assert p.firing(alert) == [], alert


def test_node_crash_is_counted_as_a_failover_and_alerted(lab: Lab,
                                                         prometheus: Prometheus) -> None:
    p = prometheus
    victim = api_node(lab)
    survivors = [n.name for n in lab.nodes if n.name != victim]
    # Every exporter has seen the API where it runs (its failover series exist from then on).
    wait_until(lambda: p.scalar('count(fractal_ha_failovers_total{resource="fractal-ip",'
                                'cause="node_lost"})') == 3, 30, "every exporter's baseline",
               interval=1)
    time.sleep(3)
    # Earlier tests on this lab moved the address too: count the survivors' takeovers from here.
    instances = "|".join(survivors)
    on_survivors = (f'sum(fractal_ha_floating_ip_takeovers_total{{instance=~"{instances}"}})'
                    " or vector(0)")
    takeovers_before = p.scalar(on_survivors)
    crashed_at = time.time()
    lab.node(victim).crash()
    try:
        wait_until(lambda: p.scalar('max(fractal_ha_failovers_total{resource="fractal-ip",'
                                    'cause="node_lost"})') == 1, 90,
                   "PromQL to show the failover counted", interval=1)
        counted_after = time.time() - crashed_at
        assert api_node(lab) in survivors
        assert p.scalar('max(increase(fractal_ha_failovers_total{resource="fractal-ip"}'
                        '[5m])) >= 0.5') is not None
        # both survivors' exporters saw it; the crashed node's exporter went with its node
        seen_by = p.query('fractal_ha_failovers_total{resource="fractal-ip",'
                          'cause="node_lost"} == 1')
        assert {m["instance"] for m, _ in seen_by} <= set(survivors) and seen_by
        duration = p.scalar('max(fractal_ha_failover_duration_seconds_sum'
                            '{resource="fractal-ip"})')
        # an upper bound, yet no longer than it took to see it counted (+ a scrape or two)
        assert duration is not None and 0 < duration <= counted_after + 3

        # the lab fences through the cloud (stonith-action=off)
        assert p.scalar("max(ha_cluster_pacemaker_stonith_enabled)") == 1
        wait_until(lambda: p.firing("FractalHANodeFenced", target=victim), 60,
                   f"FractalHANodeFenced for {victim}", interval=1)
        wait_until(lambda: p.firing("FractalHANodeOffline", node=victim), 60,
                   f"FractalHANodeOffline for {victim}", interval=1)
        # the slow-failover alert agrees with the measured duration (30 s threshold)
        if duration > 30:
            wait_until(lambda: p.firing("FractalHAFailoverSlow", resource="fractal-ip"), 30,
                       "FractalHAFailoverSlow for a failover over 30 s", interval=1)
        else:
            assert p.firing("FractalHAFailoverSlow") == []
        assert p.firing("FractalHAQuorumLost") == []  # two of three: still quorate

        agent = p.query('max by (agent) (ha_cluster_pacemaker_resources{resource="fractal-ip"})')
        # the lab's address is ours (cluster/config/fractal.crm): its records must be there
        assert [m["agent"] for m, _ in agent] == ["ocf:fractal:floating-ip"], agent
        wait_until(lambda: p.scalar("max(fractal_ha_floating_ip_associated)") == 1, 60,
                   "the floating IP associated on a survivor", interval=1)
        takeovers = p.scalar(on_survivors) - takeovers_before
        assert takeovers == 1  # taken from the dead node's port, once
        association = p.scalar("max(fractal_ha_floating_ip_last_association_duration_seconds)")
        print(f"\nnode crash of {victim}: failover counted by PromQL {counted_after:.1f} s "
              f"after the crash; failover duration (upper bound) {duration:.2f} s; floating "
              f"IP association {association} s, takeovers {takeovers}; fenced")
    finally:
        restore(lab)


def test_quorum_lost_keeps_the_exporter_and_alerts(lab: Lab, prometheus: Prometheus) -> None:
    """Two of three nodes crash: the last one has no quorum and stops the service
    (no-quorum-policy=stop) but not its exporter (requires=nothing), which says so."""
    p = prometheus
    last, *crashed = [n.name for n in lab.nodes]
    # The claim is that the exporter stays: it must be up everywhere first (a node that the
    # previous test's restore booted may still be starting its instance).
    wait_until(lambda: p.scalar('count(up{job="fractal-ha"} == 1)') == len(lab.nodes), 90,
               "every node's exporter scraped", interval=1)
    for name in crashed:
        lab.node(name).crash()
    try:
        try:
            wait_until(lambda: p.firing("FractalHAQuorumLost", instance=last), 90,
                       f"FractalHAQuorumLost for {last}", interval=1)
        except AssertionError as exc:
            seen = {q: p.query(q) for q in ('up{job="fractal-ha"}',
                                            "ha_cluster_corosync_quorate", "ALERTS")}
            raise AssertionError(f"{exc}; Prometheus saw {seen}") from None
        assert p.scalar(f'up{{job="fractal-ha",instance="{last}"}}') == 1
        # Nothing of the service runs on the last node. (What ran on a crashed node stays
        # "active" in its view: an unclean node's resources are unknown until it is fenced,
        # which a partition without quorum cannot do.)
        on_last = (f'sum(ha_cluster_pacemaker_resources{{instance="{last}",node="{last}",'
                   'resource=~"fractal-api|fractal-ip",status="active"}) or vector(0)')
        wait_until(lambda: p.scalar(on_last) == 0, 60,
                   "the service stopped in the partition without quorum", interval=1)
        wait_until(lambda: p.firing("FractalHANodeUnclean"), 90,
                   "FractalHANodeUnclean: a lost node that cannot be fenced", interval=1)
        # only quorate views count: nobody is reported offline by a partition without quorum
        assert p.firing("FractalHANodeOffline") == []
        unclean = sorted(m["node"] for m in p.firing("FractalHANodeUnclean"))
        print(f"\nquorum lost on {last}: FractalHAQuorumLost firing, unclean {unclean}")
    finally:
        restore(lab)


def restore(lab: Lab) -> None:
    """Every node back (fenced ones are powered off: the operator starts them), the service
    up, failures cleared. A node may be fenced once more as it rejoins: then again."""
    for _ in range(3):
        operations.boot_the_fenced(lab)
        try:
            lab.wait_formed(timeout=120)
        except TimeoutError:
            continue
        if all(n.running for n in lab.nodes):
            break
    lab.nodes[0].exec(["crm", "resource", "cleanup"], check=False)
    wait_until(lambda: lab.client("GET", "/healthz"), 90, "the service after the test")


def test_a_query_prometheus_cannot_answer_raises(prometheus: Prometheus) -> None:
    """With Prometheus down a query raises: "no alert firing" cannot pass for want of an
    answer (the checks above would otherwise read a failed query as no series)."""
    prometheus.process.stop()
    try:
        with pytest.raises(PrometheusError, match="curl"):
            prometheus.firing("FractalHAQuorumLost")
        with pytest.raises(PrometheusError):
            prometheus.scalar("up")
    finally:
        prometheus.process.start()
        wait_until(prometheus.ready, 60, "Prometheus to be ready again", interval=0.5)
    assert prometheus.query("up"), "Prometheus answers again"
