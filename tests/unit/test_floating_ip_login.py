"""The floating-IP agent's login and takeover, counted in round trips against a fake cloud
(tests/support/fake_cloud.py): through a slow Keystone each Keystone call, and each Neutron call
with a token Neutron has not checked yet, costs the latency again (issue 14: 16 s of login in a
takeover at 1.5 s of Keystone latency)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from resource_agents.agents.floating_ip import FloatingIpAgent
from resource_agents.openstack import session
from tests.support.fake_cloud import FIP_ADDRESS, clouds_yaml

OK, NOT_RUNNING, CONFIGURED, INSTALLED = 0, 7, 6, 5
STANDBY = {"OCF_RESKEY_CRM_meta_interval": "60000", "OCF_RESKEY_CRM_meta_role": "Stopped"}


def login(clouds: Path, node: str = "n1", previous=None, **overrides) -> session.Session:
    if previous is not None:
        overrides["previous"] = previous
    args = {"cloud": "fake", "clouds_yaml": str(clouds), "region": "", "network": "private",
            "floating_ip": FIP_ADDRESS, "node": node, "port_map": {}, "timeout": 5, "key": [],
            **overrides}
    return session.login(**args)


def agent(clouds: Path, tmp_path: Path, node: str, action: str, **env: str) -> int:
    environ = {"HA_RSCTMP": str(tmp_path / node), "OCF_RESOURCE_INSTANCE": "fip",
               "OCF_RESKEY_cloud": "fake", "OCF_RESKEY_clouds_yaml": str(clouds),
               "OCF_RESKEY_floating_ip": FIP_ADDRESS, "OCF_RESKEY_network": "private",
               "OCF_RESKEY_CRM_meta_on_node": node, "OCF_RESKEY_CRM_meta_timeout": "20000",
               **env}
    return FloatingIpAgent(environ).run(["floating-ip", action])


def test_a_login_is_one_keystone_call_and_one_query_per_lookup(cloud, clouds) -> None:
    """openstacksdk's login made three Keystone calls (discovery, the token twice) and eight
    more (the floating IP, the server and the network each by id, then by name)."""
    found = login(clouds)
    assert cloud.log == ["POST /identity/v3/auth/tokens", "GET /network/v2.0/floatingips",
                         "GET /compute/v2.1/servers", "GET /network/v2.0/networks",
                         "GET /network/v2.0/ports"]
    assert (found.fip_id, found.fip_address, found.port_id) == ("fip-1", FIP_ADDRESS, "port-n1")
    assert found.endpoint == cloud.url + "/network" and found.token in cloud.tokens
    assert found.fresh() and found.verify is True


def test_a_refused_token_is_renewed_with_one_keystone_call(cloud, clouds) -> None:
    first = login(clouds, key=["k"])
    cloud.revoke()
    cloud.reset()
    renewed = login(clouds, previous=first, key=["k"])
    assert cloud.log == ["POST /identity/v3/auth/tokens"]  # the ids still hold
    assert renewed.token != first.token and renewed.port_id == first.port_id
    cloud.reset()
    login(clouds, previous=first, key=["other"])  # made for something else: looked up again
    assert len(cloud.log) == 5


def test_lookups_by_id_and_exact_names(cloud, clouds) -> None:
    """Nova's name filter is a regular expression: n1 must not find n10."""
    assert login(clouds, floating_ip="fip-1", network="net-1").fip_id == "fip-1"
    assert login(clouds, node="n10").port_id == "port-n10"
    assert login(clouds, port_map={"n1": "given"}).port_id == "given"


