"""The Fractal cluster's network in Neutron: what a real deployment would have.

An external network (198.51.100.0/24) with the floating IP, a tenant network (192.0.2.0/24)
with one port per cluster node whose device_id is the node's server id, and a router between.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass

from cluster.openstack import clouds
from cluster.openstack.layout import MEMBER_CLOUD, Layout

EXTERNAL_CIDR = "198.51.100.0/24"  # RFC 5737 TEST-NET-2: "the internet" side
EXTERNAL_GATEWAY = "198.51.100.1"
TENANT_CIDR = "192.0.2.0/24"  # RFC 5737 TEST-NET-1: the cluster nodes
TENANT_GATEWAY = "192.0.2.1"
FLOATING_IP = "198.51.100.10"
NODES = {"n1": "192.0.2.11", "n2": "192.0.2.12", "n3": "192.0.2.13"}


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
        return cls(**json.loads(layout.topology_json.read_text()))


def build(layout: Layout) -> Topology:
    """Idempotent: finds what exists by name, creates the rest."""
    admin = clouds.connect(layout).network
    fractal = clouds.connect(layout).identity.find_project("fractal")
    ext = admin.find_network("public") or admin.create_network(
        name="public", is_router_external=True, provider_network_type="flat",
        provider_physical_network="public")
    if not list(admin.subnets(network_id=ext.id)):
        admin.create_subnet(network_id=ext.id, name="public-v4", cidr=EXTERNAL_CIDR,
                            ip_version=4, gateway_ip=EXTERNAL_GATEWAY, is_dhcp_enabled=False,
                            allocation_pools=[{"start": "198.51.100.10",
                                               "end": "198.51.100.99"}])
    # A chosen address needs admin rights; the member project owns it and moves it. Taken
    # before the router exists: its gateway draws an address at random from the same pool, and
    # drew this one once in a CI run (409 "already allocated": every test on that cloud erred).
    fip = next(iter(admin.ips(floating_ip_address=FLOATING_IP)), None) or admin.create_ip(
        floating_network_id=ext.id, floating_ip_address=FLOATING_IP, project_id=fractal.id)
    member = clouds.connect(layout, MEMBER_CLOUD).network
    net = member.find_network("fractal") or member.create_network(name="fractal")
    subnet = member.find_subnet("fractal-v4") or member.create_subnet(
        network_id=net.id, name="fractal-v4", cidr=TENANT_CIDR, ip_version=4,
        gateway_ip=TENANT_GATEWAY, is_dhcp_enabled=False)
    router = member.find_router("fractal-router")
    if router is None:
        router = member.create_router(name="fractal-router",
                                      external_gateway_info={"network_id": ext.id})
        member.add_interface_to_router(router, subnet_id=subnet.id)
    ports = {}
    for node, address in NODES.items():
        ports[node] = member.find_port(node) or member.create_port(
            network_id=net.id, name=node, device_id=server_id(node), device_owner="compute:nova",
            fixed_ips=[{"subnet_id": subnet.id, "ip_address": address}])
    gateway = member.get_router(router.id).external_gateway_info["external_fixed_ips"][0]
    topology = Topology(
        fractal.id, ext.id, net.id, subnet.id, router.id, gateway["ip_address"], fip.id,
        FLOATING_IP,
        ports={n: p.id for n, p in ports.items()},
        servers={n: server_id(n) for n in NODES}, addresses=dict(NODES),
        macs={n: p.mac_address for n, p in ports.items()})
    layout.topology_json.write_text(json.dumps(asdict(topology), indent=2))
    return topology
