"""The compute endpoint speaks Nova's protocol: discovery, microversions, errors."""

from __future__ import annotations

import pytest
import requests

from cluster.openstack import clouds
from cluster.openstack.layout import MEMBER_CLOUD

pytestmark = pytest.mark.openstack


@pytest.fixture(scope="module")
def api(lab_cloud):
    """(compute base URL from the catalog, a member's token)."""
    member = clouds.connect(lab_cloud.layout, MEMBER_CLOUD)
    return member.endpoint_for("compute").rstrip("/"), member.auth_token


def test_discovery_is_public_and_advertises_microversions(api):
    base, _ = api
    root = requests.get(base.rsplit("/v2.1", 1)[0] + "/", timeout=10).json()
    current = [v for v in root["versions"] if v["status"] == "CURRENT"]
    assert [v["id"] for v in current] == ["v2.1"]
    assert current[0]["min_version"] == "2.1"
    assert tuple(map(int, current[0]["version"].split("."))) >= (2, 60)


def test_requested_microversion_is_echoed(api):
    base, token = api
    answer = requests.get(f"{base}/servers", timeout=10, headers={
        "X-Auth-Token": token, "OpenStack-API-Version": "compute 2.53"})
    assert answer.status_code == 200
    assert answer.headers["OpenStack-API-Version"] == "compute 2.53"


def test_unsupported_microversion_is_406(api):
    base, token = api
    answer = requests.get(f"{base}/servers", timeout=10, headers={
        "X-Auth-Token": token, "OpenStack-API-Version": "compute 3.0"})
    assert answer.status_code == 406


@pytest.mark.parametrize("token", [None, "not-a-token"])
def test_without_a_valid_token_it_is_401(api, token):
    base, _ = api
    headers = {"X-Auth-Token": token} if token else {}
    answer = requests.get(f"{base}/servers", headers=headers, timeout=10)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Keystone uri=")


def test_unknown_server_is_404_in_novas_shape(api):
    base, token = api
    answer = requests.get(f"{base}/servers/nope", headers={"X-Auth-Token": token}, timeout=10)
    assert answer.status_code == 404
    assert answer.json()["itemNotFound"]["code"] == 404


@pytest.mark.parametrize("body", [{}, {"os-migrate": None}, {"reboot": {"type": "WARM"}},
                                  "text"])
def test_bad_actions_are_400_with_a_reason(api, lab_cloud, body):
    base, token = api
    server = lab_cloud.topology.servers["n1"]
    answer = requests.post(f"{base}/servers/{server}/action", json=body, timeout=10,
                           headers={"X-Auth-Token": token})
    assert answer.status_code == 400
    assert answer.json()["badRequest"]["message"]


def test_starting_a_running_server_is_409(api, lab_cloud):
    base, token = api
    server = lab_cloud.topology.servers["n1"]
    answer = requests.post(f"{base}/servers/{server}/action", json={"os-start": None},
                           headers={"X-Auth-Token": token}, timeout=10)
    assert answer.status_code == 409
    assert "vm_state active" in answer.json()["conflictingRequest"]["message"]


def test_list_filters_and_pages(api, lab_cloud):
    base, token = api
    headers = {"X-Auth-Token": token}
    ids = sorted(lab_cloud.topology.servers.items())
    page = requests.get(f"{base}/servers", params={"limit": 1, "marker": ids[0][1]},
                        headers=headers, timeout=10).json()["servers"]
    assert [s["name"] for s in page] == [ids[1][0]]
    named = requests.get(f"{base}/servers/detail", params={"name": "^n3$"}, headers=headers,
                         timeout=10).json()["servers"]
    assert [(s["name"], s["status"]) for s in named] == [("n3", "ACTIVE")]
