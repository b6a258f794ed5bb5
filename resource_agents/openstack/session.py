"""A Keystone token and what it opened, cached across agent runs in a 0600 file.

The slow path (`login`) uses openstacksdk with credentials from clouds.yaml — never from the
CIB, the command line or the environment of the cluster — and records the token, its expiry,
the network endpoint, the floating IP's id and this node's port. Every later run reuses that,
so a steady-state monitor is one Neutron call.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass

from resource_agents.ocf.codes import Exit, OcfError
from resource_agents.openstack.neutron import CloudError

RENEW_BEFORE_S = 120  # renew a token this long before Keystone says it expires


@dataclass
class Session:
    token: str
    expires_at: float
    endpoint: str  # Neutron, from the catalog
    fip_id: str
    fip_address: str
    port_id: str  # this node's port

    @property
    def fresh(self) -> bool:
        return time.time() < self.expires_at - RENEW_BEFORE_S


def load(path: str) -> Session | None:
    try:
        with open(path) as fh:
            return Session(**json.load(fh))
    except (OSError, ValueError, TypeError):
        return None


def save(path: str, session: Session) -> None:
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # a token is a secret
    with os.fdopen(fd, "w") as fh:
        json.dump(asdict(session), fh)
    os.replace(tmp, path)


def login(*, cloud: str, clouds_yaml: str, region: str, floating_ip: str, node: str,
          port_map: dict[str, str], network: str, timeout: float) -> Session:
    """Authenticate and resolve the floating IP and this node's port (openstacksdk)."""
    try:
        import openstack
        from keystoneauth1 import exceptions as ks_exc
        from openstack import exceptions as sdk_exc
        from openstack.config import loader
    except ImportError as exc:
        raise OcfError(Exit.ERR_INSTALLED, f"openstacksdk is not installed: {exc}") from None
    try:
        config = loader.OpenStackConfig(config_files=[clouds_yaml] if clouds_yaml else None)
        # A login is several calls (discovery, the floating IP, the server, its ports): let
        # keystoneauth retry each refused connection and 503 itself, quickly, or a cloud
        # failing one call in two would fail nearly every login as a whole.
        region_config = config.get_one(cloud=cloud, region_name=region or None,
                                       api_timeout=timeout, connect_retries=3,
                                       connect_retry_delay=0.2, status_code_retries=4,
                                       status_code_retry_delay=0.2)
    except Exception as exc:  # openstacksdk raises its own config errors
        # This node's clouds.yaml (credentials never live in the CIB): a local problem, so
        # ERR_INSTALLED keeps the address off this node only; ERR_CONFIGURED would stop it
        # everywhere because one node's file is stale or missing.
        raise OcfError(Exit.ERR_INSTALLED,
                       f"cloud {cloud!r} not usable from this node's clouds.yaml: {exc}") from None
    conn = openstack.connection.Connection(config=region_config)
    try:
        token = conn.session.get_token()
        auth_ref = conn.session.auth.get_auth_ref(conn.session)
        endpoint = conn.network.get_endpoint()
        fip = _find_floating_ip(conn, floating_ip)
        port_id = port_map.get(node) or _find_port(conn, node, network)
    except ks_exc.Unauthorized:
        raise OcfError(Exit.ERR_INSTALLED,  # this node's clouds.yaml, as above
                       f"cloud {cloud!r}: credentials refused by Keystone") from None
    except (ks_exc.ConnectFailure, ks_exc.ConnectTimeout, ks_exc.DiscoveryFailure,
            ks_exc.HttpError, sdk_exc.HttpException) as exc:
        raise CloudError(f"cloud {cloud!r} unreachable: {exc}") from None  # maybe transient
    return Session(token, auth_ref.expires.timestamp(), endpoint, fip.id,
                   fip.floating_ip_address, port_id)


def _find_floating_ip(conn, wanted: str):
    found = conn.network.find_ip(wanted, ignore_missing=True)
    if found is None:
        found = next(iter(conn.network.ips(floating_ip_address=wanted)), None)
    if found is None:
        raise OcfError(Exit.ERR_CONFIGURED, f"floating IP {wanted} does not exist in the project")
    return found


def _find_port(conn, node: str, network: str) -> str:
    server = conn.compute.find_server(node, ignore_missing=True)
    if server is None:
        raise OcfError(Exit.ERR_CONFIGURED,
                       f"no server named {node!r} and no port_map entry for it")
    query = {"device_id": server.id}
    if network:
        net = conn.network.find_network(network, ignore_missing=True)
        if net is None:
            raise OcfError(Exit.ERR_CONFIGURED, f"network {network!r} does not exist")
        query["network_id"] = net.id
    ports = list(conn.network.ports(**query))
    if len(ports) != 1:
        raise OcfError(Exit.ERR_CONFIGURED, f"server {node!r} has {len(ports)} ports on "
                       f"{network or 'any network'}; set `network` or `port_map`")
    return ports[0].id
