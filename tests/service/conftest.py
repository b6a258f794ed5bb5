"""Every service test runs once per store backend: `api` and `spawn` follow `backend`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import ApiServer
from tests.support.spawner import Spawner
from tests.support.stores import Backend


@pytest.fixture(scope="session")
def api(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    data_dir = tmp_path_factory.mktemp(f"api-{backend.name}")
    server = ApiServer(data_dir, None, *backend.api_args(data_dir))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def spawn(backend: Backend, tmp_path: Path) -> Iterator[Spawner]:
    spawner = Spawner(tmp_path, backend)
    yield spawner
    spawner.stop()
