"""The floating-IP agent's fast path (http.client) speaks TLS as clouds.yaml says: a private CA
(`cacert`), `verify: false`, a client certificate (`cert`/`key`). A loopback HTTPS server with a
CA made by the lab cloud's own tooling (cluster/openstack/tls.py, openssl)."""

from __future__ import annotations

import http.server
import json
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster.openstack import tls
from cluster.openstack.layout import Layout
from resource_agents.openstack import neutron


class _Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"floatingip": {"port_id": "p1", "revision_number": 3}}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> Layout:
    layout = Layout(state=tmp_path_factory.mktemp("cloud") / "state")
    tls.ensure(layout)
    return layout


def _client_cert(layout: Layout, home: Path) -> tuple[str, str]:
    key, csr, cert = home / "client.key", home / "client.csr", home / "client.pem"
    run = lambda *a: subprocess.run(["openssl", *map(str, a)], check=True,  # noqa: E731
                                    capture_output=True)
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", key, "-out", csr, "-subj", "/CN=n1")
    run("x509", "-req", "-in", csr, "-CA", tls.ca_file(layout), "-CAkey",
        layout.dir("tls") / "ca.key", "-CAcreateserial", "-out", cert, "-days", "1")
    return str(cert), str(key)


def _serve(layout: Layout, client_ca: bool) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*tls.server_files(layout))
    if client_ca:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(tls.ca_file(layout))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/v2.0/floatingips/f1"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def https(ca: Layout) -> Iterator[str]:
    yield from _serve(ca, client_ca=False)


@pytest.fixture
def mutual(ca: Layout) -> Iterator[str]:
    yield from _serve(ca, client_ca=True)


def test_a_private_ca_is_honoured(https: str, ca: Layout) -> None:
    answer = neutron.call("GET", https, "tok", 5, tls=neutron.Tls(str(tls.ca_file(ca))))
    assert answer["floatingip"]["port_id"] == "p1"


def test_the_system_trust_store_does_not_know_it(https: str) -> None:
    with pytest.raises(neutron.CloudError, match="CERTIFICATE_VERIFY_FAILED"):
        neutron.call("GET", https, "tok", 5)


def test_verify_false_is_honoured(https: str) -> None:
    assert neutron.call("GET", https, "tok", 5, tls=neutron.Tls(False))["floatingip"]


def test_a_client_certificate_is_presented(mutual: str, ca: Layout, tmp_path: Path) -> None:
    cert, key = _client_cert(ca, tmp_path)
    with pytest.raises(neutron.CloudError):  # the server wants one
        neutron.call("GET", mutual, "tok", 5, tls=neutron.Tls(str(tls.ca_file(ca))))
    answer = neutron.call("GET", mutual, "tok", 5,
                          tls=neutron.Tls(str(tls.ca_file(ca)), cert, key))
    assert answer["floatingip"]["revision_number"] == 3
