"""The Fractal cluster's network in Neutron: what a real deployment would have, per region.

An external network with the floating IP, a tenant network with one port per cluster node
whose device_id is the node's server id, and a router between. RegionOne: external
198.51.100.0/24, tenant 192.0.2.0/24 (nodes n1-n3). RegionTwo (regions.py, where asked): its own
Neutron holds external 203.0.113.0/25 (the upper half is left for the sites' WAN) and tenant
192.0.2.128/25 (nodes n4, n5). The tenant networks are separate segments, as in any cloud (the
range overlaps RegionOne's); nodes' and external addresses differ, so a log line names one place.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass

from cluster.openstack import clouds
from cluster.openstack.layout import MEMBER_CLOUD, REGIONS, Layout


@dataclass(frozen=True)
class Addressing:
    """A region's addresses (RFC 5737 only)."""

    external_cidr: str  # "the internet" side
    external_gateway: str
    floating_pool: tuple[str, str]  # the external subnet's allocation pool
    floating_ip: str  # the service's
    tenant_cidr: str  # the cluster nodes
    tenant_gateway: str  # the router's leg
    nodes: dict[str, str]  # node name -> fixed IP
    client: str  # a user on the external network (the lab's and the tests' client host)

    @property
    def tenant_prefix_len(self) -> str:
        return self.tenant_cidr.split("/")[1]

    @property
    def external_prefix_len(self) -> str:
        return self.external_cidr.split("/")[1]

    @property
    def client_cidr(self) -> str:
        return f"{self.client}/{self.external_prefix_len}"


ADDRESSING = {
    REGIONS[0]: Addressing("198.51.100.0/24", "198.51.100.1", ("198.51.100.10", "198.51.100.99"),
                           "198.51.100.10", "192.0.2.0/24", "192.0.2.1",
                           {"n1": "192.0.2.11", "n2": "192.0.2.12", "n3": "192.0.2.13"},
                           "198.51.100.200"),
    REGIONS[1]: Addressing("203.0.113.0/25", "203.0.113.1", ("203.0.113.10", "203.0.113.99"),
                           "203.0.113.10", "192.0.2.128/25", "192.0.2.129",
                           {"n4": "192.0.2.141", "n5": "192.0.2.142"}, "203.0.113.100"),
}
# RegionOne's, by their old names: the single-region lab's addresses.
_ONE = ADDRESSING[REGIONS[0]]
EXTERNAL_CIDR, EXTERNAL_GATEWAY = _ONE.external_cidr, _ONE.external_gateway
TENANT_CIDR, TENANT_GATEWAY = _ONE.tenant_cidr, _ONE.tenant_gateway
FLOATING_IP, NODES = _ONE.floating_ip, _ONE.nodes


def server_id(node: str) -> str:
    """Stable server ids, so ports, compute and fencing agree across `down`/`up`."""
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{node}.fractal-lab"))


@dataclass
class Topology:
    project_id: str  # the member project that owns the cluster's resources
    external_network: str
    tenant_network: str
    tenant_subnet: str
    router: str
    router_gateway_ip: str  # the router's address on the external network
    floating_ip_id: str
    floating_ip: str
    ports: dict[str, str]  # node name -> port id
    servers: dict[str, str]  # node name -> server id
    addresses: dict[str, str]  # node name -> fixed IP
    macs: dict[str, str]  # node name -> port MAC

    @classmethod
    def load(cls, layout: Layout) -> Topology:
        """The layout's region's."""
        return cls(**json.loads(layout.topology_json.read_text()))


def build(layout: Layout, cloud: str = MEMBER_CLOUD, project: str | None = None) -> Topology:
    """Idempotent: finds what exists by name, creates the rest, in the layout's region;
    `cloud` is the clouds.yaml entry of a member of `project` (the layout's member project by
    default), which owns it all."""
    net_of = ADDRESSING[layout.plan]
    project = project or layout.accounts.project
    admin = clouds.connect(layout, region=layout.region).network
    owner = clouds.connect(layout).identity.find_project(project)
    ext = admin.find_network("public") or admin.create_network(
        name="public", is_router_external=True, provider_network_type="flat",
        provider_physical_network="public")
    if not list(admin.subnets(network_id=ext.id)):
        start, end = net_of.floating_pool
        admin.create_subnet(network_id=ext.id, name="public-v4", cidr=net_of.external_cidr,
                            ip_version=4, gateway_ip=net_of.external_gateway,
                            is_dhcp_enabled=False,
                            allocation_pools=[{"start": start, "end": end}])
    # A chosen address needs admin rights; the member project owns it and moves it. Taken
    # before the router exists: its gateway draws an address at random from the same pool, and
    # drew this one once in a CI run (409 "already allocated": every test on that cloud erred).
    fip = next(iter(admin.ips(floating_ip_address=net_of.floating_ip)), None) or admin.create_ip(
        floating_network_id=ext.id, floating_ip_address=net_of.floating_ip,
        project_id=owner.id)
    member = clouds.connect(layout, cloud, region=layout.region).network
    net = member.find_network("fractal") or member.create_network(name="fractal")
    subnet = member.find_subnet("fractal-v4") or member.create_subnet(
        network_id=net.id, name="fractal-v4", cidr=net_of.tenant_cidr, ip_version=4,
        gateway_ip=net_of.tenant_gateway, is_dhcp_enabled=False)
    router = member.find_router("fractal-router")
    if router is None:
        router = member.create_router(name="fractal-router",
                                      external_gateway_info={"network_id": ext.id})
        member.add_interface_to_router(router, subnet_id=subnet.id)
    ports = {}
    for node, address in net_of.nodes.items():
        ports[node] = member.find_port(node) or member.create_port(
            network_id=net.id, name=node, device_id=server_id(node), device_owner="compute:nova",
            fixed_ips=[{"subnet_id": subnet.id, "ip_address": address}])
    gateway = member.get_router(router.id).external_gateway_info["external_fixed_ips"][0]
    topology = Topology(
        owner.id, ext.id, net.id, subnet.id, router.id, gateway["ip_address"], fip.id,
        net_of.floating_ip,
        ports={n: p.id for n, p in ports.items()},
        servers={n: server_id(n) for n in net_of.nodes}, addresses=dict(net_of.nodes),
        macs={n: p.mac_address for n, p in ports.items()})
    layout.topology_json.write_text(json.dumps(asdict(topology), indent=2))
    return topology