@pytest.mark.parametrize("overrides, code, words", [
    ({"floating_ip": "203.0.113.99"}, CONFIGURED, "does not exist"),
    ({"floating_ip": "no-such-id"}, CONFIGURED, "does not exist"),
    ({"network": "nowhere"}, CONFIGURED, "network 'nowhere'"),
    ({"node": "n9"}, INSTALLED, "node n9: no compute servers"),
    ({"network": ""}, INSTALLED, "2 ports"),  # n1 has a port on each network
    ({"region": "RegionTwo"}, INSTALLED, "no public network endpoint in region RegionTwo"),
])
def test_what_the_cloud_lacks_is_told_with_the_right_code(cloud, clouds, overrides, code,
                                                          words) -> None:
    with pytest.raises(session.OcfError) as caught:
        login(clouds, **overrides)
    assert caught.value.code == code and words in caught.value.reason


def test_refused_credentials_are_this_nodes_problem(cloud, clouds) -> None:
    entry = clouds_yaml(cloud)
    entry["clouds"]["fake"]["auth"]["password"] = "wrong"
    clouds.write_text(yaml.safe_dump(entry))
    with pytest.raises(session.OcfError) as caught:
        login(clouds)
    assert caught.value.code == INSTALLED and "wrong" not in caught.value.reason


@pytest.mark.parametrize("extra, plain", [
    ({}, True), ({"cacert": "/ca.pem"}, True), ({"profile": "vexxhost"}, False),
    ({"auth_type": "v3applicationcredential"}, False), ({"regions": ["A", "B"]}, False),
])
def test_entries_the_plain_path_does_not_understand_go_to_openstacksdk(cloud, tmp_path, extra,
                                                                       plain) -> None:
    from resource_agents.openstack import identity

    path = tmp_path / "clouds.yaml"
    path.write_text(yaml.safe_dump(clouds_yaml(cloud, **extra)))
    assert (identity.plain_entry(str(path), "fake", "") is not None) == plain
    assert identity.plain_entry(str(path), "missing", "") is None


@pytest.mark.parametrize("extra, verify", [
    ({}, True), ({"cacert": "/ca.pem"}, "/ca.pem"), ({"verify": False, "cacert": "/ca.pem"}, False),
    ({"insecure": True}, False),
])
def test_tls_settings_as_openstacksdk_reads_them(cloud, tmp_path, extra, verify) -> None:
    from resource_agents.openstack import identity

    path = tmp_path / "clouds.yaml"
    path.write_text(yaml.safe_dump(clouds_yaml(cloud, cert="/c.pem", key="/k.pem", **extra)))
    entry = identity.plain_entry(str(path), "fake", "")
    assert (entry.tls.verify, entry.tls.cert, entry.tls.key) == (verify, "/c.pem", "/k.pem")


# -- the takeover, as the agent runs it -----------------------------------------------------
@pytest.fixture
def held_by_n1(cloud, clouds, tmp_path) -> None:
    """n1 serves the address; n2, its standby, has read it since (its role=Stopped monitor)."""
    assert agent(clouds, tmp_path, "n1", "start") == OK
    assert agent(clouds, tmp_path, "n2", "monitor", **STANDBY) == NOT_RUNNING
    cloud.reset()


def test_a_takeover_is_one_conditional_update(cloud, clouds, tmp_path, held_by_n1) -> None:
    """n1 crashed: n2's start is one PUT, conditional on the revision n2 last read (a GET and
    a PUT before, each a token check in Keystone)."""
    assert agent(clouds, tmp_path, "n2", "start") == OK
    assert cloud.log == ["PUT /network/v2.0/floatingips/fip-1"]
    assert cloud.fip["port_id"] == "port-n2"


def test_a_takeover_after_a_revocation_logs_in_with_one_keystone_call(
        cloud, clouds, tmp_path, held_by_n1) -> None:
    cloud.revoke()  # just before the crash: no standby monitor in between
    assert agent(clouds, tmp_path, "n2", "start") == OK
    assert cloud.log == ["PUT /network/v2.0/floatingips/fip-1",  # refused
                         "POST /identity/v3/auth/tokens",
                         "PUT /network/v2.0/floatingips/fip-1"]
    assert cloud.fip["port_id"] == "port-n2"


