"""A result is stored for good and served for a day, so an upload must prove itself: the
current claim's lease token, a body no larger than a PNG of the job's size, and a real PNG of
exactly the job's width and height."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from fractal_service.client import ApiError, Claim, FractalClient
from tests.support.images import png, sha256
from tests.support.processes import wait_until

W, H = 16, 8


@pytest.fixture
def fresh(spawn) -> FractalClient:
    return FractalClient(spawn.api().url)


def put(client: FractalClient, uuid: str, body, token: str | None,
        content_type: str = "image/png", checksum: str | None = None) -> requests.Response:
    headers = {"Content-Type": content_type, "X-Duration": "0.5", "X-Worker": "w1",
               "X-Checksum": checksum or (sha256(body) if isinstance(body, bytes) else "")}
    if token is not None:
        headers["X-Lease-Token"] = token
    return requests.put(f"{client.base_url}/v1/jobs/{uuid}/result", data=body,
                        headers=headers, timeout=10)


def claimed(client: FractalClient, lease: float = 30) -> Claim:
    uuid = client.create({"width": W, "height": H})["uuid"]
    claim = client.claim("w1", lease)
    assert claim is not None and claim.uuid == uuid
    return claim


def error_of(r: requests.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    return r.json()["error"]


def test_an_upload_without_the_lease_token_is_refused(fresh: FractalClient) -> None:
    claim = claimed(fresh)
    # The attack: anyone stores a "result" for a pending job, and the real one is refused.
    forged = b"\x89PNG\r\n\x1a\n" + b"whatever"
    assert error_of(put(fresh, claim.uuid, forged, None), 403)["field"] == "X-Lease-Token"
    assert error_of(put(fresh, claim.uuid, png(W, H), None), 403)["field"] == "X-Lease-Token"
    assert error_of(put(fresh, claim.uuid, png(W, H), "guessed"), 409)
    assert fresh.show(claim.uuid)["state"] == "running"
    assert fresh.upload(claim, png(W, H), sha256(png(W, H)), 0.5, "w1")["stored"] is True


def test_a_stale_lease_token_is_refused(fresh: FractalClient) -> None:
    first = claimed(fresh, lease=1)
    second = wait_until(lambda: fresh.claim("w2", 30), 10, "the lease to expire")
    image = png(W, H)
    with pytest.raises(ApiError) as stale:
        fresh.upload(first, image, sha256(image), 0.5, "w1")
    assert stale.value.status == 409
    assert fresh.upload(second, image, sha256(image), 0.5, "w2")["stored"] is True
    # Once done, a retried upload (its answer lost in a failover) is told so, whoever sends it.
    assert fresh.upload(first, image, sha256(image), 0.5, "w1")["stored"] is False


@pytest.mark.parametrize(("body", "message"), [
    (b"\x89PNG\r\n\x1a\n" + b"not really an image, but signed like one", "not a decodable"),
    (png(W, H)[:-30], "not a decodable"),  # truncated: the last pixels and IEND missing
    (png(H, W), f"the job is {W}x{H}"),
    (png(W, H + 1), f"the job is {W}x{H}"),
])
def test_only_a_png_of_the_jobs_size_is_stored(fresh: FractalClient, body: bytes,
                                               message: str) -> None:
    claim = claimed(fresh)
    error = error_of(put(fresh, claim.uuid, body, claim.lease_token), 400)
    assert error["field"] == "body" and message in error["message"]
    assert fresh.show(claim.uuid)["state"] == "running"


def chunks(data: bytes, size: int = 16384) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


def test_a_result_is_bounded_by_its_jobs_size(fresh: FractalClient) -> None:
    claim = claimed(fresh)
    # A 16x8 PNG is a few hundred bytes, at most ~66 KB: 200 KB is refused, chunked too.
    big = png(W, H) + bytes(200_000)
    error_of(put(fresh, claim.uuid, big, claim.lease_token), 413)
    r = put(fresh, claim.uuid, chunks(big), claim.lease_token, checksum=sha256(big))
    assert r.request.headers.get("Transfer-Encoding") == "chunked"
    error_of(r, 413)
    assert fresh.show(claim.uuid)["state"] == "running"


def test_a_result_must_say_it_is_a_png(fresh: FractalClient) -> None:
    claim = claimed(fresh)
    r = put(fresh, claim.uuid, png(W, H), claim.lease_token,
            content_type="application/x-www-form-urlencoded")
    assert error_of(r, 415)["field"] == "Content-Type"
