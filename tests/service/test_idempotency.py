"""A client that retries a POST whose answer it did not get must not create a second fractal:
the same Idempotency-Key and body give the same fractal (201, then 200), through any API
instance sharing the store; the key with another body is refused (422)."""

from __future__ import annotations

import uuid

import requests

from fractal_service.client import FractalClient
from tests.support.processes import ApiServer
from tests.support.spawner import Spawner

BODY = {"kind": "julia", "width": 64, "height": 48, "iterations": 50, "c_re": -0.4}


def post(url: str, key: str, body: dict) -> requests.Response:
    return requests.post(url + "/v1/fractals", json=body, timeout=10,
                         headers={"Idempotency-Key": key})


def stored_with(api: ApiServer, fractal_uuid: str) -> int:
    listed = FractalClient(api.url).iterate(order="desc")
    return sum(f["uuid"] == fractal_uuid for f in listed)


def test_a_retried_post_stores_one_fractal(api: ApiServer) -> None:
    key = str(uuid.uuid4())
    first = post(api.url, key, BODY)
    # The same meaning written differently (order, 1 vs 1.0) is the same body.
    again = post(api.url, key, {**dict(reversed(list(BODY.items()))), "c_re": -0.40})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["uuid"] == first.json()["uuid"]
    assert again.headers["Location"] == first.headers["Location"]
    assert stored_with(api, first.json()["uuid"]) == 1


def test_the_same_key_with_other_parameters_is_refused(api: ApiServer) -> None:
    key = str(uuid.uuid4())
    assert post(api.url, key, BODY).status_code == 201
    other = post(api.url, key, {**BODY, "iterations": 51})
    assert other.status_code == 422
    assert other.json()["error"]["field"] == "Idempotency-Key"


def test_bad_keys_are_refused(api: ApiServer) -> None:
    for key in ("", "x" * 256):
        answer = post(api.url, key, BODY)
        assert answer.status_code == 400, key
        assert answer.json()["error"]["field"] == "Idempotency-Key"


def test_a_retry_through_another_api_instance_is_idempotent(spawn: Spawner) -> None:
    first_api = spawn.api()
    key = str(uuid.uuid4())
    first = post(first_api.url, key, BODY)
    second_api = spawn.api(data_dir=spawn.tmp_path / "api")  # same store, another process
    again = post(second_api.url, key, BODY)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["uuid"] == first.json()["uuid"]


def test_the_client_sends_a_key_per_creation(api: ApiServer) -> None:
    client = FractalClient(api.url)
    one, two = client.create(BODY), client.create(BODY)
    assert one["uuid"] != two["uuid"]
    assert client.create(BODY, idempotency_key="k-" + one["uuid"])["uuid"] != one["uuid"]
    assert client.create(BODY, idempotency_key="k-" + one["uuid"]) == client.create(
        BODY, idempotency_key="k-" + one["uuid"])