def test_an_address_moved_since_the_standby_read_it_is_read_again(cloud, clouds, tmp_path,
                                                                  held_by_n1) -> None:
    cloud.fip.update(port_id="port-n10", revision_number=cloud.fip["revision_number"] + 1)
    assert agent(clouds, tmp_path, "n2", "start") == OK
    assert cloud.log == ["PUT /network/v2.0/floatingips/fip-1",  # 412
                         "GET /network/v2.0/floatingips/fip-1",
                         "PUT /network/v2.0/floatingips/fip-1"]
    assert cloud.fip["port_id"] == "port-n2"


def test_the_standby_monitor_finds_a_revoked_token_before_the_takeover(
        cloud, clouds, tmp_path, held_by_n1) -> None:
    cache = tmp_path / "n2" / "fractal-floating-ip-fip" / "session.json"
    revoked = json.loads(cache.read_text())["token"]
    cloud.revoke()
    assert agent(clouds, tmp_path, "n2", "monitor", **STANDBY) == NOT_RUNNING
    assert cloud.calls["identity"] == 1  # one login, the ids kept
    assert json.loads(cache.read_text())["token"] not in (revoked, "")
    cloud.reset()
    assert agent(clouds, tmp_path, "n2", "start") == OK
    assert cloud.log == ["PUT /network/v2.0/floatingips/fip-1"]


def test_a_standby_backs_off_a_failing_keystone_and_a_start_does_not(cloud, clouds, tmp_path,
                                                                     held_by_n1) -> None:
    """Keystone down and the standby's token revoked: its monitor answers 7 (never an error
    for a cloud problem) and tries the login again only after the back-off; a takeover's start
    logs in at once."""
    cloud.revoke()
    cloud.failing.add("identity")
    assert agent(clouds, tmp_path, "n2", "monitor", **STANDBY) == NOT_RUNNING
    assert 1 <= cloud.calls["identity"] <= 3  # a refused connection or 503 retried briefly
    cloud.reset()
    for _ in range(3):
        assert agent(clouds, tmp_path, "n2", "monitor", **STANDBY) == NOT_RUNNING
    assert cloud.calls["identity"] == 0 and cloud.calls["network"] == 3
    assert agent(clouds, tmp_path, "n2", "monitor") == NOT_RUNNING  # a probe still asks
    assert cloud.calls["identity"] >= 1
    cloud.failing.clear()
    assert agent(clouds, tmp_path, "n2", "start") == OK
    assert cloud.fip["port_id"] == "port-n2"


def test_a_planned_move_hands_the_address_over_in_one_update(cloud, clouds, tmp_path,
                                                             held_by_n1) -> None:
    """allow-migrate (issue 17): migrate_to on the source calls nothing (the address keeps
    forwarding to its API), migrate_from on the target is the takeover's one PUT, and the stop
    Pacemaker runs on the source afterwards finds it elsewhere and leaves it: never associated
    with nobody, as a stop then a start leaves it in between."""
    migrate = {"OCF_RESKEY_CRM_meta_migrate_source": "n1",
               "OCF_RESKEY_CRM_meta_migrate_target": "n2"}
    assert agent(clouds, tmp_path, "n1", "migrate_to", **migrate) == OK
    assert cloud.log == [] and cloud.fip["port_id"] == "port-n1"
    assert agent(clouds, tmp_path, "n2", "migrate_from", **migrate) == OK
    assert cloud.log == ["PUT /network/v2.0/floatingips/fip-1"]
    assert cloud.fip["port_id"] == "port-n2"
    assert agent(clouds, tmp_path, "n1", "stop") == OK
    assert cloud.fip["port_id"] == "port-n2"


def test_a_stop_then_a_start_leaves_the_address_with_nobody_in_between(cloud, clouds, tmp_path,
                                                                       held_by_n1) -> None:
    assert agent(clouds, tmp_path, "n1", "stop") == OK
    assert cloud.fip["port_id"] is None  # what a client sees until the start elsewhere
