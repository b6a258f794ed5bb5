"""openstacksdk through clouds.yaml, as the cluster's ordinary member user."""

from __future__ import annotations

import pytest
from openstack import exceptions

from cluster.openstack import clouds, regions
from cluster.openstack.layout import MEMBER_CLOUD

pytestmark = pytest.mark.openstack


@pytest.fixture(scope="module")
def member(lab_cloud):
    return clouds.connect(lab_cloud.layout, MEMBER_CLOUD)


def test_member_sees_one_port_per_node_with_its_server_id(lab_cloud, member):
    topo = lab_cloud.topology
    for node, server_id in topo.servers.items():
        ports = list(member.network.ports(device_id=server_id))
        assert [p.id for p in ports] == [topo.ports[node]]
        assert ports[0].fixed_ips[0]["ip_address"] == topo.addresses[node]


def test_member_moves_the_floating_ip_between_nodes(lab_cloud, member):
    topo = lab_cloud.topology
    try:
        for node in ("n1", "n2"):
            member.network.update_ip(topo.floating_ip_id, port_id=topo.ports[node])
            shown = member.network.get_ip(topo.floating_ip_id)
            assert (shown.port_id, shown.fixed_ip_address) == (topo.ports[node],
                                                                topo.addresses[node])
            assert shown.router_id == topo.router
    finally:
        member.network.update_ip(topo.floating_ip_id, port_id=None)
    assert member.network.get_ip(topo.floating_ip_id).port_id is None


def test_catalog_has_network_compute_and_object_store_in_region_one(lab_cloud, member):
    for kind in ("network", "compute", "object-store"):
        url = member.endpoint_for(kind)
        assert url.startswith(lab_cloud.layout.public_url(
            {"network": "neutron"}.get(kind, kind))), kind


def test_region_two_has_only_identity_until_started(lab_cloud):
    admin = clouds.connect(lab_cloud.layout)
    assert {r.id for r in admin.identity.regions()} >= {"RegionOne", "RegionTwo"}
    region_two = {admin.identity.get_service(e.service_id).type
                  for e in admin.identity.endpoints() if e.region_id == "RegionTwo"}
    # Its own servers once started (tests/geo's two_regions fixture, which may have run first)
    started = {"object-store", "network", "compute"} if regions.started(lab_cloud.layout) else set()
    assert region_two == {"identity", *started}


def test_member_shows_servers_with_addresses_from_their_ports(lab_cloud, member):
    topo = lab_cloud.topology
    servers = {s.name: s for s in member.compute.servers()}
    assert set(servers) == set(topo.servers)
    for node, server in servers.items():
        assert server.id == topo.servers[node]
        assert server.status == "ACTIVE"
        addresses = [a["addr"] for a in server.addresses["fractal"]]
        assert addresses == [topo.addresses[node]]


def test_member_stops_and_starts_a_server(lab_cloud, member):
    server = member.compute.get_server(lab_cloud.topology.servers["n3"])
    member.compute.stop_server(server)
    member.compute.wait_for_server(server, status="SHUTOFF", interval=0.1, wait=30)
    member.compute.start_server(server)
    member.compute.wait_for_server(server, status="ACTIVE", interval=0.1, wait=30)


def test_member_cannot_act_as_admin(lab_cloud, member):
    with pytest.raises(exceptions.ForbiddenException):
        member.identity.create_project(name="not-allowed")
