"""RegionTwo is a region of its own: its Neutron, compute, router and data plane, reached
through its own endpoints by a site project that sees nothing else. The floating-IP agent
moves RegionTwo's address with `region_name`; fence_openstack with the site's credentials
powers RegionTwo's servers off and cannot name RegionOne's; a fault in RegionTwo's Neutron
leaves RegionOne's answering."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from openstack import exceptions

from cluster.openstack import clouds, regions
from cluster.openstack.dataplane.hosts import Client, nodes_and_client
from cluster.openstack.dataplane.network import RouterNetwork
from cluster.openstack.faults import control
from cluster.openstack.layout import MEMBER_CLOUD, REGIONS, Layout
from cluster.openstack.topology import ADDRESSING, Topology
from tests.openstack.clients import fence
from tests.support.agents import AgentRunner, Outcome

pytestmark = [pytest.mark.geo, pytest.mark.openstack]
OK, INSTALLED, NOT_RUNNING = 0, 5, 7
TWO = REGIONS[1]


@pytest.fixture(scope="module")
def two(two_regions) -> tuple[Layout, Topology, str]:
    """RegionTwo's layout, its topology and the site project's clouds.yaml entry."""
    layout = two_regions.layout.in_region(TWO)
    return layout, Topology.load(layout), regions.site_cloud_name(TWO)


@pytest.fixture(scope="module")
def hosts(two) -> Iterator[Client]:
    """n4 and n5 on RegionTwo's tenant network, a client on its external network."""
    layout, topo, _ = two
    with nodes_and_client(RouterNetwork.of(layout), topo, ("n4", "n5")) as client:
        yield client


class Agent(AgentRunner):
    """ocf:fractal:floating-ip for RegionTwo's address, as node `node` runs it."""

    def __init__(self, ocf_root: Path, tmp_path: Path, node: str, cloud: str,
                 clouds_yaml: Path, region: str) -> None:
        super().__init__(ocf_root, "floating-ip", tmp_path / node, "fractal-fip", {
            "cloud": cloud, "clouds_yaml": str(clouds_yaml), "region_name": region,
            "floating_ip": ADDRESSING[TWO].floating_ip})
        self.node = node

    def run(self, action: str) -> Outcome:
        return self(action, OCF_RESKEY_CRM_meta_on_node=self.node)


def test_each_region_serves_its_own_network_and_servers(two_regions, two) -> None:
    """Seen by the admin, who sees every project: each region's Neutron holds its own subnets
    and its compute its own servers, nothing of the other's."""
    layout, topo, site = two
    for here, there in ((REGIONS[0], TWO), (TWO, REGIONS[0])):
        admin = clouds.connect(layout, region=here)
        mine, theirs = ADDRESSING[here], ADDRESSING[there]
        cidrs = {s.cidr for s in admin.network.subnets()}
        assert {mine.external_cidr, mine.tenant_cidr} <= cidrs, here
        assert not {theirs.external_cidr, theirs.tenant_cidr} & cidrs, here
        names = {s.name for s in admin.compute.servers()}
        assert set(mine.nodes) <= names and not set(theirs.nodes) & names, here
        addresses = {ip.floating_ip_address for ip in admin.network.ips()}
        assert mine.floating_ip in addresses and theirs.floating_ip not in addresses, here
    site_b = clouds.connect(layout, site, region=TWO)
    assert site_b.network.get_endpoint().startswith(layout.public_url(f"neutron-{TWO}"))
    servers = {s.name: s for s in site_b.compute.servers()}
    assert [a["addr"] for a in servers["n4"].addresses["fractal"]] == [topo.addresses["n4"]]


def test_the_agent_moves_region_twos_address_by_region_name(two, hosts, ocf_root,
                                                            tmp_path) -> None:
    layout, topo, site = two
    n4, n5 = (Agent(ocf_root, tmp_path, n, site, layout.clouds_yaml, TWO) for n in ("n4", "n5"))
    try:
        assert n4.run("monitor").rc == NOT_RUNNING
        assert n4.run("start").rc == OK
        hosts.wait_for(topo.floating_ip, "n4", timeout=5)
        assert n5.run("start").rc == OK
        hosts.wait_for(topo.floating_ip, "n5", timeout=5)
        assert n4.run("monitor").rc == NOT_RUNNING
        assert n5.run("monitor").rc == OK
    finally:
        for runner in (n4, n5):
            runner.run("stop")
    hosts.wait_for(topo.floating_ip, None, timeout=5)


def test_a_region_the_site_cannot_reach_is_refused_on_this_node(two, ocf_root,
                                                                tmp_path) -> None:
    layout, _, site = two
    wrong = Agent(ocf_root, tmp_path, "n4", site, layout.clouds_yaml, REGIONS[0])
    started = wrong.run("start")
    assert started.rc == INSTALLED, started.stderr
    assert REGIONS[0] in started.reason and "network" in started.reason
    assert wrong.run("monitor").rc == NOT_RUNNING  # a probe never fails for it


def test_site_credentials_fence_their_own_region_only(two_regions, two, tmp_path) -> None:
    layout, topo, site = two
    home = tmp_path / "home"
    n4 = topo.servers["n4"]
    assert fence(layout, home, "status", n4, site).stdout.strip() == "Status: ON"
    done = fence(layout, home, "off", n4, site)
    assert done.returncode == 0, done.stderr
    try:
        assert fence(layout, home, "status", n4, site).stdout.strip() == "Status: OFF"
    finally:
        assert fence(layout, home, "on", n4, site).returncode == 0
    # RegionOne's servers do not exist for site B, nor RegionTwo's for RegionOne's member.
    for plug, cloud in ((two_regions.topology.servers["n1"], site), (n4, MEMBER_CLOUD)):
        done = fence(layout, home, "status", plug, cloud)
        assert done.returncode == 1 and "Not Found" in done.stderr, (cloud, done.stderr)


def test_a_fault_in_region_twos_neutron_leaves_region_one_answering(two_regions, two) -> None:
    layout, _, site = two
    control.inject(layout, f"neutron-{TWO}", error_rate=1.0)
    try:
        with pytest.raises(exceptions.HttpException):
            list(clouds.connect(layout, site, region=TWO).network.networks())
        assert list(clouds.connect(two_regions.layout, MEMBER_CLOUD).network.networks())
    finally:
        control.clear(layout, f"neutron-{TWO}")
    assert list(clouds.connect(layout, site, region=TWO).network.networks())
