"""Neutron's floating-IP calls over plain http.client with a cached token.

The steady-state monitor is this one GET: importing openstacksdk costs ~0.45 s a run, so it
is kept to the slow path (login, finding the port); http.client costs ~20 ms. TLS follows
clouds.yaml (`cacert`, `verify`/`insecure`, `cert`/`key`), as recorded by the login: a cloud
with a private CA must work here exactly as it does for openstacksdk.
"""

from __future__ import annotations

import json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class CloudError(Exception):
    """The cloud did not give a usable answer (unreachable, 5xx, timeout): maybe transient."""


class Unauthorized(CloudError):
    """The token was refused: log in again."""


class Refused(Exception):
    """A definitive 4xx other than 401 and 412 (no such floating IP, not allowed)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class Conflict(Exception):
    """412: the resource changed since the revision a conditional update named."""


class Tls:
    """How to speak TLS to the cloud, from clouds.yaml: verify is True (system CAs), False
    (`verify: false` / `insecure: true`) or a CA bundle's path; cert/key: a client certificate."""

    __slots__ = ("cert", "key", "verify")

    def __init__(self, verify: bool | str = True, cert: str | None = None,
                 key: str | None = None) -> None:
        self.verify, self.cert, self.key = verify, cert, key

    def context(self):
        import ssl

        if self.verify is False:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        else:
            ctx = ssl.create_default_context(
                cafile=self.verify if isinstance(self.verify, str) else None)
        if self.cert:
            ctx.load_cert_chain(self.cert, self.key)
        return ctx


def send(method: str, url: str, headers: dict[str, str], timeout: float,
         body: dict | None = None, tls: Tls | None = None) -> tuple[int, Any, bytes]:
    """One HTTP request: (status, response headers, raw body); CloudError when no answer."""
    import http.client
    import time
    from urllib.parse import urlsplit

    from resource_agents.ocf import trace

    started = time.monotonic()
    parts = urlsplit(url)
    payload = json.dumps(body).encode() if body is not None else None
    headers = {"Accept": "application/json", "User-Agent": "fractal-ha floating-ip agent",
               **headers}
    if payload is not None:
        headers["Content-Type"] = "application/json"
    try:
        if parts.scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                parts.hostname, parts.port, timeout=timeout, context=(tls or Tls()).context())
        else:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        conn.request(method, parts.path + (f"?{parts.query}" if parts.query else ""),
                     body=payload, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        conn.close()
    except (OSError, http.client.HTTPException) as exc:  # ssl.SSLError is an OSError
        trace.cloud_call(method, parts.path, type(exc).__name__, time.monotonic() - started)
        raise CloudError(f"{method} {parts.path}: {exc or type(exc).__name__}") from None
    trace.cloud_call(method, parts.path, response.status, time.monotonic() - started)
    return response.status, response.headers, raw


def call(method: str, url: str, token: str, timeout: float, body: dict | None = None,
         tls: Tls | None = None, if_revision: int | None = None) -> dict[str, Any]:
    """One request; `if_revision`: only if the resource is still at that revision_number
    (Neutron's `If-Match` on standard-attribute resources; else Conflict)."""
    headers = {"X-Auth-Token": token}
    if if_revision is not None:
        headers["If-Match"] = f"revision_number={if_revision}"
    from urllib.parse import urlsplit

    status, _, raw = send(method, url, headers, timeout, body, tls)
    path = urlsplit(url).path
    if status == 401:
        raise Unauthorized("token refused")
    if status == 412:
        raise Conflict(f"{method} {path}: changed since revision {if_revision}")
    if status >= 500 or status == 429:
        raise CloudError(f"{method} {path} answered {status}")
    if status >= 400:
        raise Refused(f"{method} {path} answered {status}: {raw.decode(errors='replace')[:200]}",
                      status)
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        raise CloudError(f"{method} {path}: an answer that is not JSON") from None


def v2(endpoint: str) -> str:
    """Neutron's API root from its catalog endpoint (listed with or without /v2.0)."""
    base = endpoint.rstrip("/")
    return base if base.endswith("/v2.0") else base + "/v2.0"


def floating_ip_url(endpoint: str, fip_id: str) -> str:
    return f"{v2(endpoint)}/floatingips/{fip_id}"
