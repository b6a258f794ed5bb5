"""RegionTwo's servers have names, ports, directories and namespaces of their own beside
RegionOne's, which keep the single-region cloud's names (a cloud made before RegionTwo's
network finds its state where it left it)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from cluster.openstack import neutron, services
from cluster.openstack.dataplane.network import RouterNetwork
from cluster.openstack.layout import REGIONS, Layout
from cluster.openstack.topology import ADDRESSING


def test_region_one_keeps_the_single_region_names(tmp_path: Path) -> None:
    one = Layout.at(tmp_path, netns_prefix="fha")
    assert neutron.daemon(one).home == one.dir("neutron")
    assert services.compute(one).name == "compute"
    assert one.topology_json.name == "topology.json"
    assert RouterNetwork.of(one).router == "fha-router"


def test_region_two_has_its_own_servers_ports_and_router(tmp_path: Path) -> None:
    one = Layout.at(tmp_path, netns_prefix="fha")
    two = one.in_region(REGIONS[1])
    assert two.state == one.state and two.keystone_url == one.keystone_url
    assert neutron.daemon(two).home == one.dir("neutron-RegionTwo")
    assert services.compute(two).env["FRACTAL_OPENSTACK_REGION"] == "RegionTwo"
    assert services.dataplane(two).argv[-1] == "RegionTwo"
    assert two.topology_json != one.topology_json
    ports = one.ports()
    for name in ("neutron-RegionTwo", "compute-RegionTwo", "neutron-RegionTwo-proxy",
                 "compute-RegionTwo-proxy"):
        assert name in ports
    assert len(set(ports.values())) == len(ports)
    net = RouterNetwork.of(two)
    # Not a prefix another lab could have ("fha2"), and inside RegionOne's `destroy` scope.
    assert net.router == "fha-2-router"
    assert net.addressing == ADDRESSING["RegionTwo"]


def test_a_prefix_too_long_for_region_twos_devices_is_refused(tmp_path: Path) -> None:
    long = Layout.at(tmp_path, netns_prefix="fhb1234567")
    assert RouterNetwork.of(long).router == "fhb1234567-router"  # RegionOne's devices fit
    with pytest.raises(ValueError, match="over 15 bytes"):
        RouterNetwork.of(long.in_region(REGIONS[1]))


def test_the_regions_addresses_do_not_overlap() -> None:
    one, two = (ADDRESSING[r] for r in REGIONS)
    for a, b in ((one.external_cidr, two.external_cidr), (one.floating_ip, two.floating_ip)):
        assert not ipaddress.ip_network(a).overlaps(ipaddress.ip_network(b))
    assert not set(one.nodes.values()) & set(two.nodes.values())
    assert not set(one.nodes) & set(two.nodes)
    for net in (one, two):
        tenant = ipaddress.ip_network(net.tenant_cidr)
        assert all(ipaddress.ip_address(a) in tenant for a in net.nodes.values())
        assert ipaddress.ip_address(net.tenant_gateway) in tenant
        external = ipaddress.ip_network(net.external_cidr)
        assert ipaddress.ip_address(net.floating_ip) in external
        assert ipaddress.ip_address(net.client) in external


def test_a_sites_relay_carries_every_regions_endpoints(tmp_path: Path) -> None:
    layout = Layout(state=tmp_path / "state", venv=tmp_path / "venv")
    ports = layout.ports()
    one = layout.public_ports()
    every = layout.public_ports(every_region=True)
    assert every[:len(one)] == one
    assert set(every) - set(one) == {ports["neutron-RegionTwo-proxy"],
                                     ports["compute-RegionTwo-proxy"],
                                     ports["object-store-RegionTwo"]}


def test_a_node_never_gets_the_admins_entry_and_a_missing_entry_is_named(
        tmp_path: Path) -> None:
    from cluster.openstack import clouds
    from cluster.openstack.layout import ADMIN_CLOUD

    layout = Layout(state=tmp_path / "state", venv=tmp_path / "venv")
    with pytest.raises(ValueError, match="admin"):
        clouds.member_only(layout, (ADMIN_CLOUD,))
    with pytest.raises(LookupError, match="fractal-lab-regiontwo"):
        clouds.member_only(layout, ("fractal-lab-regiontwo",))
