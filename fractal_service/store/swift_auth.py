"""The Object Storage store's HTTP client: a keystoneauth adapter whose login is cached on this
node (token_cache.py), in keystoneauth's token-endpoint style — no Keystone call until Swift
refuses the cached token, then one fresh login, recorded for the next start.

Credentials come only from clouds.yaml (openstacksdk reads it: profiles, application
credentials and TLS settings as every OpenStack tool understands them); openstacksdk's own
service proxy is not used, as creating it already logs in (version discovery of the catalog).
"""

from __future__ import annotations

import logging
import math
import threading
from typing import Any

from keystoneauth1 import adapter, plugin
from keystoneauth1 import session as ks_session

from fractal_service.store import deadline, token_cache
from fractal_service.store.swift_url import Target

log = logging.getLogger("fractal.store")
SERVICE = "object-store"


class CachedAuth(plugin.BaseAuthPlugin):
    """`auth` (the clouds.yaml entry's plugin) behind the node's token cache at `path`."""

    def __init__(self, auth: plugin.BaseAuthPlugin, path: str | None, key: list, *,
                 interface: str, region: str | None,
                 owner: tuple[int, int] | None = None) -> None:
        super().__init__()
        self.auth, self.path, self.key = auth, path, key
        self.interface, self.region, self.owner = interface, region, owner
        self._lock = threading.Lock()
        self._entry: token_cache.Entry | None = None
        self._sent = threading.local()  # the token this thread's request carried
        self._read = False  # the file is read once; afterwards this process's entry rules

    def _cached(self) -> token_cache.Entry | None:
        if not self._read and self.path:
            self._read = True
            entry, why = token_cache.load(self.path, self.key)
            if why:
                log.warning("store token cache %s discarded: %s", self.path, why)
                token_cache.discard(self.path)
            self._entry = entry
        if self._entry is not None and not self._entry.fresh():
            self._entry = None
        return self._entry

    def login(self, session: ks_session.Session) -> token_cache.Entry:
        """A token from Keystone (the entry's own plugin), recorded in the cache."""
        token = self.auth.get_token(session)
        access = self.auth.get_access(session)  # type: ignore[attr-defined]
        endpoint = self.auth.get_endpoint(session, service_type=SERVICE,
                                          interface=self.interface, region_name=self.region)
        if not token or not endpoint or access.expires is None:
            raise ValueError(f"Keystone gave no token or no {self.interface} {SERVICE} "
                             "endpoint")
        self._entry = token_cache.Entry(token, access.expires.timestamp(), endpoint, self.key)
        if self.path:
            try:
                token_cache.save(self.path, self._entry, self.owner)
            except OSError as exc:  # serve anyway; the next start logs in again
                log.warning("store token cache %s not written: %s", self.path, exc)
        return self._entry

    def _current(self, session: ks_session.Session) -> token_cache.Entry:
        # Within the request's deadline, the wait for another request's login included: a
        # slot held past it reads as a wedge in the API's health, and Pacemaker restarts a
        # process that only waited for a slow Keystone (campaign seed 301289 #55).
        wait = deadline.left(math.inf)
        if not self._lock.acquire(timeout=-1 if wait == math.inf else wait):
            raise deadline.DeadlineExceeded("request deadline passed waiting for a Keystone "
                                            "login")
        try:
            entry = self._cached()
            if entry is not None:
                return entry
            # The login's calls (no timeout of their own: the session's) bounded by the
            # deadline too. Only this thread logs in (the lock), and every Swift call passes
            # its own timeout: the session's default serves the login alone.
            usual, bound = session.timeout, deadline.left(math.inf)
            if bound < (usual or math.inf):
                session.timeout = bound
            try:
                return self.login(session)
            finally:
                session.timeout = usual
        finally:
            self._lock.release()

    def get_token(self, session: ks_session.Session, **_: Any) -> str:
        self._sent.token = self._current(session).token
        return self._sent.token

    def get_endpoint(self, session: ks_session.Session, service_type: str | None = None,
                     **kwargs: Any) -> str | None:
        if service_type == SERVICE:
            return self._current(session).endpoint
        return self.auth.get_endpoint(session, service_type=service_type, **kwargs)

    def get_connection_params(self, session: ks_session.Session, **kwargs: Any) -> dict:
        return self.auth.get_connection_params(session, **kwargs)

    def invalidate(self) -> bool:
        """Swift refused the token (revoked, or Keystone's keys rotated): forget it, here and
        on disk, so that keystoneauth's one retry logs in afresh. Unless another request has
        logged in since this one's token was sent: concurrent requests refused the same
        revoked token would otherwise each discard the fresh login of the one before and log
        in again, one after the other (N logins through a slow Keystone: store slots held
        past their deadline, the API reported wedged and restarted)."""
        with self._lock:
            sent = getattr(self._sent, "token", None)
            if self._entry is not None and sent is not None and self._entry.token != sent:
                return True  # keystoneauth's retry gets the newer token
            if self._entry is not None:
                log.warning("store token refused by Object Storage: logging in again")
            self._entry = None
            self._read = True
            if self.path:
                token_cache.discard(self.path)
            self.auth.invalidate()
            return True


def client(target: Target, cache: str | None, timeout: float,
           owner: tuple[int, int] | None = None) -> tuple[adapter.Adapter, CachedAuth]:
    """The adapter the store sends its requests through; ValueError for a bad entry."""
    from openstack.config import OpenStackConfig  # config parsing only: no network
    from openstack.exceptions import ConfigException

    try:
        config = OpenStackConfig(config_files=[target.config] if target.config else None)
        region = config.get_one(cloud=target.cloud, region_name=target.region)
        auth = region.get_auth()
        verify, cert = region.get_requests_verify_args()
    except (ConfigException, KeyError, TypeError) as exc:
        raise ValueError(f"store {target.url!r}: {exc}") from exc
    used = getattr(config, "config_filename", None)
    interface = region.get_interface(SERVICE) or "public"
    cached = CachedAuth(auth, cache, token_cache.cache_key(target.url, used),
                        interface=interface, region=region.region_name or None, owner=owner)
    # Logins and renewals have no per-call timeout of their own: the session's bounds them,
    # or a hung Keystone would hold a request (and its store slot) for ever.
    session = ks_session.Session(auth=cached, verify=verify, cert=cert, timeout=timeout)
    http = adapter.Adapter(session, service_type=SERVICE, interface=interface,
                           region_name=region.region_name or None,
                           endpoint_override=region.get_endpoint(SERVICE))
    return http, cached


def refresh(target: Target, cache: str, timeout: float,
            owner: tuple[int, int] | None = None) -> token_cache.Entry:
    """Log in now and record the token (the API agent's standby monitor): Keystone errors
    raise keystoneauth's exceptions, a bad entry ValueError."""
    http, cached = client(target, cache, timeout, owner)
    return cached.login(http.session)
