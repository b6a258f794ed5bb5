"""The lab's OpenStack is the real thing: Keystone tokens and catalog, Neutron's resources, and
a floating IP that an ordinary project member can move between the cluster nodes' ports."""

from __future__ import annotations

import json
import time

import pytest
from keystoneauth1 import exceptions as ks_exc
from openstack.exceptions import SDKException

from cluster.cloud import cli, topology
from cluster.cloud.connect import connect
from cluster.cloud.layout import MEMBER_CLOUD, REGIONS, Layout

pytestmark = pytest.mark.openstack


def test_catalog_and_regions(cloud: Layout) -> None:
    admin = connect(cloud)
    assert {r.id for r in admin.identity.regions()} >= set(REGIONS)
    kinds = {s.type for s in admin.identity.services()}
    assert {"identity", "network"} <= kinds
    member = connect(cloud, MEMBER_CLOUD)
    # the member finds Neutron through the catalog (and its version discovery)
    assert member.network.get_endpoint().startswith(cloud.neutron_url)


def test_member_cannot_administer_identity(cloud: Layout) -> None:
    member = connect(cloud, MEMBER_CLOUD)
    with pytest.raises(Exception) as refused:
        list(member.identity.users())
    assert "403" in str(refused.value) or "Forbidden" in type(refused.value).__name__


def test_topology_is_in_neutron(cloud: Layout) -> None:
    built = json.loads((cloud.state / "topology.json").read_text())
    admin = connect(cloud).network
    assert admin.get_network(built["external_network"]).is_router_external
    for node, port_id in built["ports"].items():
        port = admin.get_port(port_id)
        assert port.device_id == topology.server_id(node)
        assert port.fixed_ips[0]["ip_address"] == topology.NODES[node]
    fip = admin.get_ip(built["floating_ip_id"])
    assert fip.floating_ip_address == topology.FLOATING_IP
    assert fip.router_id in (None, built["router"])


def test_member_moves_the_floating_ip_between_nodes(cloud: Layout) -> None:
    built = json.loads((cloud.state / "topology.json").read_text())
    net = connect(cloud, MEMBER_CLOUD).network
    fip = net.get_ip(built["floating_ip_id"])
    timings = []
    for node in ("n1", "n2", "n3", "n1"):
        started = time.perf_counter()
        net.update_ip(fip, port_id=built["ports"][node])
        timings.append(time.perf_counter() - started)
        shown = net.get_ip(fip.id)
        assert shown.fixed_ip_address == topology.NODES[node]
        assert shown.router_id == built["router"]
    net.update_ip(fip, port_id=None)
    assert net.get_ip(fip.id).port_id is None
    print(f"floating IP re-association: median {sorted(timings)[len(timings) // 2]:.3f} s")


def test_up_again_is_idempotent(cloud: Layout) -> None:
    before = json.loads((cloud.state / "topology.json").read_text())
    again = cli.up(cloud, say=lambda _: None)
    assert again.floating_ip_id == before["floating_ip_id"]
    assert again.ports == before["ports"]
    assert len(list(connect(cloud).network.networks(name="fractal"))) == 1


def test_wrong_password_is_refused(cloud: Layout) -> None:
    from openstack import connection

    bad = connection.Connection(auth_url=cloud.keystone_url, username="fractal",
                                password="not-the-password", project_name="fractal",
                                user_domain_name="Default", project_domain_name="Default")
    with pytest.raises(SDKException) as refused:
        bad.authorize()
    assert isinstance(refused.value.__cause__, ks_exc.Unauthorized) or "401" in str(refused.value)
