"""A Keystone token and what it opened, cached across agent runs in a 0600 file.

The slow path (`login`) reads credentials from clouds.yaml — never from the CIB, the command
line or the environment of the cluster — with one Keystone call for a plain entry (identity.py),
else through openstacksdk, and records the token, its expiry, the network endpoint, the floating
IP's id, this node's port and clouds.yaml's TLS settings.
Every later run reuses that, so a steady-state monitor is one Neutron call.

The cache is keyed by everything it was derived from (`cache_key`): the parameters, this node,
and clouds.yaml's path, size and mtime. A cache made for anything else, or damaged (not JSON,
a field of the wrong type), is discarded, with a reason for the log: never trusted.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass

from fractal_service import json_record
from resource_agents.ocf import trace
from resource_agents.ocf.codes import Exit, OcfError
from resource_agents.openstack.neutron import CloudError, Tls

TYPE_CHECKING = False
if TYPE_CHECKING:  # the login's modules stay off the monitor's path
    from resource_agents.openstack import identity

RENEW_BEFORE_S = 120  # renew a token this long before Keystone says it expires
# openstacksdk's search path without its first entry, the current directory: an agent's
# working directory is whatever Pacemaker's was, never a place for credentials.
SEARCH_PATH = tuple(os.path.join(d, f"clouds.{ext}")
                    for d in ("~/.config/openstack", "/etc/openstack") for ext in ("yaml", "yml"))


@dataclass
class Session:
    token: str
    expires_at: float
    endpoint: str  # Neutron, from the catalog
    fip_id: str
    fip_address: str
    port_id: str  # this node's port
    key: list  # cache_key() at login: what this session is valid for
    verify: bool | str = True  # TLS, from clouds.yaml (see neutron.Tls)
    cert: str | None = None
    cert_key: str | None = None

    def __post_init__(self) -> None:
        trace.secret(self.token)  # `crm resource trace` never shows it

    def fresh(self, within: float = 0.0) -> bool:
        """Valid for RENEW_BEFORE_S (plus `within`) more seconds."""
        return time.time() < self.expires_at - RENEW_BEFORE_S - within

    @property
    def tls(self) -> Tls:
        return Tls(self.verify, self.cert, self.cert_key)


_TYPES = {"token": str, "expires_at": (int, float), "endpoint": str, "fip_id": str,
          "fip_address": str, "port_id": str, "key": list, "verify": (bool, str),
          "cert": (str, type(None)), "cert_key": (str, type(None))}


def find_clouds_yaml(explicit: str) -> str | None:
    if explicit:
        return explicit
    return next((p for p in map(os.path.expanduser, SEARCH_PATH) if os.path.isfile(p)), None)


def cache_key(*, node: str, cloud: str, clouds_yaml: str | None, **params: str) -> list:
    """What a session depends on. clouds.yaml by path, size and mtime: a stat, not a read,
    on the monitor's hot path; an edited file (new credentials, CA, region) changes both."""
    try:
        st = os.stat(clouds_yaml) if clouds_yaml else None
    except OSError:
        st = None
    stamp = [st.st_size, st.st_mtime_ns] if st else None
    return [node, cloud, clouds_yaml, stamp, *(f"{k}={v}" for k, v in sorted(params.items()))]


def load(path: str, key: list) -> tuple[Session | None, str]:
    """(the cached session, "") or (None, why it was not usable; "" when there is none)."""
    data, why = json_record.load(path, _TYPES, "session record")
    if data is None:
        return None, why
    if data["key"] != key:
        return None, "made for other parameters, node or clouds.yaml"
    return Session(**data), ""


def save(path: str, session: Session) -> None:
    json_record.save(path, asdict(session))  # 0600: a token is a secret


def login(*, cloud: str, clouds_yaml: str | None, region: str, floating_ip: str, node: str,
          port_map: dict[str, str], network: str, timeout: float, key: list,
          previous: Session | None = None) -> Session:
    """Authenticate and resolve the floating IP and this node's port. `timeout` bounds each
    HTTP call; the caller bounds the whole (several calls). `previous`: a session made for the
    same key whose token was refused: its ids still hold, so the login is one Keystone call."""
    if clouds_yaml is None:
        raise OcfError(Exit.ERR_INSTALLED, f"no clouds.yaml on node {node} (looked for "
                       f"{', '.join(SEARCH_PATH)})")
    from resource_agents.openstack import identity

    plain = identity.plain_entry(clouds_yaml, cloud, region)
    if plain is not None:
        try:
            return _login_plain(plain, floating_ip, node, port_map, network, timeout, key,
                                previous)
        except identity.NeedsDiscovery:
            pass  # an auth_url that is not Keystone's root nor its /v3: openstacksdk finds it
    return _login_sdk(cloud=cloud, clouds_yaml=clouds_yaml, region=region,
                      floating_ip=floating_ip, node=node, port_map=port_map, network=network,
                      timeout=timeout, key=key)


