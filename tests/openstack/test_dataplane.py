"""Floating IPs carry traffic: a client outside reaches the node whose port holds the
floating IP, follows it when it moves, and reaches nobody once it is released."""

from __future__ import annotations

import pytest

from cluster.openstack import clouds, services
from cluster.openstack.dataplane.hosts import nodes_and_client
from cluster.openstack.dataplane.network import RouterNetwork
from cluster.openstack.layout import MEMBER_CLOUD

pytestmark = pytest.mark.openstack


@pytest.fixture(scope="module")
def hosts(lab_cloud):
    with nodes_and_client(RouterNetwork.of(lab_cloud.layout), lab_cloud.topology,
                          ("n1", "n2")) as client:
        yield client


@pytest.fixture
def fip(lab_cloud):
    member = clouds.connect(lab_cloud.layout, MEMBER_CLOUD)
    topo = lab_cloud.topology

    def move(node: str | None) -> None:
        member.network.update_ip(topo.floating_ip_id,
                                 port_id=topo.ports[node] if node else None)

    yield move
    move(None)


def test_released_floating_ip_reaches_nobody(lab_cloud, hosts, fip):
    fip(None)
    assert hosts.ask(lab_cloud.topology.floating_ip, timeout=1.0) is None


def test_floating_ip_follows_its_port(lab_cloud, hosts, fip):
    address = lab_cloud.topology.floating_ip
    fip("n1")
    hosts.wait_for(address, "n1", timeout=5)
    fip("n2")
    hosts.wait_for(address, "n2", timeout=5)
    assert [hosts.ask(address) for _ in range(5)] == ["n2"] * 5
    fip(None)
    hosts.wait_for(address, None, timeout=5)


def test_traffic_outlives_the_agent_which_catches_up_when_back(lab_cloud, hosts, fip):
    """As with Neutron's L3 agent: the data plane is the kernel's, so an agent that is down
    leaves traffic flowing as last set; once back, it applies what changed meanwhile."""
    address, agent = lab_cloud.topology.floating_ip, services.dataplane(lab_cloud.layout)
    fip("n1")
    hosts.wait_for(address, "n1", timeout=5)
    agent.stop()
    try:
        assert hosts.ask(address) == "n1"
        fip("n2")  # the API works without the agent; the data plane does not follow yet
        assert [hosts.ask(address) for _ in range(3)] == ["n1"] * 3
    finally:
        agent.start()
    hosts.wait_for(address, "n2", timeout=5)
