"""etcd's health in the exporter (`fractal-ha exporter --etcd URL,…`), asked at scrape time.

Each member's /health, in parallel with a short timeout: etcd answers "true" only when the
member has a leader, i.e. belongs to a quorum. The settings' own view (a process running on
its last good settings) is each process's fractal_settings_etcd_up.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from prometheus_client.core import GaugeMetricFamily

TIMEOUT = 1.0


class EtcdHealthCollector:
    def __init__(self, urls: list[str], session) -> None:  # a requests.Session (TLS set)
        self.urls = urls
        self.session = session
        self._pool = ThreadPoolExecutor(max_workers=len(urls), thread_name_prefix="etcd-health")

    def _healthy(self, url: str) -> bool:
        try:
            answer = self.session.get(url.rstrip("/") + "/health", timeout=TIMEOUT)
            return answer.json().get("health") == "true"
        except Exception:  # refused, timed out, TLS, not JSON: not healthy, whatever the cause
            return False

    def collect(self) -> Iterator[GaugeMetricFamily]:
        states = list(self._pool.map(self._healthy, self.urls))
        member = GaugeMetricFamily("fractal_ha_etcd_member_healthy", "1 if the etcd member "
                                   "answers /health true (reachable, with a leader)",
                                   labels=["member"])
        for url, ok in zip(self.urls, states, strict=True):
            member.add_metric([url], int(ok))
        yield member
        yield GaugeMetricFamily("fractal_ha_etcd_quorate", "1 if any member is healthy: "
                                "the cluster has a quorum", value=int(any(states)))


def collector_from_options(args) -> EtcdHealthCollector:
    """From the settings' options (--etcd, --etcd-ca/-cert/-key): one session, their TLS."""
    from fractal_service.settings.etcd import Tls, http_session

    if bool(args.etcd_cert) != bool(args.etcd_key):
        raise ValueError("--etcd-cert and --etcd-key go together")
    urls = [u.strip() for u in args.etcd.split(",") if u.strip()]
    return EtcdHealthCollector(urls, http_session(Tls(args.etcd_ca, args.etcd_cert, args.etcd_key)))
