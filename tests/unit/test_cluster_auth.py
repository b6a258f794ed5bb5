"""The clusters (the lab, the Vagrant VMs) run the API with authentication on: fractal.crm as
rendered for each names a token file on the nodes (never a token, never auth=none), and the
host's clients send the token from that file without showing it on a command line."""

from __future__ import annotations

import stat
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

from cluster import api_token
from cluster.crm_config import ServiceConfig
from cluster.vagrant.driver import Settings, service_config, slow_vm_timings


def primitive(crm: str, name: str) -> str:
    return crm.split(f"primitive {name} ", 1)[1].split("\nprimitive ", 1)[0]


def test_both_clusters_configure_token_auth_by_file() -> None:
    lab = ServiceConfig("198.51.100.10").render()
    vms = slow_vm_timings(service_config(Settings()).render({"n1": "a", "n2": "b", "n3": "c"}))
    for crm in (lab, vms):
        assert "auth=none" not in crm
        assert "auth=token token_file=/etc/fractal/api-token" in primitive(crm, "fractal-api")
        assert "token_file=/etc/fractal/api-token" in primitive(crm, "fractal-worker")


def test_token_file_private_and_kept(tmp_path: Path) -> None:
    path = api_token.make(tmp_path / "etc" / "api-token")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    token = path.read_text()
    assert len(token.strip()) >= 32 and api_token.make(path).read_text() == token


def test_curl_sends_the_token_from_stdin_not_argv(tmp_path: Path) -> None:
    path = api_token.make(tmp_path / "api-token")
    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization"))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.handle_request, daemon=True).start()
    options, stdin = api_token.curl_auth(path)
    argv = ["curl", "-fsS", "-m", "5", f"http://127.0.0.1:{server.server_port}/", *options]
    subprocess.run(argv, input=stdin, check=True, timeout=10)
    server.server_close()
    token = path.read_text().strip()
    assert seen == [f"Bearer {token}"]
    assert not any(token in arg for arg in argv)


def test_no_token_file_no_credentials(tmp_path: Path) -> None:
    assert api_token.curl_auth(tmp_path / "absent") == ([], None)
