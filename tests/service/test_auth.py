"""Only who should: with auth=token (the default) anonymous writes and job calls are 401,
reads are public unless auth_reads, and the CLI and the workers authenticate from the token
file; the role rules (creator for POST/DELETE, worker for /v1/jobs) hold for Keystone roles."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask

from fractal_service.api import auth
from fractal_service.api.app import create_app
from fractal_service.client import ApiError, FractalClient
from fractal_service.config import Settings
from fractal_service.credentials import BearerFile
from tests.support.images import png, sha256
from tests.support.processes import ApiServer, WorkerProcess, wait_until

SMALL = {"width": 8, "height": 8, "iterations": 8}


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    server = ApiServer(tmp_path_factory.mktemp("auth"), auth="token")
    server.start()
    yield server
    server.stop()


def bearer(server: ApiServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.token_file.read_text().strip()}"}


def test_the_token_file_is_made_private_on_first_start(secured: ApiServer) -> None:
    mode = stat.S_IMODE(secured.token_file.stat().st_mode)
    assert mode == 0o600
    assert len(secured.token_file.read_text().strip()) >= 32


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/v1/fractals"), ("DELETE", "/v1/fractals/x"), ("POST", "/v1/jobs/claim"),
    ("POST", "/v1/jobs/x/heartbeat"), ("POST", "/v1/jobs/x/release"),
    ("POST", "/v1/jobs/x/fail"), ("PUT", "/v1/jobs/x/result")])
@pytest.mark.parametrize("credentials", [None, "Bearer wrong-token-of-some-length", "Basic x"])
def test_anonymous_or_wrong_writes_are_401(secured: ApiServer, method: str, path: str,
                                           credentials: str | None) -> None:
    headers = {"Authorization": credentials} if credentials else {}
    r = requests.request(method, secured.url + path, json={}, headers=headers, timeout=5)
    assert r.status_code == 401, r.text
    assert r.json()["error"]["status"] == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_reads_and_health_are_public(secured: ApiServer) -> None:
    for path in ("/v1/fractals", "/healthz", "/readyz", "/metrics", "/v1/openapi.json", "/"):
        assert requests.get(secured.url + path, timeout=5).status_code == 200, path
    # the agent's deep check carries no credentials
    assert requests.post(secured.url + "/v1/selftest", timeout=10).status_code == 200


def test_the_token_opens_writes_and_the_job_protocol(secured: ApiServer) -> None:
    client = FractalClient(secured.url, auth=BearerFile(secured.token_file))
    uuid = client.create(SMALL)["uuid"]
    claim = client.claim("w1", 30)
    assert claim is not None and claim.uuid == uuid
    image = png(8, 8)
    assert client.upload(claim, image, sha256(image), 0.1, "w1")["stored"] is True
    client.delete(uuid)
    with pytest.raises(ApiError) as anonymous:
        FractalClient(secured.url).create(SMALL)
    assert anonymous.value.status == 401


def test_the_cli_and_a_worker_authenticate_from_the_token_file(secured: ApiServer,
                                                                tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "fractal_service.cli.main", "--api", secured.url,
           "--retry-for", "0"]
    refused = subprocess.run([*cli, "create", "--width", "8", "--height", "8"],
                             capture_output=True, text=True, timeout=30)
    assert refused.returncode == 1 and "401" in refused.stderr
    created = subprocess.run([*cli, "--token-file", str(secured.token_file), "create",
                              "--width", "8", "--height", "8", "--iterations", "8"],
                             capture_output=True, text=True, timeout=30)
    assert created.returncode == 0, created.stderr
    worker = WorkerProcess(secured.url, "authed", tmp_path, 30.0,
                           "--token-file", str(secured.token_file))
    worker.start()
    try:
        wait_until(lambda: requests.get(secured.url + "/v1/fractals?state=done",
                                        timeout=5).json()["fractals"], 30, "a rendered job")
    finally:
        worker.stop()


def test_reads_need_credentials_when_auth_reads(tmp_path: Path) -> None:
    server = ApiServer(tmp_path / "api", None, auth="token")
    server.env["FRACTAL_AUTH_READS"] = "true"
    server.start()
    try:
        assert requests.get(server.url + "/v1/fractals", timeout=5).status_code == 401
        assert requests.get(server.url + "/v1/fractals", headers=bearer(server),
                            timeout=5).status_code == 200
        assert requests.get(server.url + "/healthz", timeout=5).status_code == 200
    finally:
        server.stop()


def test_a_token_file_open_to_others_stops_the_api(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("x" * 40)
    os.chmod(token, 0o644)
    done = subprocess.run([sys.executable, "-m", "fractal_service.api.server", "--bind",
                           "127.0.0.1:0", "--data-dir", str(tmp_path), "--auth", "token",
                           "--token-file", str(token)], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 2 and "chmod 600" in done.stderr


# -- roles, as keystonemiddleware reports them (the lab's real Keystone: test_keystone_auth) --
@pytest.fixture
def keystone_app(tmp_path: Path) -> Flask:
    settings = Settings(data_dir=tmp_path, auth="none")
    app = create_app(settings)
    auth.guard(app, settings, auth.KeystoneAuth())
    return app


@pytest.mark.parametrize(("roles", "create", "claim"), [
    ("fractal_creator", 201, 403), ("fractal_worker", 403, 204), ("member,reader", 403, 403),
    ("fractal_creator,fractal_worker", 201, 204)])
def test_creators_create_and_workers_claim(keystone_app: Flask, roles: str, create: int,
                                           claim: int) -> None:
    client = keystone_app.test_client()
    who = {"X-Identity-Status": "Confirmed", "X-Roles": roles}
    assert client.post("/v1/fractals", json=SMALL, headers=who).status_code == create
    # claim first: no job is pending when create is refused
    got = client.post("/v1/jobs/claim", json={"worker": "w"}, headers=who).status_code
    assert got in ((claim,) if claim == 403 else (200, 204))
    assert client.post("/v1/fractals", json=SMALL,
                       headers={"X-Identity-Status": "Invalid"}).status_code == 401
    assert client.get("/v1/fractals").status_code == 200


def test_an_unknown_auth_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="none, token, keystone"):
        Settings.from_mapping({"auth": "open"})


def test_a_keystone_config_open_to_others_is_refused(tmp_path: Path) -> None:
    ini = tmp_path / "authtoken.ini"
    ini.write_text("[keystone_authtoken]\nauth_type = password\npassword = secret\n")
    os.chmod(ini, 0o644)
    with pytest.raises(ValueError, match="chmod 600"):
        auth.check(Settings(data_dir=tmp_path, auth="keystone", keystone_config=ini))
    os.chmod(ini, 0o600)
    auth.check(Settings(data_dir=tmp_path, auth="keystone", keystone_config=ini))


@pytest.mark.parametrize(("options", "reason"), [
    (["--os-cloud", "nowhere"], "cloud 'nowhere'"),
    (["--token-file", "/nonexistent/token"], "cannot read token file"),
    (["--token-file", "/etc/hostname", "--os-cloud", "x"], "not both"),
])
def test_unusable_credentials_are_a_usage_error(tmp_path: Path, options: list[str],
                                                reason: str) -> None:
    clouds_yaml = tmp_path / "clouds.yaml"
    clouds_yaml.write_text("clouds: {}\n")
    done = subprocess.run([sys.executable, "-m", "fractal_service.cli.main", "--api",
                           "http://127.0.0.1:9", "--clouds-yaml", str(clouds_yaml), *options,
                           "list"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and reason in done.stderr, done.stderr


def test_forged_identity_headers_do_not_pass_auth_token(tmp_path: Path) -> None:
    """keystonemiddleware strips identity headers a client sends; health skips it (and Keystone,
    unreachable here, is never asked for either)."""
    ini = tmp_path / "authtoken.ini"
    ini.write_text("[keystone_authtoken]\nwww_authenticate_uri = http://127.0.0.1:9/v3\n"
                   "auth_url = http://127.0.0.1:9/v3\nauth_type = password\nusername = u\n"
                   "password = p\nproject_name = service\nuser_domain_name = Default\n"
                   "project_domain_name = Default\n")
    os.chmod(ini, 0o600)
    app = create_app(Settings(data_dir=tmp_path, auth="keystone", keystone_config=ini))
    client = app.test_client()
    forged = {"X-Identity-Status": "Confirmed", "X-Roles": "fractal_creator"}
    r = client.post("/v1/fractals", json=SMALL, headers=forged)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == 'Keystone uri="http://127.0.0.1:9/v3"'
    assert client.get("/healthz").status_code == 200
    assert client.get("/v1/fractals").status_code == 200
