"""A throwaway CA for an etcd cluster with peer and client TLS (openssl), as production runs it:
one certificate per member (server and peer client) and one for the service's clients.

One place for the tests' loopback cluster (tests/support/etcd_cluster.py) and the lab's members
on its nodes (cluster/lab/etcd.py). EC keys: each takes milliseconds, so `lab up` barely notices.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
CLIENT = "client"


def _openssl(*argv: str) -> None:
    subprocess.run(["openssl", *argv], check=True, capture_output=True)


def make(root: Path, members: dict[str, list[str]], *, days: int = 2,
         label: str = "fractal-test") -> dict[str, Path]:
    """`members`: name → its subjectAltNames (e.g. ["IP:192.0.2.11", "DNS:n1"]). Returns the
    files by name: ca.crt, NAME.crt / NAME.key for each member, client.crt / client.key. Keys
    are 0600; the CA's key stays in `root` (a lab's CA signs nothing else)."""
    root.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", *EC, "-keyout", str(root / "ca.key"), "-out", str(root / "ca.crt"),
             "-days", str(days), "-subj", f"/CN={label}-etcd-ca")
    wanted = {name: ("serverAuth,clientAuth", sans) for name, sans in members.items()}
    wanted[CLIENT] = ("clientAuth", [])
    files = {"ca.crt": root / "ca.crt"}
    for name, (usage, sans) in wanted.items():
        ext = root / f"{name}.ext"
        ext.write_text((f"subjectAltName={','.join(sans)}\n" if sans else "")
                       + f"extendedKeyUsage={usage}\n")
        key, crt, csr = (root / f"{name}.{x}" for x in ("key", "crt", "csr"))
        _openssl("req", *EC, "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={label}-{name}")
        _openssl("x509", "-req", "-in", str(csr), "-CA", str(root / "ca.crt"),
                 "-CAkey", str(root / "ca.key"), "-CAcreateserial", "-days", str(days),
                 "-extfile", str(ext), "-out", str(crt))
        key.chmod(0o600)
        files[f"{name}.crt"], files[f"{name}.key"] = crt, key
    (root / "ca.key").chmod(0o600)
    return files
