"""The lab cloud's own certificate authority: its public endpoints also answer over HTTPS.

Like a company's cloud behind a private CA: clients must be given the CA (clouds.yaml's
`cacert`), the system's trust store does not know it. Made with `openssl` once per cloud, in
the state directory: a CA, and a server certificate for the endpoints' address (127.0.0.1).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from cluster.openstack.layout import HOST, Layout

DAYS = "30"


def ca_file(layout: Layout) -> Path:
    return layout.dir("tls") / "ca.pem"


def server_files(layout: Layout) -> tuple[Path, Path]:
    return layout.dir("tls") / "server.pem", layout.dir("tls") / "server.key"


def ensure(layout: Layout) -> None:
    """Idempotent: a CA and a server certificate signed by it, for HOST."""
    home = layout.dir("tls")
    cert, key = server_files(layout)
    if cert.exists() and key.exists() and ca_file(layout).exists():
        return
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    ca_key, csr, ext = home / "ca.key", home / "server.csr", home / "server.ext"
    ext.write_text(f"subjectAltName = IP:{HOST}\nbasicConstraints = CA:FALSE\n"
                   "keyUsage = digitalSignature, keyEncipherment\n"
                   "extendedKeyUsage = serverAuth\n")
    for argv in (
        ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", ca_key, "-out", ca_file(layout), "-days", DAYS,
         "-subj", "/CN=fractal-ha lab cloud CA"],
        ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", key, "-out", csr, "-subj", f"/CN={HOST}"],
        ["x509", "-req", "-in", csr, "-CA", ca_file(layout), "-CAkey", ca_key,
         "-CAcreateserial", "-out", cert, "-days", DAYS, "-extfile", ext],
    ):
        subprocess.run(["openssl", *map(str, argv)], check=True, capture_output=True)