def _login_plain(cloud: identity.Cloud, floating_ip: str, node: str, port_map: dict[str, str],
                 network: str, timeout: float, key: list, previous: Session | None) -> Session:
    from resource_agents.openstack import identity

    token, expires, catalog = identity.authenticate(cloud, timeout, node)
    endpoint = identity.endpoint(catalog, "network", cloud, node)
    tls = (cloud.tls.verify, cloud.tls.cert, cloud.tls.key)
    if previous is not None and previous.key == key:
        return Session(token, expires, endpoint, previous.fip_id, previous.fip_address,
                       previous.port_id, key, *tls)
    fip_id, address = identity.floating_ip(endpoint, floating_ip, token, timeout, cloud.tls)
    port_id = port_map.get(node) or identity.port(catalog, cloud, node, network, token, timeout)
    return Session(token, expires, endpoint, fip_id, address, port_id, key, *tls)


def _login_sdk(*, cloud: str, clouds_yaml: str, region: str, floating_ip: str, node: str,
               port_map: dict[str, str], network: str, timeout: float, key: list) -> Session:
    """openstacksdk's login, for any clouds.yaml entry the plain path does not understand
    (profiles, other auth types, several regions): discovery and lookups by id then name."""
    try:
        import openstack
        from keystoneauth1 import exceptions as ks_exc
        from openstack import exceptions as sdk_exc
        from openstack.config import loader
    except ImportError as exc:
        raise OcfError(Exit.ERR_INSTALLED, f"openstacksdk is not installed: {exc}") from None
    try:
        # Exactly this file: no current directory, no OS_* variables (credentials come
        # only from files), no secure.yaml/clouds-public.yaml found elsewhere.
        config = loader.OpenStackConfig(config_files=[clouds_yaml], secure_files=[],
                                        vendor_files=[], load_envvars=False)
        # A login is several calls (discovery, the floating IP, the server, its ports): let
        # keystoneauth retry each refused connection and 503 itself, quickly, or a cloud
        # failing one call in two would fail nearly every login as a whole.
        region_config = config.get_one(cloud=cloud, region_name=region or None,
                                       api_timeout=timeout, connect_retries=3,
                                       connect_retry_delay=0.2, status_code_retries=4,
                                       status_code_retry_delay=0.2)
        verify, cert = region_config.get_requests_verify_args()
    except Exception as exc:  # openstacksdk raises its own config errors
        # This node's clouds.yaml (credentials never live in the CIB): a local problem, so
        # ERR_INSTALLED keeps the address off this node only; ERR_CONFIGURED would stop it
        # everywhere because one node's file is stale or missing.
        raise OcfError(Exit.ERR_INSTALLED, f"cloud {cloud!r} not usable from node {node}'s "
                       f"clouds.yaml {clouds_yaml}: {exc}") from None
    conn = openstack.connection.Connection(config=region_config)
    try:
        token = conn.session.get_token()
        auth_ref = conn.session.auth.get_auth_ref(conn.session)
        endpoint = conn.network.get_endpoint()
        fip = _find_floating_ip(conn, floating_ip)
        port_id = port_map.get(node) or _find_port(conn, node, network)
    except ks_exc.Unauthorized:
        raise OcfError(Exit.ERR_INSTALLED,  # this node's clouds.yaml, as above
                       f"cloud {cloud!r}: credentials in node {node}'s clouds.yaml refused "
                       "by Keystone") from None
    except (ks_exc.ConnectionError, ks_exc.DiscoveryFailure, ks_exc.HttpError,
            sdk_exc.HttpException) as exc:  # ConnectionError: refused, timeout, TLS
        raise CloudError(f"cloud {cloud!r} unreachable: {exc}") from None  # maybe transient
    cert_file, cert_key = (cert if isinstance(cert, tuple) else (cert, None))
    return Session(token, auth_ref.expires.timestamp(), endpoint, fip.id,
                   fip.floating_ip_address, port_id, key, verify if verify is not None else True,
                   cert_file, cert_key)


def _find_floating_ip(conn, wanted: str):
    found = conn.network.find_ip(wanted, ignore_missing=True)
    if found is None:
        found = next(iter(conn.network.ips(floating_ip_address=wanted)), None)
    if found is None:  # the same answer on every node: the configuration
        raise OcfError(Exit.ERR_CONFIGURED, f"floating IP {wanted} does not exist in the project")
    return found


def _find_port(conn, node: str, network: str) -> str:
    # Whatever is missing about this node's own server is true of this node only: rc 5
    # (Pacemaker keeps the address off it), never 6 (stopped everywhere).
    server = conn.compute.find_server(node, ignore_missing=True)
    if server is None:
        raise OcfError(Exit.ERR_INSTALLED, f"node {node}: no compute server named {node!r} "
                       "and no port_map entry for it")
    query = {"device_id": server.id}
    if network:
        net = conn.network.find_network(network, ignore_missing=True)
        if net is None:  # the same on every node: the configuration
            raise OcfError(Exit.ERR_CONFIGURED, f"network {network!r} does not exist")
        query["network_id"] = net.id
    ports = list(conn.network.ports(**query))
    if len(ports) != 1:
        raise OcfError(Exit.ERR_INSTALLED, f"node {node}: server {node!r} has {len(ports)} "
                       f"ports on {network or 'any network'}, not exactly one; set `network` "
                       "or a port_map entry")
    return ports[0].id
