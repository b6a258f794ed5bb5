"""A minimal HTTP check over http.client: no requests import on the monitor's hot path."""

from __future__ import annotations

import http.client
import json
from typing import Any


class CheckFailed(Exception):
    pass


def call(host: str, port: int, method: str, path: str, timeout: float,
         body: bytes | None = None) -> tuple[int, Any]:
    """One request; returns (status, parsed JSON or None). Raises CheckFailed on no answer."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        raw = response.read(65536)
    except TimeoutError:
        raise CheckFailed(f"{method} {path} timed out after {timeout:g} s") from None
    except (OSError, http.client.HTTPException) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise CheckFailed(f"{method} {path}: {reason or type(exc).__name__}") from None
    finally:
        conn.close()
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        data = None
    return response.status, data


def expect_ok(host: str, port: int, method: str, path: str, timeout: float) -> Any:
    status, data = call(host, port, method, path, timeout, b"{}" if method == "POST" else None)
    if status != 200:
        detail = ""
        if isinstance(data, dict) and isinstance(data.get("error"), dict):
            detail = f": {data['error'].get('message', '')}"
        raise CheckFailed(f"{method} {path} answered {status}{detail}")
    return data
