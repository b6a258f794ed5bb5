"""Render the crmsh configuration of the Fractal service (cluster/config/fractal.crm)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from string import Template

TEMPLATE = Path(__file__).parent / "config" / "fractal.crm"
FENCING = Path(__file__).parent / "config" / "fencing.crm"
# Where ocf:fractal:api keeps the pid of fractal.crm's `fractal-api` on a node (its state
# directory is named after the agent and the resource).
API_PIDFILE = "/run/resource-agents/fractal-api-fractal-api/api.pid"


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

    def render(self, servers: dict[str, str] | None = None) -> str:
        """`servers`: cluster node name -> compute server id, for fencing."""
        fencing = ""
        if self.fencing:
            if not servers:
                raise ValueError("fencing needs each node's server id")
            host_map = ";".join(f"{node}:{server}" for node, server in sorted(servers.items()))
            fencing = Template(FENCING.read_text()).substitute(cloud=self.cloud,
                                                               host_map=host_map)
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
            api_url=f"http://{self.address}:{self.api_port}", workers=self.workers,
            fence_action=self.fence_action, token_file=self.token_file,
            etcd_params=etcd) + fencing
