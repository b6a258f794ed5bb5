"""The exporter's view of etcd: each member's health and the quorum, at scrape time."""

from __future__ import annotations

import argparse

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from resource_agents.metrics.etcd_health import collector_from_options
from tests.support.etcd_cluster import EtcdCluster

pytestmark = pytest.mark.etcd


def _scrape(etcd: EtcdCluster) -> dict[str, float]:
    ca, cert, key = (str(etcd.pki[n]) for n in ("ca.crt", "client.crt", "client.key"))
    registry = CollectorRegistry()
    registry.register(collector_from_options(argparse.Namespace(
        etcd=etcd.option, etcd_ca=ca, etcd_cert=cert, etcd_key=key)))
    samples = {}
    for line in generate_latest(registry).decode().splitlines():
        if line.startswith("fractal_ha_etcd"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def test_member_health_and_quorum(etcd: EtcdCluster) -> None:
    member = 'fractal_ha_etcd_member_healthy{{member="{}"}}'
    assert _scrape(etcd) == {**{member.format(u): 1.0 for u in etcd.urls},
                             "fractal_ha_etcd_quorate": 1.0}
    etcd.stop_member(1)
    etcd.stop_member(2)
    # The survivor answers, but without a leader: not healthy; no quorum.
    assert _scrape(etcd) == {**{member.format(u): 0.0 for u in etcd.urls},
                             "fractal_ha_etcd_quorate": 0.0}
