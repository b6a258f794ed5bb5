"""Neutron's floating-IP calls over plain http.client with a cached token.

The steady-state monitor is this one GET: importing openstacksdk costs ~0.45 s a run, so it
is kept to the slow path (login, finding the port); http.client costs ~20 ms.
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
    """A definitive 4xx other than 401 (no such floating IP, not allowed): not transient."""


def call(method: str, url: str, token: str, timeout: float,
         body: dict | None = None) -> dict[str, Any]:
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=timeout)
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    payload = json.dumps(body).encode() if body is not None else None
    headers = {"X-Auth-Token": token, "Accept": "application/json",
               "User-Agent": "fractal-ha floating-ip agent"}
    if payload is not None:
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, parts.path + (f"?{parts.query}" if parts.query else ""),
                     body=payload, headers=headers)
        response = conn.getresponse()
        raw = response.read()
    except (OSError, http.client.HTTPException) as exc:
        raise CloudError(f"{method} {parts.path}: {exc or type(exc).__name__}") from None
    finally:
        conn.close()
    if response.status == 401:
        raise Unauthorized("token refused")
    if response.status >= 500 or response.status == 429:
        raise CloudError(f"{method} {parts.path} answered {response.status}")
    if response.status >= 400:
        raise Refused(f"{method} {parts.path} answered {response.status}: "
                      f"{raw.decode(errors='replace')[:200]}")
    return json.loads(raw) if raw else {}


def floating_ip_url(endpoint: str, fip_id: str) -> str:
    base = endpoint.rstrip("/")
    if not base.endswith("/v2.0"):
        base += "/v2.0"
    return f"{base}/floatingips/{fip_id}"
