"""One real three-member etcd for the session; each test gets a prefix of its own."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from tests.support.etcd_cluster import EtcdCluster

_counter = itertools.count()


@pytest.fixture(scope="session")
def etcd_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdCluster]:
    cluster = EtcdCluster(tmp_path_factory.mktemp("etcd"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def etcd(etcd_cluster: EtcdCluster) -> EtcdCluster:
    """The cluster with all three members up (a test that stopped some restarts them)."""
    etcd_cluster.start()
    return etcd_cluster


@pytest.fixture
def prefix() -> str:
    return f"/fractal/test{next(_counter)}/config/"
