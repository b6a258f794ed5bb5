"""The two-region lab cloud: RegionTwo (its Swift, Neutron, compute, router and floating IP)
added to the session's lab cloud (not a cloud of its own) for a module's tests, with container
sync both ways; containers paired per test."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from cluster.openstack import regions
from cluster.openstack.layout import REGIONS
from fractal_service.store.swift import SwiftStore
from tests.support.cloud import LabCloud


@pytest.fixture(scope="module")
def two_regions(lab_cloud: LabCloud) -> Iterator[LabCloud]:
    """Per module (a few seconds to start again): RegionTwo's processes do not idle through
    the rest of the run. Its catalog entries stay (tests/openstack/test_sdk.py allows them);
    its router's namespaces stay until the cloud's `down`."""
    started = time.monotonic()
    regions.up(lab_cloud.layout, say=lambda line: print(line, flush=True))
    print(f"RegionTwo added in {time.monotonic() - started:.1f} s", flush=True)
    yield lab_cloud
    regions.stop(lab_cloud.layout)


@dataclass
class Paired:
    """One container in both regions, syncing both ways: the service's store in each."""

    container: str
    one: SwiftStore  # RegionOne
    two: SwiftStore  # RegionTwo


@pytest.fixture
def paired(two_regions: LabCloud) -> Paired:
    layout = two_regions.layout
    container = f"sync-{secrets.token_hex(4)}"
    regions.pair(layout, container)
    one, two = (SwiftStore.from_url(regions.store_url(layout, container, region))
                for region in REGIONS)
    return Paired(container, one, two)
