"""The region check's cloud calls: a login cached in a 0600 record, Object Storage's HEAD of the
service's container and one Neutron GET, each bounded by the time it is given.

The login takes the floating-IP agent's fast path (identity.py: one POST, the endpoints from
the token's catalog) for a plain clouds.yaml entry and keystoneauth's for any other. The token
is kept between runs: booth runs the check at every renewal, and a cached token keeps the
check about the region (Swift, Neutron) rather than about Keystone.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from dataclasses import asdict, dataclass
from urllib.parse import quote

from fractal_service import json_record
from fractal_service.store.swift_url import Target
from resource_agents.ocf.codes import OcfError
from resource_agents.openstack import neutron, session
from resource_agents.openstack.neutron import CloudError, Tls

RENEW_BEFORE_S = 120.0  # a token this close to its expiry is not used


class BadConfig(Exception):
    """This node's configuration cannot work (no clouds.yaml, credentials refused, no endpoint
    in the region): one line, for the operator."""


class NoLogin(Exception):
    """Keystone gave no token (unreachable, 5xx, too slow): nothing is known of the region."""


@dataclass
class Login:
    token: str  # a secret: never logged
    expires_at: float
    object_store: str  # this region's endpoints, from the token's catalog
    network: str
    key: list  # what it was made for: the store URL and clouds.yaml (path, size, mtime)
    verify: bool | str = True
    cert: str | None = None
    cert_key: str | None = None

    def fresh(self) -> bool:
        return time.time() < self.expires_at - RENEW_BEFORE_S

    @property
    def tls(self) -> Tls:
        return Tls(self.verify, self.cert, self.cert_key)


_TYPES = {"token": str, "expires_at": (int, float), "object_store": str, "network": str,
          "key": list, "verify": (bool, str), "cert": (str, type(None)),
          "cert_key": (str, type(None))}


def where(target: Target) -> tuple[str, str, list]:
    """(clouds.yaml, cloud, the login's key) for the store URL; BadConfig if incomplete."""
    clouds_yaml = session.find_clouds_yaml(target.config or "")
    if clouds_yaml is None:
        raise BadConfig(f"no clouds.yaml (looked for {', '.join(session.SEARCH_PATH)})")
    if not os.access(clouds_yaml, os.R_OK):
        raise BadConfig(f"no clouds.yaml readable at {clouds_yaml}")
    cloud = target.cloud or os.environ.get("OS_CLOUD", "")
    if not cloud:
        raise BadConfig(f"store URL {target.url!r} names no cloud")
    return clouds_yaml, cloud, session.cache_key(node="", cloud=cloud, clouds_yaml=clouds_yaml,
                                                 store=target.url)


def cached(path: str, key: list) -> tuple[Login | None, str]:
    """(a fresh login made for `key`, "") or (None, why the record was not usable; "" when
    there is none). A damaged or foreign record is discarded, never trusted."""
    data, why = json_record.load(path, _TYPES, "region check login")
    if data is None:
        return None, why
    found = Login(**data)
    if found.key != key:
        return None, "made for another store URL or clouds.yaml"
    return (found, "") if found.fresh() else (None, "")


def save(path: str, found: Login, for_directory_owner: bool = False) -> None:
    """0600. `for_directory_owner` (root writing for booth's user: the claimer, a check run by
    hand): the record is given to the owner of its directory, which must exist — one made
    by root would keep booth's runs from writing their state (FileNotFoundError)."""
    owner = None
    if for_directory_owner:
        directory = os.stat(os.path.dirname(path) or ".")
        owner = (directory.st_uid, directory.st_gid)
    json_record.save(path, asdict(found), owner=owner)


def renew(path: str, target: Target, ahead_s: float, timeout: float) -> bool:
    """A new login into `path` unless the one there lasts `ahead_s` more; True if renewed.
    NoLogin, BadConfig as login's; OSError if it cannot be written."""
    _, _, key = where(target)
    found, _ = cached(path, key)
    if found is not None and found.expires_at - time.time() > ahead_s:
        return False
    save(path, login(target, timeout), for_directory_owner=True)
    return True


def forget(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def login(target: Target, timeout: float) -> Login:
    """A token and this region's endpoints; NoLogin when Keystone does not give one in time."""
    from resource_agents.openstack import identity

    clouds_yaml, cloud, key = where(target)
    entry = identity.plain_entry(clouds_yaml, cloud, target.region or "")
    if entry is None:
        return _login_sdk(clouds_yaml, cloud, target.region, timeout, key)
    try:
        node = socket.gethostname()  # errors name the node whose clouds.yaml it read
        token, expires, catalog = identity.authenticate(entry, timeout, node)
        endpoints = [identity.endpoint(catalog, kind, entry, node)
                     for kind in ("object-store", "network")]
    except identity.NeedsDiscovery:
        return _login_sdk(clouds_yaml, cloud, target.region, timeout, key)
    except OcfError as exc:  # credentials refused, no endpoint in the region
        raise BadConfig(f"cloud {cloud!r}: {exc.reason}") from None
    except CloudError as exc:
        raise NoLogin(str(exc)) from None
    return Login(token, expires, *endpoints, key, entry.tls.verify, entry.tls.cert,
                 entry.tls.key)


def _login_sdk(clouds_yaml: str, cloud: str, region: str | None, timeout: float,
               key: list) -> Login:
    """keystoneauth's login, for an entry the fast path does not understand (profiles,
    application credentials, discovery)."""
    from keystoneauth1 import exceptions as ks_exc
    from keystoneauth1 import session as ks_session
    from openstack.config import loader

    try:
        # Exactly this file: no current directory, no OS_* variables.
        config = loader.OpenStackConfig(config_files=[clouds_yaml], secure_files=[],
                                        vendor_files=[], load_envvars=False)
        one = config.get_one(cloud=cloud, region_name=region)
        auth = one.get_auth()
        verify, cert = one.get_requests_verify_args()
    except Exception as exc:  # openstacksdk raises its own config errors
        raise BadConfig(f"cloud {cloud!r} in {clouds_yaml}: {exc}") from None
    http = ks_session.Session(auth=auth, verify=verify, cert=cert, timeout=timeout)
    interface = one.get_interface() or "public"
    try:
        token = auth.get_token(http)
        access = auth.get_access(http)
        endpoints = [auth.get_endpoint(http, service_type=kind, interface=interface,
                                       region_name=one.region_name or None)
                     for kind in ("object-store", "network")]
    except ks_exc.Unauthorized:
        raise BadConfig(f"cloud {cloud!r}: credentials refused by Keystone") from None
    except ks_exc.ClientException as exc:  # unreachable, 5xx, timeout
        raise NoLogin(f"Keystone: {exc}") from None
    if not token or access.expires is None or not all(endpoints):
        raise BadConfig(f"cloud {cloud!r}: no {interface} object-store and network endpoints "
                        f"in region {region or '(any)'}")
    cert_file, cert_key = cert if isinstance(cert, tuple) else (cert, None)
    return Login(token, access.expires.timestamp(), str(endpoints[0]), str(endpoints[1]), key,
                 verify if verify is not None else True, cert_file, cert_key)


def head_container(found: Login, container: str, timeout: float) -> None:
    """Object Storage answers for the service's container; else CloudError (Unauthorized when
    the token was refused)."""
    url = f"{found.object_store.rstrip('/')}/{quote(container)}"
    status, _, _ = neutron.send("HEAD", url, {"X-Auth-Token": found.token}, timeout,
                                tls=found.tls)
    if status == 401:
        raise neutron.Unauthorized("token refused")
    if not 200 <= status < 300:
        raise CloudError(f"HEAD of container {container} answered {status}")


def list_networks(found: Login, timeout: float) -> None:
    """Neutron answers a GET; else CloudError (Unauthorized when the token was refused)."""
    try:
        neutron.call("GET", f"{neutron.v2(found.network)}/networks?limit=1", found.token,
                     timeout, tls=found.tls)
    except neutron.Refused as exc:
        raise CloudError(str(exc)) from None
