"""Helpers for the etcd tests: the CLI in-process, APIs and workers following a prefix."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import requests

from cluster.ports import free_port
from fractal_service.cli.main import main as fractal
from tests.support.etcd_cluster import EtcdCluster
from tests.support.processes import ApiServer, Process, wait_until


def config(etcd: EtcdCluster, prefix: str, *argv: str, urls: str | None = None) -> int:
    """`fractal config …` in this process; `urls`: some members only (default all)."""
    return fractal(["config", "--etcd", urls or etcd.option, "--etcd-prefix", prefix,
                    *etcd.tls_args, *argv])


def api(tmp: Path, etcd: EtcdCluster, prefix: str, cache: Path | None = None,
        urls: str | None = None) -> ApiServer:
    return ApiServer(tmp, None, "--etcd", urls or etcd.option, "--etcd-prefix", prefix,
                     "--etcd-cache", str(cache or tmp / "cache.json"), *etcd.tls_args)


def create(server: ApiServer, **params: int) -> requests.Response:
    return requests.post(server.url + "/v1/fractals", json=params, timeout=5)


def readyz_settings(server: ApiServer) -> dict:
    answer = requests.get(server.url + "/readyz", timeout=5)
    assert answer.status_code == 200, answer.text
    return answer.json()["settings"]


def metric(url: str, name: str) -> float | None:
    for line in requests.get(url + "/metrics", timeout=5).text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def seconds_until(condition, timeout: float, what: str) -> float:
    started = time.monotonic()
    wait_until(condition, timeout, what, interval=0.01)
    return time.monotonic() - started


class Worker(Process):
    def __init__(self, tmp: Path, api_url: str, etcd: EtcdCluster, prefix: str) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        self.metrics_port = free_port()
        self.url = f"http://127.0.0.1:{self.metrics_port}"
        super().__init__([sys.executable, "-m", "fractal_service.worker.main", "--api", api_url,
                          "--name", "w", "--poll-interval", "0.2", "--etcd", etcd.option,
                          *etcd.tls_args,
                          "--etcd-prefix", prefix, "--etcd-cache", str(tmp / "cache.json"),
                          "--metrics-bind", f"127.0.0.1:{self.metrics_port}"],
                         tmp / "worker.log")

    def start(self) -> None:
        super().start()

        def serving() -> bool:
            if not self.alive():
                raise AssertionError(f"fractal-worker exited:\n{self.output()}")
            try:
                return requests.get(self.url + "/metrics", timeout=1).ok
            except requests.RequestException:
                return False

        wait_until(serving, 30, f"the worker's metrics ({self.log})")
