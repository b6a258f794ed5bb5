"""The worker's own Prometheus metrics (`fractal-worker --metrics-bind`), read at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from fractal_service.settings.source import EtcdSettingsSource
from fractal_service.worker.pool import WorkerPool


class _PoolCollector:
    def __init__(self, pool: WorkerPool) -> None:
        self.pool = pool

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        yield GaugeMetricFamily("fractal_worker_concurrency", "Render loops running",
                                value=self.pool.concurrency)
        yield CounterMetricFamily("fractal_worker_jobs_done", "Results stored by this process",
                                  value=self.pool.jobs_done)


def serve_metrics(bind: str, pool: WorkerPool, source: EtcdSettingsSource | None) -> None:
    """A daemon thread serving /metrics; ValueError for a bad HOST:PORT."""
    host, _, port = bind.rpartition(":")
    registry = CollectorRegistry()
    registry.register(_PoolCollector(pool))
    if source is not None:
        from fractal_service.settings.metrics import SettingsCollector

        registry.register(SettingsCollector(source))
    start_http_server(int(port), host or "127.0.0.1", registry)
