"""One lab cloud per test session, on free loopback ports with its own state directory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cluster.cloud import cli
from cluster.cloud.layout import Layout
from tests.support.processes import free_port


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Layout]:
    layout = Layout(home=tmp_path_factory.mktemp("cloud"), keystone_port=free_port(),
                    neutron_port=free_port())
    try:
        cli.up(layout, say=lambda line: print(line, flush=True))
        yield layout
    finally:
        cli.down(layout)
