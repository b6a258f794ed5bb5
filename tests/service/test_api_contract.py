"""The REST contract, against a real fractal-api process on loopback."""

from __future__ import annotations

import requests

from tests.support.processes import ApiServer


def post(api: ApiServer, body, **kwargs) -> requests.Response:
    return requests.post(f"{api.url}/v1/fractals", json=body, timeout=5, **kwargs)


def test_create_returns_201_with_defaults_and_location(api: ApiServer) -> None:
    r = post(api, {})
    assert r.status_code == 201
    record = r.json()
    assert r.headers["Location"].endswith(f"/v1/fractals/{record['uuid']}")
    assert record["kind"] == "mandelbrot"
    assert (record["width"], record["height"], record["iterations"]) == (512, 512, 256)
    assert record["state"] == "pending"
    assert record["created_at"].endswith("Z")
    assert record["checksum"] is None and record["generated_by"] is None
    assert "c_re" not in record


def test_julia_keeps_its_constant(api: ApiServer) -> None:
    r = post(api, {"kind": "julia", "c_re": -0.4, "c_im": 0.6, "width": 64, "height": 32})
    assert r.status_code == 201
    shown = requests.get(f"{api.url}/v1/fractals/{r.json()['uuid']}", timeout=5).json()
    assert (shown["c_re"], shown["c_im"], shown["width"], shown["height"]) == (-0.4, 0.6, 64, 32)


def test_pagination_walks_every_fractal_once_in_creation_order(api: ApiServer) -> None:
    created = [post(api, {"width": 8, "height": 8}).json()["uuid"] for _ in range(7)]
    seen, marker = [], None
    while True:
        params = {"limit": 3, "state": "pending", **({"marker": marker} if marker else {})}
        page = requests.get(f"{api.url}/v1/fractals", params=params, timeout=5).json()
        assert len(page["fractals"]) <= 3
        seen += [f["uuid"] for f in page["fractals"]]
        marker = page["next_marker"]
        if marker is None:
            break
    assert len(seen) == len(set(seen))
    assert [u for u in seen if u in created] == created
    newest = requests.get(f"{api.url}/v1/fractals", params={"order": "desc", "limit": 1},
                          timeout=5).json()["fractals"][0]["uuid"]
    assert newest == max(seen)


def test_unknown_uuid_is_404_with_json(api: ApiServer) -> None:
    for method, path in [("GET", ""), ("GET", "/image"), ("DELETE", "")]:
        r = requests.request(method, f"{api.url}/v1/fractals/nope{path}", timeout=5)
        assert r.status_code == 404
        assert r.json()["error"]["field"] == "uuid"


def test_image_of_unfinished_fractal_is_409(api: ApiServer) -> None:
    uuid = post(api, {"width": 8, "height": 8}).json()["uuid"]
    r = requests.get(f"{api.url}/v1/fractals/{uuid}/image", timeout=5)
    assert r.status_code == 409
    assert "pending" in r.json()["error"]["message"]


def test_delete_removes_the_fractal(api: ApiServer) -> None:
    uuid = post(api, {"width": 8, "height": 8}).json()["uuid"]
    assert requests.delete(f"{api.url}/v1/fractals/{uuid}", timeout=5).status_code == 204
    assert requests.get(f"{api.url}/v1/fractals/{uuid}", timeout=5).status_code == 404
    assert requests.delete(f"{api.url}/v1/fractals/{uuid}", timeout=5).status_code == 404


def test_health_endpoints(api: ApiServer) -> None:
    assert requests.get(f"{api.url}/healthz", timeout=5).json() == {"status": "ok",
                                                                      "server": api.pid}
    assert requests.get(f"{api.url}/readyz", timeout=5).json() == {"status": "ready"}
    deep = requests.post(f"{api.url}/v1/selftest", timeout=10)
    assert deep.status_code == 200 and deep.json()["ok"] is True


def test_openapi_document_describes_the_fractal_routes(api: ApiServer) -> None:
    doc = requests.get(f"{api.url}/v1/openapi.json", timeout=5).json()
    assert doc["openapi"].startswith("3.")
    assert {"/v1/fractals", "/v1/fractals/{uuid}", "/v1/fractals/{uuid}/image"} <= set(doc["paths"])
    props = doc["components"]["schemas"]["FractalParams"]["properties"]
    assert props["width"]["maximum"] == 4096 and props["kind"]["enum"] == ["mandelbrot", "julia"]


def test_metrics_follow_prometheus_naming_and_bounded_labels(api: ApiServer) -> None:
    uuid = post(api, {"width": 8, "height": 8}).json()["uuid"]
    requests.get(f"{api.url}/v1/fractals/{uuid}", timeout=5)
    text = requests.get(f"{api.url}/metrics", timeout=5).text
    assert 'fractal_http_requests_total{method="POST",route="/v1/fractals",status="201"}' in text
    assert 'route="/v1/fractals/<uuid>"' in text
    assert uuid not in text
    assert "fractal_http_request_duration_seconds_bucket" in text
    assert 'fractal_fractals{state="pending"}' in text
    assert "fractal_pixels_computed_total" in text


def test_web_page_lists_fractals(api: ApiServer) -> None:
    r = requests.get(api.url + "/", timeout=5)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert "/v1/fractals?order=desc" in r.text
