"""Test-owned service processes on a chosen store backend, all stopped by PID at the end."""

from __future__ import annotations

from pathlib import Path

from tests.support.processes import ApiServer, WorkerProcess
from tests.support.stores import Backend


class Spawner:
    """Starts API servers (on the given store backend) and workers; stops them all by PID."""

    def __init__(self, tmp_path: Path, backend: Backend) -> None:
        self.tmp_path = tmp_path
        self.backend = backend
        self.started: list = []

    def api(self, data_dir: Path | None = None, port: int | None = None) -> ApiServer:
        data_dir = data_dir or self.tmp_path / "api"
        server = ApiServer(data_dir, port, *self.backend.api_args(data_dir))
        self.started.append(server)
        server.start()
        return server

    def worker(self, api_url: str, name: str, lease: float = 30.0) -> WorkerProcess:
        worker = WorkerProcess(api_url, name, self.tmp_path / "workers", lease)
        self.started.append(worker)
        worker.start()
        return worker

    def stop(self) -> None:
        for process in reversed(self.started):
            process.stop()
