"""Render the crmsh configuration of the Fractal service (cluster/config/fractal.crm)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

from resource_agents.agents.api import HEALTH_ATTRIBUTE

TEMPLATE = Path(__file__).parent / "config" / "fractal.crm"
FENCING = Path(__file__).parent / "config" / "fencing.crm"
# Where ocf:fractal:api keeps the pid of fractal.crm's `fractal-api` on a node (its state
# directory is named after the agent and the resource; an anonymous clone's instances are
# all named `fractal-api`).
API_PIDFILE = "/run/resource-agents/fractal-api-fractal-api/api.pid"
# Address agents that hand the address over in one step (migrate_to/migrate_from): a planned
# move never leaves it associated with nobody. Others (IPaddr2, Debian's openstack-floating-ip)
# are stopped, then started.
MIGRATING_ADDRESS_AGENTS = frozenset({"ocf:fractal:floating-ip"})
# Address agents whose address is exclusive by construction (Neutron associates a floating IP
# with one port): requires=quorum is safe for them (fractal.crm says why); IPaddr2 on a shared
# network is not (a cut-off node may still answer ARP), so it waits for fencing.
EXCLUSIVE_ADDRESS_AGENTS = frozenset({"ocf:fractal:floating-ip",
                                      "ocf:heartbeat:openstack-floating-ip"})
# The lab's nodes (namespaces on one host) and the emulated VMs: a node's load average is the
# host's or the emulator's, not a sign that the node cannot run one more agent. At Pacemaker's
# default (80 %) a node in "high load" limits the WHOLE cluster to max(1, peers/2) = 1 action
# at a time: a recovery queues behind unrelated starts (in the VMs the API came up 274 s
# after boot instead of 154 s). The shipped configuration keeps Pacemaker's default.
SHARED_HOST_LOAD_THRESHOLD = "1000%"


def with_load_threshold(crm: str, threshold: str = SHARED_HOST_LOAD_THRESHOLD) -> str:
    """fractal.crm with `load-threshold` in its cluster options."""
    head = "property cib-bootstrap-options: \\\n"
    if crm.count(head) != 1:
        raise ValueError("fractal.crm: no single cib-bootstrap-options block")
    return crm.replace(head, f"{head}    load-threshold={threshold} \\\n")


@dataclass(frozen=True)
class ServiceConfig:
    address: str  # where clients and workers reach the API
    api_port: int = 8080
    data_dir: str = "/var/lib/fractal"
    store_url: str = ""  # e.g. swift://CLOUD/CONTAINER: state off the nodes; "" = SQLite
    # "" under Pacemaker is refused unless asked for: data_dir shared by the nodes, or one node
    allow_local_store: bool = False
    workers: int = 2
    # The address resource: the OpenStack floating IP in a cloud; IPaddr2 on plain networks.
    address_agent: str = "ocf:heartbeat:IPaddr2"
    address_params: str = ""
    # fence_openstack through the cloud's compute API (stonith-enabled=true)
    fencing: bool = False
    cloud: str = "fractal-lab"  # the clouds.yaml entry the agents and fencing use
    fence_action: str = "off"  # see fencing.crm
    # The API's bearer token (auth=token): the same 0600 file on every node, put there by the
    # lab or the VMs' provisioning (cluster/api_token.py); the CIB only names it.
    token_file: str = "/etc/fractal/api-token"
    # Live settings from etcd (the agents' etcd_* parameters; files on the nodes): "" = none.
    etcd_urls: str = ""
    etcd_ca: str = ""
    etcd_cert: str = ""
    etcd_key: str = ""

    def _address_meta(self) -> str:
        meta = "requires=" + ("quorum" if self.address_agent in EXCLUSIVE_ADDRESS_AGENTS
                              else "fencing")
        if self.address_agent in MIGRATING_ADDRESS_AGENTS:
            meta += " allow-migrate=true"
        return meta

    def _address_placement(self) -> str:
        """With an API on every node (Object Storage) the address goes where one serves (the
        agent's node attribute), with no order: it would hold a move behind the failed
        instance's restart. With one instance (SQLite) there is nowhere to move: the address
        starts after it (fractal.crm says more)."""
        if not self.store_url:
            return "order fractal-api-before-ip Optional: fractal-api-clone fractal-ip"
        return (f"location fractal-ip-where-api-serves fractal-ip \\\n"
                f"    rule -inf: not_defined {HEALTH_ATTRIBUTE} \\\n"
                f"    rule 1000: {HEALTH_ATTRIBUTE} eq 1")

    def render(self, servers: dict[str, str] | None = None) -> str:
        """`servers`: cluster node name -> compute server id, for fencing."""
        fencing = ""
        if self.fencing:
            if not servers:
                raise ValueError("fencing needs each node's server id")
            host_map = ";".join(f"{node}:{server}" for node, server in sorted(servers.items()))
            # Fencing off the takeover's path only where the takeover does not wait for it.
            exclusive = self.address_agent in EXCLUSIVE_ADDRESS_AGENTS
            fencing = Template(FENCING.read_text()).substitute(
                cloud=self.cloud, host_map=host_map, fence_delay="2s" if exclusive else "0s")
        params = self.address_params or f"ip={self.address} cidr_netmask=24"
        etcd = "".join(f" \\\n        {name}={value}" for name, value in (
            ("etcd_urls", self.etcd_urls), ("etcd_ca", self.etcd_ca),
            ("etcd_cert", self.etcd_cert), ("etcd_key", self.etcd_key))
            if self.etcd_urls and value)
        return Template(TEMPLATE.read_text()).substitute(
            stonith_enabled=str(self.fencing).lower(), api_port=self.api_port,
            data_dir=self.data_dir, store_url=self.store_url,
            allow_local_store=str(self.allow_local_store).lower(),
            address_agent=self.address_agent, address_params=params,
            address_meta=self._address_meta(),
            # Object Storage: stateless APIs everywhere; SQLite: one writer, after fencing
            api_requires="quorum" if self.store_url else "fencing",
            api_clone_meta="" if self.store_url else " clone-max=1",
            health_attribute=HEALTH_ATTRIBUTE, address_placement=self._address_placement(),
            api_url=f"http://{self.address}:{self.api_port}", workers=self.workers,
            fence_action=self.fence_action, token_file=self.token_file,
            etcd_params=etcd) + fencing

    @classmethod
    def on_openstack(cls, floating_ip: str, cloud: str, **options: Any) -> ServiceConfig:
        """The service as it runs on an OpenStack cloud (the lab's nodes and the Vagrant VMs
        alike): the floating IP follows it (ocf:fractal:floating-ip on the nodes' ports on the
        `fractal` network), the fractals live in the cloud's Object Storage, and a lost node is
        fenced through the compute API; `cloud` is the nodes' clouds.yaml entry."""
        return cls(floating_ip, store_url=f"swift://{cloud}/fractals",
                   address_agent="ocf:fractal:floating-ip",
                   address_params=f"cloud={cloud} floating_ip={floating_ip} network=fractal",
                   fencing=True, cloud=cloud, **options)
