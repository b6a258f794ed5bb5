"""The lease protocol workers rely on, driven over HTTP against a fresh API."""

from __future__ import annotations

import pytest
import requests

from fractal_service.client import ApiError, FractalClient
from tests.support.images import png, sha256
from tests.support.processes import wait_until

PNG = png(8, 8)  # the jobs here are 8x8: a result must decode to the job's size
CHECKSUM = sha256(PNG)


@pytest.fixture
def fresh(spawn) -> FractalClient:
    return FractalClient(spawn.api().url)


def test_a_job_is_leased_to_one_worker_at_a_time(fresh: FractalClient) -> None:
    uuid = fresh.create({"width": 8, "height": 8})["uuid"]
    claim = fresh.claim("w1", 30)
    assert claim is not None and claim.uuid == uuid
    assert fresh.show(uuid)["state"] == "running"
    assert fresh.show(uuid)["generated_by"] == "w1"
    assert fresh.claim("w2", 30) is None
    fresh.heartbeat(claim, 30)


def test_a_claim_sent_again_with_its_token_gets_the_same_job(fresh: FractalClient) -> None:
    uuid = fresh.create({"width": 8, "height": 8})["uuid"]
    token = "retried-claim-0123456789"
    first = fresh.claim("w1", 30, token)  # as if its answer had been lost
    again = fresh.claim("w1", 30, token)
    assert first.uuid == again.uuid == uuid and again.lease_token == token
    assert fresh.show(uuid)["attempts"] == 1
    assert fresh.claim("w2", 30, "another-token-0123456789") is None
    for bad in ("short", "has space in it 0123", 42, None):
        refused = requests.post(f"{fresh.base_url}/v1/jobs/claim", timeout=5,
                                json={"worker": "w3", "lease_token": bad})
        assert refused.status_code == 400, bad
        assert refused.json()["error"]["field"] == "lease_token"


def test_result_is_stored_exactly_once_and_served_with_etag(fresh: FractalClient) -> None:
    uuid = fresh.create({"width": 8, "height": 8})["uuid"]
    claim = fresh.claim("w1", 30)
    first = fresh.upload(claim, PNG, CHECKSUM, 0.5, "w1")
    other = png(8, 8, noise=True)
    again = fresh.upload(claim, other, sha256(other), 0.7, "w2")
    assert first["stored"] is True and again["stored"] is False
    record = fresh.show(uuid)
    assert record["state"] == "done"
    assert (record["checksum"], record["size"], record["generated_by"]) == (CHECKSUM, len(PNG),
                                                                            "w1")
    assert record["duration"] == pytest.approx(0.5)
    r = requests.get(f"{fresh.base_url}/v1/fractals/{uuid}/image", timeout=5)
    assert r.content == PNG and r.headers["Content-Type"] == "image/png"
    assert r.headers["ETag"] == f'"{CHECKSUM}"'
    cached = requests.get(f"{fresh.base_url}/v1/fractals/{uuid}/image", timeout=5,
                          headers={"If-None-Match": r.headers["ETag"]})
    assert cached.status_code == 304


def test_corrupt_uploads_are_refused(fresh: FractalClient) -> None:
    uuid = fresh.create({"width": 8, "height": 8})["uuid"]
    claim = fresh.claim("w1", 30)
    with pytest.raises(ApiError) as wrong_sum:
        fresh.upload(claim, PNG, "0" * 64, 0.5, "w1")
    assert wrong_sum.value.status == 400 and wrong_sum.value.field == "X-Checksum"
    with pytest.raises(ApiError) as not_png:
        fresh.upload(claim, b"GIF89a", sha256(b"GIF89a"), 0.5, "w1")
    assert not_png.value.field == "body"
    assert fresh.show(uuid)["state"] == "running"


def test_an_expired_lease_puts_the_job_back(fresh: FractalClient) -> None:
    uuid = fresh.create({"width": 8, "height": 8})["uuid"]
    first = fresh.claim("w1", 1)
    second = wait_until(lambda: fresh.claim("w2", 30), 10, "the lease to expire")
    assert second.uuid == uuid and second.lease_token != first.lease_token
    with pytest.raises(ApiError) as lost:
        fresh.heartbeat(first, 30)
    assert lost.value.status == 409
    record = fresh.show(uuid)
    assert (record["generated_by"], record["attempts"]) == ("w2", 2)
    # the slow worker's lease token is stale now: only the current claim's result is stored
    with pytest.raises(ApiError) as stale:
        fresh.upload(first, PNG, CHECKSUM, 1.0, "w1")
    assert stale.value.status == 409
    assert fresh.upload(second, PNG, CHECKSUM, 1.0, "w2")["stored"] is True


def test_release_gives_the_job_back_at_once(fresh: FractalClient) -> None:
    uuid = fresh.create({"width": 8, "height": 8})["uuid"]
    fresh.release(fresh.claim("w1", 30))
    assert fresh.show(uuid)["state"] == "pending"
    assert fresh.claim("w2", 30).uuid == uuid


def test_a_job_that_keeps_losing_its_lease_ends_failed(fresh: FractalClient) -> None:
    uuid = fresh.create({"width": 8, "height": 8})["uuid"]
    for attempt in range(5):
        wait_until(lambda a=attempt: fresh.claim(f"w{a}", 1), 10, f"claim {attempt}")
    wait_until(lambda: fresh.claim("late", 1) is None and fresh.show(uuid)["state"] == "failed",
               10, "the poison job to fail")
    assert "5 times" in fresh.show(uuid)["error"]


def test_fail_needs_the_lease(fresh: FractalClient) -> None:
    uuid = fresh.create({"width": 8, "height": 8})["uuid"]
    claim = fresh.claim("w1", 30)
    fresh.fail(claim, "out of memory")
    record = fresh.show(uuid)
    assert (record["state"], record["error"]) == ("failed", "out of memory")
    with pytest.raises(ApiError) as again:
        fresh.fail(claim, "twice")
    assert again.value.status == 409


def test_deleting_a_running_job_makes_its_upload_404(fresh: FractalClient) -> None:
    uuid = fresh.create({"width": 8, "height": 8})["uuid"]
    claim = fresh.claim("w1", 30)
    fresh.delete(uuid)
    with pytest.raises(ApiError) as gone:
        fresh.upload(claim, PNG, CHECKSUM, 0.1, "w1")
    assert gone.value.status == 404
