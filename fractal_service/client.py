"""A small client for the Fractal API, shared by the CLI and the workers."""

from __future__ import annotations

import time
import uuid as uuidlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import requests
from requests.auth import AuthBase

from fractal_service.config import CLIENT_TIMEOUT
from fractal_service.worker.backoff import Backoff

# Tells the API how long this client waits, so that it ends the request first (api/admission.py).
TIMEOUT_HEADER = "X-Request-Timeout"
IDEMPOTENCY_HEADER = "Idempotency-Key"


class ApiUnreachable(Exception):
    """No HTTP answer at all: refused, reset, timed out, DNS."""


class ApiError(Exception):
    """The API answered with an error status."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(f"HTTP {status}: {message}" + (f" (field {field})" if field else ""))
        self.status = status
        self.message = message
        self.field = field

    @property
    def retriable(self) -> bool:
        # 5xx and 429 are the server's trouble; 4xx are ours and will not get better.
        return self.status >= 500 or self.status == 429


@dataclass(frozen=True)
class Claim:
    uuid: str
    params: dict[str, Any]
    lease_token: str
    lease_expires_in: float


class FractalClient:
    """`retry_for`: seconds to keep retrying what is safe to repeat (reads, and creations with
    an Idempotency-Key) after no answer or a retriable error, with backoff; 0 = never (the
    workers run their own loops)."""

    def __init__(self, base_url: str, *, timeout: float = CLIENT_TIMEOUT,
                 retry_for: float = 0.0, auth: AuthBase | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retry_for = retry_for
        self.session = requests.Session()
        self.session.auth = auth  # credentials.py: a bearer token file or a Keystone session

    # -- plumbing ------------------------------------------------------------------------
    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = kwargs.setdefault("headers", {})
        if self.retry_for <= 0 or not (method == "GET" or IDEMPOTENCY_HEADER in headers):
            return self._once(method, path, **kwargs)
        backoff, give_up = Backoff(), time.monotonic() + self.retry_for
        while True:
            try:
                return self._once(method, path, **kwargs)
            except (ApiUnreachable, ApiError) as exc:
                retriable = isinstance(exc, ApiUnreachable) or exc.retriable
                delay = backoff.next_delay()
                if not retriable or time.monotonic() + delay > give_up:
                    raise
            time.sleep(delay)

    def _once(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        kwargs["headers"].setdefault(TIMEOUT_HEADER, f"{kwargs['timeout']:g}")
        try:
            response = self.session.request(method, self.base_url + path, **kwargs)
        except requests.RequestException as exc:
            reason = _reason(exc)
            raise ApiUnreachable(f"cannot reach the API at {self.base_url}: {reason}") from exc
        if response.status_code >= 400:
            raise _error_from(response)
        return response

    # -- fractals --------------------------------------------------------------------------
    def create(self, params: dict[str, Any], idempotency_key: str | None = None
               ) -> dict[str, Any]:
        """Retried with the same key, a creation stores one fractal however often it is sent."""
        key = idempotency_key or str(uuidlib.uuid4())
        return self._request("POST", "/v1/fractals", json=params,
                             headers={IDEMPOTENCY_HEADER: key}).json()

    def show(self, uuid: str) -> dict[str, Any]:
        return self._request("GET", f"/v1/fractals/{uuid}").json()

    def page(self, *, limit: int = 100, marker: str | None = None, state: str | None = None,
             order: str = "asc") -> dict[str, Any]:
        query = {"limit": limit, "marker": marker, "state": state, "order": order}
        return self._request("GET", "/v1/fractals",
                             params={k: v for k, v in query.items() if v is not None}).json()

    def iterate(self, *, state: str | None = None, page_size: int = 500,
                order: str = "asc") -> Iterator[dict[str, Any]]:
        marker = None
        while True:
            page = self.page(limit=page_size, marker=marker, state=state, order=order)
            yield from page["fractals"]
            marker = page["next_marker"]
            if marker is None:
                return

    def image(self, uuid: str) -> bytes:
        return self._request("GET", f"/v1/fractals/{uuid}/image").content

    def delete(self, uuid: str) -> None:
        self._request("DELETE", f"/v1/fractals/{uuid}")

    # -- jobs (workers) --------------------------------------------------------------------
    def claim(self, worker: str, lease_seconds: float,
              lease_token: str | None = None) -> Claim | None:
        """`lease_token`: send the same one again when a claim got no answer (or a 5xx): the
        job its first attempt may have leased comes back, and costs that job no attempt."""
        body: dict[str, Any] = {"worker": worker, "lease_seconds": lease_seconds}
        if lease_token is not None:
            body["lease_token"] = lease_token
        response = self._request("POST", "/v1/jobs/claim", json=body)
        if response.status_code == 204:
            return None
        job = response.json()["job"]
        token = job.pop("lease_token")
        expires_in = job.pop("lease_expires_in")
        return Claim(job["uuid"], job, token, expires_in)

    def heartbeat(self, claim: Claim, lease_seconds: float) -> None:
        self._request("POST", f"/v1/jobs/{claim.uuid}/heartbeat",
                      json={"lease_token": claim.lease_token, "lease_seconds": lease_seconds})

    def release(self, claim: Claim) -> None:
        self._request("POST", f"/v1/jobs/{claim.uuid}/release",
                      json={"lease_token": claim.lease_token})

    def fail(self, claim: Claim, reason: str) -> None:
        self._request("POST", f"/v1/jobs/{claim.uuid}/fail",
                      json={"lease_token": claim.lease_token, "reason": reason})

    def upload(self, claim: Claim, png: bytes, checksum: str, duration: float,
               worker: str) -> dict[str, Any]:
        headers = {"Content-Type": "image/png", "X-Checksum": checksum,
                   "X-Duration": f"{duration:.6f}", "X-Worker": worker,
                   "X-Lease-Token": claim.lease_token}
        return self._request("PUT", f"/v1/jobs/{claim.uuid}/result", data=png,
                             headers=headers).json()


def _error_from(response: requests.Response) -> ApiError:
    try:
        error = response.json()["error"]
        return ApiError(response.status_code, str(error["message"]), error.get("field"))
    except (ValueError, KeyError, TypeError):
        return ApiError(response.status_code, response.reason or "error")


def _reason(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.ConnectionError):
        text = str(exc)
        for known in ("Connection refused", "Name or service not known", "No route to host",
                      "Connection reset", "Network is unreachable"):
            if known in text:
                return known.lower()
        return "connection failed"
    return exc.__class__.__name__
