"""Shared fixtures: one real API server per test session (and fresh ones where a test needs it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fractal_service.client import FractalClient
from resource_agents import install
from tests.support.processes import ApiServer, WorkerProcess


@pytest.fixture(scope="session")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    server = ApiServer(tmp_path_factory.mktemp("api"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def client(api: ApiServer) -> FractalClient:
    return FractalClient(api.url)


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator:
    """Start API servers and workers that are stopped (by PID) when the test ends."""
    started: list = []

    class Spawner:
        def api(self, data_dir: Path | None = None, port: int | None = None) -> ApiServer:
            server = ApiServer(data_dir or tmp_path / "api", port)
            started.append(server)
            server.start()
            return server

        def worker(self, api_url: str, name: str, lease: float = 30.0) -> WorkerProcess:
            worker = WorkerProcess(api_url, name, tmp_path / "workers", lease)
            started.append(worker)
            worker.start()
            return worker

    yield Spawner()
    for process in reversed(started):
        process.stop()


@pytest.fixture(scope="session")
def ocf_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The agents installed by `fractal-ha agents install` into a private OCF root. Pacemaker's
    tools see them through `in_ocf_view`; the host's /usr/lib/ocf, which the operator and any
    concurrent run share, is never written to."""
    root = tmp_path_factory.mktemp("ocf")
    install.install(root)
    return root
