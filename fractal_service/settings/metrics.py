"""The settings' state as Prometheus metrics, read at scrape time (API and worker alike)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from fractal_service.settings.source import EtcdSettingsSource


class SettingsCollector:
    def __init__(self, source: EtcdSettingsSource) -> None:
        self.source = source

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        s, live = self.source, self.source.live
        yield GaugeMetricFamily("fractal_settings_etcd_up", "1 if etcd answered the last "
                                "linearizable read (0: running on the last good settings)",
                                value=int(s.up))
        yield GaugeMetricFamily("fractal_settings_revision", "etcd revision of the settings "
                                "read last", value=s.revision)
        yield GaugeMetricFamily("fractal_settings_from_cache", "1 if the running settings "
                                "came from the disk cache (etcd was down at start)",
                                value=int(s.origin == "cache"))
        yield CounterMetricFamily("fractal_settings_changes_applied", "Changes from etcd "
                                  "applied live", value=live.applied)
        yield CounterMetricFamily("fractal_settings_rejected", "Value sets from etcd refused "
                                  "by validation (the running settings kept)", value=live.rejected)
        pending = GaugeMetricFamily("fractal_settings_restart_pending", "1 for each setting "
                                    "changed in etcd that applies at the next restart",
                                    labels=["setting"])
        for name in live.pending_restart:
            pending.add_metric([name], 1)
        yield pending
