"""The lab's etcd: one member per node (Debian's etcd-server 3.4), peer and client TLS from a
CA of the lab's own (cluster/etcd_pki.py), client certificates required both ways.

Its own cluster beside Pacemaker, not a Pacemaker resource, as etcd is normally run: etcd keeps
its own quorum, and a resource would be stopped with the partition that loses Pacemaker's,
taking the settings away exactly when the survivors need them. Each node starts its member at
boot as Debian's etcd.service would (its /etc/default/etcd, node-etcd.sh), so a node's crash
takes its member down and its boot brings it back with its data. The services on the nodes
reach all members (agents' etcd_* parameters); the client files are in the nodes' /etc/fractal.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from cluster import etcd_pki
from cluster.lab.node import Node, NodeError
from cluster.openstack.daemons import PROJECT_BIN
from cluster.private_file import write_private

CLIENT_PORT, PEER_PORT = 2379, 2380
NODE_ETCD = Path(__file__).with_name("node-etcd.sh")
# The client's files on every node (the lab's /etc/fractal): the CIB names them, never a key.
ON_NODES = {"ca.crt": "/etc/fractal/etcd-ca.crt", "client.crt": "/etc/fractal/etcd-client.crt",
            "client.key": "/etc/fractal/etcd-client.key"}
# A member's wait for one answer (health, a stop); elections take ~1 s (etcd's defaults).
ANSWER_S = 2.0


class LabEtcd:
    def __init__(self, directory: Path, members: dict[str, str], token: str) -> None:
        """`members`: node name → its address."""
        self.dir = directory
        self.members = members
        self.token = token  # the cluster token: this lab's members never join another's

    @property
    def urls(self) -> list[str]:
        return [f"https://{address}:{CLIENT_PORT}" for address in self.members.values()]

    @property
    def option(self) -> str:
        return ",".join(self.urls)

    def url(self, name: str) -> str:
        return f"https://{self.members[name]}:{CLIENT_PORT}"

    @property
    def tls_args(self) -> list[str]:
        """`fractal config`'s TLS options, with the files as the nodes see them."""
        return ["--etcd-ca", ON_NODES["ca.crt"], "--etcd-cert", ON_NODES["client.crt"],
                "--etcd-key", ON_NODES["client.key"]]

    def service_params(self) -> dict[str, str]:
        """ServiceConfig's etcd fields: the API and the workers follow these members."""
        return {"etcd_urls": self.option, "etcd_ca": ON_NODES["ca.crt"],
                "etcd_cert": ON_NODES["client.crt"], "etcd_key": ON_NODES["client.key"]}

    def defaults(self, name: str) -> Path:
        """The node's /etc/default/etcd."""
        return self.dir / f"{name}.defaults"

    def prepare(self, fractal_etc: Path) -> None:
        """A new CA and certificates, each member's /etc/default/etcd, and the client's files
        in `fractal_etc` (the nodes' /etc/fractal). The members' data starts empty (each
        node's directory is fresh from Node.prepare)."""
        if self.dir.exists():
            shutil.rmtree(self.dir)
        pki = etcd_pki.make(self.dir / "pki", {
            name: [f"IP:{address}", "IP:127.0.0.1", f"DNS:{name}"]
            for name, address in self.members.items()}, days=365, label=self.token)
        for name, on_node in ON_NODES.items():
            write_private(fractal_etc / Path(on_node).name, pki[name].read_text())
        peers = ",".join(f"{n}=https://{a}:{PEER_PORT}" for n, a in self.members.items())
        for name, address in self.members.items():
            crt, key, ca = pki[f"{name}.crt"], pki[f"{name}.key"], pki["ca.crt"]
            variables = {
                "ETCD_NAME": name, "ETCD_DATA_DIR": "/var/lib/etcd/default",
                "ETCD_LISTEN_CLIENT_URLS": f"https://{address}:{CLIENT_PORT},"
                                           f"https://127.0.0.1:{CLIENT_PORT}",
                "ETCD_ADVERTISE_CLIENT_URLS": f"https://{address}:{CLIENT_PORT}",
                "ETCD_LISTEN_PEER_URLS": f"https://{address}:{PEER_PORT}",
                "ETCD_INITIAL_ADVERTISE_PEER_URLS": f"https://{address}:{PEER_PORT}",
                "ETCD_INITIAL_CLUSTER": peers, "ETCD_INITIAL_CLUSTER_STATE": "new",
                "ETCD_INITIAL_CLUSTER_TOKEN": self.token,
                "ETCD_CERT_FILE": crt, "ETCD_KEY_FILE": key, "ETCD_TRUSTED_CA_FILE": ca,
                "ETCD_CLIENT_CERT_AUTH": "true",
                "ETCD_PEER_CERT_FILE": crt, "ETCD_PEER_KEY_FILE": key,
                "ETCD_PEER_TRUSTED_CA_FILE": ca, "ETCD_PEER_CLIENT_CERT_AUTH": "true",
                "ETCD_LOGGER": "zap", "ETCD_LOG_LEVEL": "warn"}
            self.defaults(name).write_text(
                "# This lab node's etcd member (cluster/lab/etcd.py), read by node-etcd.sh\n"
                + "".join(f"{k}={v}\n" for k, v in variables.items()))

    # -- on a running node ---------------------------------------------------------------
    def healthy(self, node: Node) -> bool:
        """The node's member answers /health with "true" (it has a leader: a quorum)."""
        cert = ["--cacert", ON_NODES["ca.crt"], "--cert", ON_NODES["client.crt"],
                "--key", ON_NODES["client.key"]]
        try:
            done = node.exec(["curl", "-sS", "-m", str(ANSWER_S), *cert,
                              f"https://127.0.0.1:{CLIENT_PORT}/health"], check=False,
                             timeout=ANSWER_S + 5)
            return json.loads(done.stdout or "{}").get("health") == "true"
        except (NodeError, ValueError):
            return False

    def wait_healthy(self, nodes: list[Node], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not all(self.healthy(n) for n in nodes):
            if time.monotonic() > deadline:
                raise TimeoutError(f"etcd not healthy on every node within {timeout:.0f} s")
            time.sleep(0.2)

    def stop(self, node: Node) -> None:
        """SIGTERM to the node's member (by its pid file, if that pid is etcd), until gone."""
        node.exec(["bash", "-c", 'pid=$(cat /run/etcd.pid) || exit 0\n'
                   '[[ $(cat /proc/$pid/comm 2>/dev/null) == etcd ]] || exit 0\n'
                   'kill "$pid"\n'
                   'for _ in $(seq 100); do\n'
                   '  [[ $(cut -d" " -f3 /proc/$pid/stat 2>/dev/null) =~ ^(Z|)$ ]] && exit 0\n'
                   '  sleep 0.1\ndone\nkill -KILL "$pid"'])

    def start(self, node: Node) -> None:
        """Start the node's member again (it rejoins with its data and catches up)."""
        node.exec(["bash", str(NODE_ETCD)])

    def config(self, node: Node, *argv: str, urls: str | None = None,
               check: bool = True) -> str:
        """`fractal config ARGV` inside `node`, against every member (or `urls`); its output."""
        done = node.exec([str(PROJECT_BIN / "fractal"), "config", "--etcd", urls or self.option,
                          *self.tls_args, *argv], check=check, timeout=30)
        return done.stdout
