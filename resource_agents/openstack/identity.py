"""The login's fast path: clouds.yaml read as it is, one POST /v3/auth/tokens, the endpoints
from the token's own catalog, the floating IP and this node's port by one filtered query each.

Why not openstacksdk here: its login costs three Keystone round trips (version discovery, then
the token twice) and two or three calls per lookup (by id, then by name), and ~1 s of imports
on a loaded node. Through a slow Keystone every one of those calls pays again, directly or in
Neutron's check of the new token: 16 s for a takeover's login at 1.5 s of Keystone latency. A
plain clouds.yaml entry (password auth, Keystone v3, no profile) takes this path; any other
keeps openstacksdk's (session.login), which understands every form of clouds.yaml.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from urllib.parse import quote

from resource_agents.ocf.codes import Exit, OcfError
from resource_agents.openstack import neutron
from resource_agents.openstack.neutron import CloudError, Refused, Tls

_ENTRY_KEYS = {"auth", "auth_type", "region_name", "interface", "identity_api_version",
               "cacert", "verify", "insecure", "cert", "key"}
_AUTH_KEYS = {"auth_url", "username", "user_id", "password", "project_name", "project_id",
              "user_domain_name", "user_domain_id", "project_domain_name", "project_domain_id",
              "domain_name", "domain_id"}
_TRIES, _PAUSE = 3, 0.2  # per call: a cloud failing one call in two still lets a login through


class NeedsDiscovery(Exception):
    """The auth_url does not serve /v3/auth/tokens where a plain Keystone does: ask openstacksdk."""


@dataclass
class Cloud:
    """A plain clouds.yaml entry: password auth (a secret: never logged), region, TLS."""
    auth: dict
    region: str
    interface: str
    tls: Tls


def plain_entry(clouds_yaml: str, cloud: str, region: str) -> Cloud | None:
    """The entry if this module understands all of it, else None (openstacksdk's path, which
    also words every error about the file)."""
    import yaml  # ~20 ms, against ~1 s for openstacksdk's config loader

    try:
        with open(clouds_yaml) as fh:
            entry = (yaml.safe_load(fh) or {}).get("clouds", {}).get(cloud)
    except (OSError, yaml.YAMLError, AttributeError):
        return None
    if not isinstance(entry, dict) or set(entry) - _ENTRY_KEYS:
        return None
    auth = entry.get("auth")
    if (entry.get("auth_type", "password") not in ("password", "v3password")
            or str(entry.get("identity_api_version", 3)) != "3" or not isinstance(auth, dict)
            or set(auth) - _AUTH_KEYS or not auth.get("auth_url") or "password" not in auth
            or not (auth.get("username") or auth.get("user_id"))
            or not (auth.get("project_name") or auth.get("project_id"))):
        return None
    verify = entry.get("verify", True)  # as openstacksdk: insecure wins, then cacert
    if entry.get("insecure") or verify is False:
        verify = False
    elif entry.get("cacert"):
        verify = str(entry["cacert"])
    elif not isinstance(verify, str):
        verify = True
    cert, key = (str(entry[k]) if entry.get(k) else None for k in ("cert", "key"))
    return Cloud({k: str(v) for k, v in auth.items()}, region or str(entry.get("region_name", "")),
                 str(entry.get("interface", "public")), Tls(verify, cert, key))


def _domain(auth: dict, who: str) -> dict:
    for key in (f"{who}_domain_id", f"{who}_domain_name", "domain_id", "domain_name"):
        if auth.get(key):
            return {key.rsplit("_", 1)[1]: auth[key]}
    return {"id": "default"}


def _token_url(auth_url: str) -> str:
    base = auth_url.rstrip("/")
    if not re.search(r"/v3$", base):
        base = re.sub(r"/v2\.0$", "", base) + "/v3"
    return base + "/auth/tokens"


def authenticate(cloud: Cloud, timeout: float, node: str) -> tuple[str, float, list]:
    """One POST: (token, expiry as a timestamp, the catalog)."""
    auth = cloud.auth
    user: dict = {"password": auth["password"]}
    user.update({"id": auth["user_id"]} if auth.get("user_id") else
                {"name": auth["username"], "domain": _domain(auth, "user")})
    project = ({"id": auth["project_id"]} if auth.get("project_id") else
               {"name": auth["project_name"], "domain": _domain(auth, "project")})
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": user}},
                     "scope": {"project": project}}}
    status, headers, raw = _tried(lambda: _answered(neutron.send(
        "POST", _token_url(auth["auth_url"]), {}, timeout, body, cloud.tls)))
    if status == 404:
        raise NeedsDiscovery
    if status in (400, 401, 403):  # this node's clouds.yaml: rc 5, as session.login says
        raise OcfError(Exit.ERR_INSTALLED, f"credentials in node {node}'s clouds.yaml refused "
                       f"by Keystone ({status})")
    if status != 201 or not headers.get("X-Subject-Token"):
        raise CloudError(f"POST /v3/auth/tokens answered {status}")
    import json
    from datetime import datetime

    try:
        token = json.loads(raw)["token"]
        expires = datetime.fromisoformat(token["expires_at"].replace("Z", "+00:00"))
        return headers["X-Subject-Token"], expires.timestamp(), token.get("catalog") or []
    except (ValueError, KeyError, TypeError, AttributeError):
        raise CloudError("Keystone's token answer is not a v3 token") from None


def _answered(answer: tuple[int, object, bytes]) -> tuple[int, object, bytes]:
    if answer[0] >= 500 or answer[0] == 429:
        raise CloudError(f"POST /v3/auth/tokens answered {answer[0]}")
    return answer


def _tried(attempt):
    """`attempt` again after a refused connection or a 5xx, never after a timeout (the caller's
    deadline is better spent than on a second wait as long as the first)."""
    for left in range(_TRIES - 1, -1, -1):
        try:
            return attempt()
        except CloudError as exc:
            if not left or isinstance(exc, neutron.Unauthorized) or "timed out" in str(exc):
                raise
            time.sleep(_PAUSE)
    raise AssertionError("unreachable")


def endpoint(catalog: list, kind: str, cloud: Cloud, node: str) -> str:
    for service in catalog:
        if isinstance(service, dict) and service.get("type") == kind:
            for ep in service.get("endpoints") or ():
                if ep.get("interface") == cloud.interface and (
                        not cloud.region or cloud.region in (ep.get("region_id"),
                                                             ep.get("region"))):
                    return ep["url"]
    raise OcfError(Exit.ERR_INSTALLED, f"node {node}: no {cloud.interface} {kind} endpoint"
                   f"{' in region ' + cloud.region if cloud.region else ''} in the catalog")


def _get(url: str, token: str, timeout: float, tls: Tls) -> dict:
    return _tried(lambda: neutron.call("GET", url, token, timeout, tls=tls))


def floating_ip(network_url: str, wanted: str, token: str, timeout: float,
                tls: Tls) -> tuple[str, str]:
    """(id, address) of the floating IP given by address or id: one query."""
    import ipaddress

    base = neutron.v2(network_url)
    try:
        ipaddress.ip_address(wanted)
        found = _get(f"{base}/floatingips?floating_ip_address={quote(wanted)}", token,
                     timeout, tls).get("floatingips", [])
    except ValueError:  # not an address: an id
        try:
            found = [_get(f"{base}/floatingips/{quote(wanted)}", token, timeout,
                          tls)["floatingip"]]
        except Refused as exc:
            if exc.status != 404:
                raise CloudError(str(exc)) from None
            found = []
    if len(found) != 1:  # the same answer on every node: the configuration
        raise OcfError(Exit.ERR_CONFIGURED, f"floating IP {wanted} does not exist in the project")
    return found[0]["id"], found[0]["floating_ip_address"]


def port(catalog: list, cloud: Cloud, node: str, network: str, token: str,
         timeout: float) -> str:
    """This node's port: the one of the compute server named like the node (on `network`)."""
    # Whatever is missing about this node's own server is true of this node only: rc 5
    # (Pacemaker keeps the address off it), never 6 (stopped everywhere).
    compute = endpoint(catalog, "compute", cloud, node).rstrip("/")
    if "/v2" not in compute:
        compute += "/v2.1"
    servers = _get(f"{compute}/servers?name={quote('^' + re.escape(node) + '$')}", token,
                   timeout, cloud.tls).get("servers", [])
    servers = [s for s in servers if s.get("name") == node]  # Nova's filter is a regex
    if len(servers) != 1:
        raise OcfError(Exit.ERR_INSTALLED, f"node {node}: {len(servers) or 'no'} compute "
                       f"servers named {node!r} and no port_map entry for it")
    base = neutron.v2(endpoint(catalog, "network", cloud, node))
    query = f"device_id={quote(servers[0]['id'])}"
    if network:
        nets = _get(f"{base}/networks?name={quote(network)}", token, timeout,
                    cloud.tls).get("networks", [])
        if not nets:
            nets = _get(f"{base}/networks?id={quote(network)}", token, timeout,
                        cloud.tls).get("networks", [])
        if len(nets) != 1:  # the same on every node: the configuration
            raise OcfError(Exit.ERR_CONFIGURED, f"network {network!r} does not exist")
        query += f"&network_id={quote(nets[0]['id'])}"
    ports = _get(f"{base}/ports?{query}", token, timeout, cloud.tls).get("ports", [])
    if len(ports) != 1:
        raise OcfError(Exit.ERR_INSTALLED, f"node {node}: server {node!r} has {len(ports)} "
                       f"ports on {network or 'any network'}, not exactly one; set `network` "
                       "or a port_map entry")
    return ports[0]["id"]
