"""Debian's `openstack` CLI, unmodified: what ocf:heartbeat:openstack-floating-ip and
openstack-info run, and an operator's `server list` / `server show`."""

from __future__ import annotations

import pytest

from cluster.openstack import clouds
from cluster.openstack.layout import MEMBER_CLOUD
from tests.openstack.clients import openstack, openstack_json

pytestmark = pytest.mark.openstack


def test_floating_ip_set_show_unset_port(lab_cloud):
    layout, topo = lab_cloud.layout, lab_cloud.topology
    try:
        done = openstack(layout, "floating", "ip", "set", "--port", topo.ports["n2"],
                         topo.floating_ip)
        assert done.returncode == 0, done.stderr
        shown = openstack_json(layout, "floating", "ip", "show", topo.floating_ip)
        assert (shown["port_id"], shown["fixed_ip_address"]) == (topo.ports["n2"],
                                                                 topo.addresses["n2"])
    finally:
        done = openstack(layout, "floating", "ip", "unset", "--port", topo.floating_ip)
    assert done.returncode == 0, done.stderr
    assert openstack_json(layout, "floating", "ip", "show", topo.floating_ip)["port_id"] is None


@pytest.mark.parametrize("by", ["id", "name"])
def test_port_list_by_server(lab_cloud, by):
    topo = lab_cloud.topology
    server = topo.servers["n1"] if by == "id" else "n1"
    ports = openstack_json(lab_cloud.layout, "port", "list", "--server", server)
    assert [p["ID"] for p in ports] == [topo.ports["n1"]]


def test_unknown_server_is_a_clear_error(lab_cloud):
    done = openstack(lab_cloud.layout, "port", "list", "--server", "no-such-node")
    assert done.returncode != 0
    assert "no-such-node" in done.stderr


def test_server_list_and_show_as_the_member(lab_cloud):
    """Both ask the image service for the servers' images: with Glance in the catalog they
    work (without one: "public endpoint for image service in RegionOne region not found")."""
    layout, topo = lab_cloud.layout, lab_cloud.topology
    compute = clouds.connect(layout, MEMBER_CLOUD).compute
    status = {s.name: s.status for s in compute.servers()}  # the compute API's own answer
    listed = {s["Name"]: s for s in openstack_json(layout, "server", "list")}
    assert set(listed) == set(topo.servers), listed
    for name, server_id in topo.servers.items():
        row = listed[name]
        assert (row["ID"], row["Status"]) == (server_id, status[name]), row
        assert topo.addresses[name] in str(row["Networks"]), row
    shown = openstack_json(layout, "server", "show", "n2")
    assert (shown["id"], shown["name"], shown["status"]) == (topo.servers["n2"], "n2",
                                                             status["n2"]), shown
    assert topo.addresses["n2"] in str(shown["addresses"]), shown
    # a real Glance behind the endpoint: the project has no images
    assert openstack_json(layout, "image", "list") == []
