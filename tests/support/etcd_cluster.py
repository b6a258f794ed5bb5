"""A real etcd cluster of three members on loopback (Debian's etcd-server), for tests.

Peer and client TLS with a throwaway CA (openssl), client certificates required both ways,
as a production cluster runs. Members are stopped by PID; each keeps its data directory, so a
stopped one restarts as the same member.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import requests

from cluster import etcd_pki
from cluster.ports import free_port
from tests.support.processes import Process, wait_until

ETCD = shutil.which("etcd") or "/usr/bin/etcd"


def make_ca(root: Path) -> dict[str, Path]:
    """A CA, one certificate for every member (server and peer client, 127.0.0.1) and one for
    the service's clients (cluster/etcd_pki.py, which the lab's members use too)."""
    return etcd_pki.make(root, {"member": ["IP:127.0.0.1"]})


class EtcdCluster:
    def __init__(self, root: Path, size: int = 3) -> None:
        taken: set[int] = set()
        self.ports = []
        for _ in range(size):
            client, peer = free_port(taken=taken), 0
            taken.add(client)
            peer = free_port(taken=taken)
            taken.add(peer)
            self.ports.append((client, peer))
        self.root = root
        self.pki = make_ca(root / "pki")
        initial = ",".join(f"m{i}=https://127.0.0.1:{p}" for i, (_, p) in enumerate(self.ports))
        self.members = [self._member(i, client, peer, initial)
                        for i, (client, peer) in enumerate(self.ports)]

    def _member(self, i: int, client: int, peer: int, initial: str) -> Process:
        data = self.root / f"m{i}"
        pki = {k: str(v) for k, v in self.pki.items()}
        tls = ["--cert-file", pki["member.crt"], "--key-file", pki["member.key"],
               "--trusted-ca-file", pki["ca.crt"], "--client-cert-auth",
               "--peer-cert-file", pki["member.crt"], "--peer-key-file", pki["member.key"],
               "--peer-trusted-ca-file", pki["ca.crt"], "--peer-client-cert-auth"]
        argv = [ETCD, "--name", f"m{i}", "--data-dir", str(data), *tls,
                "--listen-client-urls", f"https://127.0.0.1:{client}",
                "--advertise-client-urls", f"https://127.0.0.1:{client}",
                "--listen-peer-urls", f"https://127.0.0.1:{peer}",
                "--initial-advertise-peer-urls", f"https://127.0.0.1:{peer}",
                "--initial-cluster", initial, "--initial-cluster-state", "new",
                "--initial-cluster-token", "fractal-test",
                # Quick elections: a test waits for quorum after a restart.
                "--heartbeat-interval", "50", "--election-timeout", "500",
                "--logger", "zap", "--log-level", "warn"]
        return Process(argv, self.root / f"m{i}.log")

    @property
    def urls(self) -> list[str]:
        return [f"https://127.0.0.1:{c}" for c, _ in self.ports]

    @property
    def tls_args(self) -> list[str]:
        """The service's and the CLI's options for this cluster's TLS."""
        return ["--etcd-ca", str(self.pki["ca.crt"]), "--etcd-cert", str(self.pki["client.crt"]),
                "--etcd-key", str(self.pki["client.key"])]

    @property
    def option(self) -> str:
        return ",".join(self.urls)

    def start(self) -> None:
        for member in self.members:
            if not member.alive():
                member.start()
        self.wait_quorum()

    def start_member(self, i: int) -> None:
        self.members[i].start()

    def stop_member(self, i: int) -> None:
        self.members[i].stop(10)

    def stop(self) -> None:
        for member in self.members:
            member.stop(10)

    def wait_quorum(self, timeout: float = 30) -> None:
        def healthy() -> bool:
            for url in self.urls:
                try:
                    answer = requests.get(url + "/health", timeout=1,
                                          verify=str(self.pki["ca.crt"]),
                                          cert=(str(self.pki["client.crt"]),
                                                str(self.pki["client.key"])))
                    if answer.json().get("health") == "true":
                        return True
                except (requests.RequestException, ValueError):
                    continue
            return False

        wait_until(healthy, timeout, "etcd quorum", interval=0.1)
