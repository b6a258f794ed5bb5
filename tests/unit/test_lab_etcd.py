"""The lab's etcd as configured (cluster/lab/etcd.py): each node's /etc/default/etcd, the
certificates from the lab's CA, and the CIB that points the services at the members. That the
members form a cluster the services follow is tests/cluster/test_settings_in_etcd.py."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

from cluster.crm_config import ServiceConfig
from cluster.lab.etcd import ON_NODES, LabEtcd

MEMBERS = {"n1": "192.0.2.11", "n2": "192.0.2.12", "n3": "192.0.2.13"}


def defaults(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines()
                if line and not line.startswith("#"))


def primitive(crm: str, name: str) -> str:
    return crm.split(f"primitive {name} ", 1)[1].split("\nprimitive ", 1)[0]


def test_each_member_gets_its_own_tls_configuration(tmp_path: Path) -> None:
    etcd = LabEtcd(tmp_path / "etcd", MEMBERS, token="t-etcd")
    etc = tmp_path / "etc-fractal"
    etcd.prepare(etc)
    peers = ",".join(f"{n}=https://{a}:2380" for n, a in MEMBERS.items())
    for name, address in MEMBERS.items():
        env = defaults(etcd.defaults(name))
        assert env["ETCD_NAME"] == name and env["ETCD_INITIAL_CLUSTER"] == peers
        assert env["ETCD_ADVERTISE_CLIENT_URLS"] == f"https://{address}:2379"
        assert env["ETCD_CLIENT_CERT_AUTH"] == env["ETCD_PEER_CLIENT_CERT_AUTH"] == "true"
        assert env["ETCD_INITIAL_CLUSTER_TOKEN"] == "t-etcd"
        text = subprocess.run(["openssl", "x509", "-noout", "-text", "-in",
                               env["ETCD_CERT_FILE"]], capture_output=True, text=True).stdout
        assert f"IP Address:{address}" in text and f"DNS:{name}" in text
        verified = subprocess.run(["openssl", "verify", "-CAfile", env["ETCD_TRUSTED_CA_FILE"],
                                   env["ETCD_CERT_FILE"]], capture_output=True, text=True)
        assert verified.returncode == 0, verified.stderr
        assert stat.S_IMODE(Path(env["ETCD_KEY_FILE"]).stat().st_mode) == 0o600
    # The client's files, where the nodes' /etc/fractal shows them; the key private.
    for on_node in ON_NODES.values():
        assert (etc / Path(on_node).name).is_file()
    assert stat.S_IMODE((etc / "etcd-client.key").stat().st_mode) == 0o600


def test_the_services_follow_the_members_only_when_asked(tmp_path: Path) -> None:
    etcd = LabEtcd(tmp_path, MEMBERS, token="t")
    crm = ServiceConfig("198.51.100.10", **etcd.service_params()).render()
    for name in ("fractal-api", "fractal-worker"):
        text = primitive(crm, name)
        assert f"etcd_urls={etcd.option}" in text
        assert f"etcd_key={ON_NODES['client.key']}" in text
    plain = ServiceConfig("198.51.100.10").render()  # the Vagrant VMs: no etcd
    assert all("etcd" not in primitive(plain, n) for n in ("fractal-api", "fractal-worker"))
