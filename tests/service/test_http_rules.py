"""HTTP rules every route keeps: bounded bodies (chunked too), JSON only where JSON is meant,
every error in the JSON error format (gunicorn's own included), Allow on 405, one answer for
an unknown job on every job route, and metric labels from a closed set."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
import requests

from tests.support.processes import ApiServer

JSON_LIMIT = 64 * 1024
# Valid JSON past the limit only by its whitespace: the old API parsed and stored it.
PADDED = b'{"width": 8, "height": 8}' + b" " * (JSON_LIMIT + 1)


def chunks(data: bytes, size: int = 8192) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


def assert_json_error(r: requests.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/json"), r.headers
    error = r.json()["error"]
    assert error["status"] == status and error["message"]
    return error


def raw_exchange(api: ApiServer, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read the answer until the server closes: (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", api.port), timeout=5) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


# -- body limits -----------------------------------------------------------------------------
def test_json_body_past_the_limit_is_413_and_the_connection_closed(api: ApiServer) -> None:
    r = requests.post(f"{api.url}/v1/fractals", data=PADDED, timeout=5,
                      headers={"Content-Type": "application/json"})
    assert assert_json_error(r, 413)["field"] == "body"
    assert r.headers.get("Connection") == "close"  # the rest of a large body is not drained


def test_chunked_body_past_the_limit_is_refused_not_cut(api: ApiServer) -> None:
    r = requests.post(f"{api.url}/v1/fractals", data=chunks(PADDED), timeout=5,
                      headers={"Content-Type": "application/json"})
    assert r.request.headers.get("Transfer-Encoding") == "chunked"
    assert_json_error(r, 413)


def test_chunked_body_within_the_limit_is_read_whole(api: ApiServer) -> None:
    body = b'{"width": 8,' + b" " * 20_000 + b'"height": 4}'
    r = requests.post(f"{api.url}/v1/fractals", data=chunks(body), timeout=5,
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    assert (r.json()["width"], r.json()["height"]) == (8, 4)


def test_job_routes_are_bounded_like_create(api: ApiServer) -> None:
    r = requests.post(f"{api.url}/v1/jobs/claim", data=PADDED, timeout=5,
                      headers={"Content-Type": "application/json"})
    assert_json_error(r, 413)


def test_a_body_on_a_route_that_takes_none_is_bounded_too(api: ApiServer) -> None:
    r = requests.post(f"{api.url}/v1/selftest", data=chunks(PADDED), timeout=10)
    assert_json_error(r, 413)


# -- content type ----------------------------------------------------------------------------
@pytest.mark.parametrize("content_type", [
    "application/x-www-form-urlencoded",  # a plain HTML form
    "text/plain",  # a form with enctype=text/plain can carry a JSON-looking body
    "multipart/form-data; boundary=x",
    None,
])
@pytest.mark.parametrize("path", ["/v1/fractals", "/v1/jobs/claim"])
def test_json_routes_refuse_other_content_types(api: ApiServer, path: str,
                                                content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    req = requests.Request("POST", f"{api.url}{path}", headers=headers,
                           data=b'{"width": 8, "height": 8, "worker": "w"}').prepare()
    if content_type is None:
        req.headers.pop("Content-Type", None)
    r = requests.Session().send(req, timeout=5)
    assert assert_json_error(r, 415)["field"] == "Content-Type"


def test_json_with_a_charset_or_a_json_suffix_is_json(api: ApiServer) -> None:
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        r = requests.post(f"{api.url}/v1/fractals", data=b'{"width": 8, "height": 8}',
                          headers={"Content-Type": content_type}, timeout=5)
        assert r.status_code == 201, (content_type, r.text)


def test_an_empty_body_needs_no_content_type(api: ApiServer) -> None:
    r = requests.post(f"{api.url}/v1/fractals", timeout=5)
    assert r.status_code == 201, r.text


# -- the JSON error format everywhere ---------------------------------------------------------
def test_405_names_the_allowed_methods(api: ApiServer) -> None:
    r = requests.put(f"{api.url}/v1/fractals", timeout=5)
    assert_json_error(r, 405)
    assert set(r.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


@pytest.mark.parametrize(("request_bytes", "status"), [
    (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n", 431),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
     + b"".join(b"X-H%d: 1\r\n" % i for i in range(150)) + b"\r\n", 431),
    (b"NOT A REQUEST\r\n\r\n", 400),
    (b"POST /v1/fractals HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
     b"Content-Type: application/json\r\n\r\nzz\r\n", 400),
])
def test_gunicorns_own_errors_are_json(api: ApiServer, request_bytes: bytes,
                                       status: int) -> None:
    got, headers, body = raw_exchange(api, request_bytes)
    assert got == status, body
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["error"]["status"] == status


# -- one answer for an unknown job --------------------------------------------------------------
@pytest.mark.parametrize("action", ["heartbeat", "release", "fail"])
def test_every_job_route_says_404_for_an_unknown_job(api: ApiServer, action: str) -> None:
    r = requests.post(f"{api.url}/v1/jobs/no-such-job/{action}", timeout=5,
                      json={"lease_token": "t", "reason": "r"})
    assert assert_json_error(r, 404)["field"] == "uuid"


# -- numbers -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("body", "field"), [
    ({"width": None}, "width"), ({"xa": None}, "xa"), ({"c_re": None}, "c_re"),
    ({"kind": "julia", "c_im": None}, "c_im")])
def test_null_is_not_a_number(api: ApiServer, body: dict, field: str) -> None:
    r = requests.post(f"{api.url}/v1/fractals", json=body, timeout=5)
    assert assert_json_error(r, 400)["field"] == field


def test_messages_read_well(api: ApiServer) -> None:
    r = requests.post(f"{api.url}/v1/fractals", json={"width": "wide"}, timeout=5)
    assert assert_json_error(r, 400)["message"] == "must be an integer"


# -- metrics -----------------------------------------------------------------------------------
def test_an_unknown_method_is_not_a_metric_label(api: ApiServer) -> None:
    r = requests.request("FRACTALPROBE", f"{api.url}/v1/fractals", timeout=5)
    assert_json_error(r, 405)
    text = requests.get(f"{api.url}/metrics", timeout=5).text
    assert "FRACTALPROBE" not in text
    assert 'fractal_http_requests_total{method="other",route="unmatched",status="405"}' in text
