"""Real service processes for tests: started on free loopback ports, stopped by PID."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import requests

from cluster.ports import free_port


def wait_until(condition: Callable[[], object], timeout: float, what: str,
               interval: float = 0.05) -> object:
    """Poll `condition` until it returns something truthy; fail the test with `what` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class Process:
    """A child process with its output in a log file; stop() never leaves it behind."""

    def __init__(self, argv: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.argv = argv
        self.log = log
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT,
                                         env=self.env, start_new_session=True)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group: a hard crash."""
        if self.alive():
            os.killpg(self.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout: float = 15.0) -> int | None:
        if not self.alive():
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class ApiServer(Process):
    """`auth`: "none" unless a test is about who may write (then "token": the bearer token is
    in `token_file`, made by the API on its first start)."""

    def __init__(self, data_dir: Path, port: int | None = None, *extra: str,
                 auth: str = "none") -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token_file = data_dir / "api-token"
        data_dir.mkdir(parents=True, exist_ok=True)
        super().__init__(
            [sys.executable, "-m", "fractal_service.api.server", "--bind",
             f"127.0.0.1:{self.port}", "--data-dir", str(data_dir), "--auth", auth, *extra],
            data_dir / "api.log",
        )

    def start(self) -> None:
        super().start()
        wait_until(self._healthy, 30, f"the API on {self.url} ({self.log})")

    def _healthy(self) -> bool:
        if not self.alive():
            raise AssertionError(f"fractal-api exited:\n{self.output()}")
        try:
            return requests.get(self.url + "/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False


class WorkerProcess(Process):
    def __init__(self, api_url: str, name: str, workdir: Path, lease: float = 30.0,
                 *credentials: str) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.heartbeat = workdir / f"{name}.heartbeat"
        super().__init__(
            [sys.executable, "-m", "fractal_service.worker.main", "--api", api_url,
             "--name", name, "--heartbeat-file", str(self.heartbeat), "--lease-seconds", str(lease),
             "--poll-interval", "0.2", *credentials],
            workdir / f"{name}.log",
        )
