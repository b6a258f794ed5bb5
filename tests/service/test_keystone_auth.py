"""auth=keystone against the lab cloud's real Keystone: keystonemiddleware's auth_token validates
the tokens, the API checks the roles (fractal_creator for POST/DELETE, fractal_worker for the
job protocol), and the CLI and a worker log in from clouds.yaml."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import yaml

from tests.support import keystone_users
from tests.support.cloud import LabCloud
from tests.support.processes import ApiServer, WorkerProcess, wait_until

pytestmark = pytest.mark.openstack

SMALL = {"width": 8, "height": 8, "iterations": 8}


@dataclass
class KeystoneApi:
    api: ApiServer
    clouds_yaml: Path
    tokens: dict[str, str]  # user -> a Keystone token

    def call(self, method: str, path: str, user: str | None, **kwargs) -> requests.Response:
        headers = {"X-Auth-Token": self.tokens[user]} if user else {}
        return requests.request(method, self.api.url + path, headers=headers, timeout=10,
                                **kwargs)


@pytest.fixture(scope="module")
def keystone_api(lab_cloud: LabCloud,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeystoneApi]:
    from openstack.config import loader

    home = tmp_path_factory.mktemp("keystone-auth")
    clouds_yaml = home / "clouds.yaml"
    clouds_yaml.touch(mode=0o600)
    clouds_yaml.write_text(yaml.safe_dump({"clouds": keystone_users.users(lab_cloud.layout)}))
    config = loader.OpenStackConfig(config_files=[str(clouds_yaml)])
    tokens = {name: config.get_one(cloud=name).get_session().get_token()
              for name in keystone_users.USERS}
    ini = keystone_users.authtoken_conf(lab_cloud.layout, home / "authtoken.ini")
    api = ApiServer(home / "api", None, "--keystone-config", str(ini), auth="keystone")
    api.start()
    yield KeystoneApi(api, clouds_yaml, tokens)
    api.stop()


def test_anonymous_and_invalid_tokens_are_401(keystone_api: KeystoneApi) -> None:
    for headers in ({}, {"X-Auth-Token": "not-a-keystone-token"}):
        r = requests.post(keystone_api.api.url + "/v1/fractals", json=SMALL, headers=headers,
                          timeout=10)
        assert r.status_code == 401, r.text
        assert r.json()["error"]["status"] == 401
    assert keystone_api.call("GET", "/v1/fractals", None).status_code == 200  # reads: public


def test_roles_decide_who_creates_and_who_claims(keystone_api: KeystoneApi) -> None:
    call = keystone_api.call
    assert call("POST", "/v1/fractals", "fa-bystander", json=SMALL).status_code == 403
    assert call("POST", "/v1/jobs/claim", "fa-bystander", json={"worker": "w"}).status_code == 403
    assert call("POST", "/v1/fractals", "fa-worker", json=SMALL).status_code == 403
    created = call("POST", "/v1/fractals", "fa-creator", json=SMALL)
    assert created.status_code == 201, created.text
    assert call("POST", "/v1/jobs/claim", "fa-creator", json={"worker": "w"}).status_code == 403
    claimed = call("POST", "/v1/jobs/claim", "fa-worker", json={"worker": "w"})
    assert claimed.status_code == 200 and claimed.json()["job"]["uuid"]
    uuid = created.json()["uuid"]
    assert call("DELETE", f"/v1/fractals/{uuid}", "fa-worker").status_code == 403
    assert call("DELETE", f"/v1/fractals/{uuid}", "fa-creator").status_code == 204


def test_the_cli_and_a_worker_log_in_from_clouds_yaml(keystone_api: KeystoneApi,
                                                      tmp_path: Path) -> None:
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(keystone_api.clouds_yaml)}
    done = subprocess.run([sys.executable, "-m", "fractal_service.cli.main", "--api",
                           keystone_api.api.url, "--os-cloud", "fa-creator", "create",
                           "--width", "8", "--height", "8", "--iterations", "8"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    worker = WorkerProcess(keystone_api.api.url, "keystone-worker", tmp_path, 30.0,
                           "--os-cloud", "fa-worker", "--clouds-yaml",
                           str(keystone_api.clouds_yaml))
    worker.start()
    try:
        wait_until(lambda: keystone_api.call("GET", "/v1/fractals?state=done", None)
                   .json()["fractals"], 60, "the worker to render the job")
    finally:
        worker.stop()
