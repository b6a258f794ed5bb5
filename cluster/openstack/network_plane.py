"""A region's cluster network made real: Neutron's topology, the servers compute knows, the
router's namespace and the data plane that turns Neutron's floating IPs into NAT there."""

from __future__ import annotations

from cluster.openstack import services, topology
from cluster.openstack.compute import registry
from cluster.openstack.dataplane.network import RouterNetwork
from cluster.openstack.layout import MEMBER_CLOUD, Layout


def up(layout: Layout, cloud: str = MEMBER_CLOUD,
       project: str | None = None) -> topology.Topology:
    """Idempotent, in the layout's region, whose Neutron and compute must be up; `cloud` and
    `project` as in topology.build."""
    built = topology.build(layout, cloud, project)
    for node, server_id in built.servers.items():
        if registry.get(layout, server_id) is None:
            registry.register(layout, registry.Server(server_id, node, built.project_id))
    net = RouterNetwork.of(layout)
    net.create(f"{built.router_gateway_ip}/{net.addressing.external_prefix_len}")
    services.dataplane(layout).start()
    return built
