"""Bad input gets a 4xx with a JSON body naming the field — never a 5xx, never a crash."""

from __future__ import annotations

import json

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.processes import ApiServer

FIELDS = ["kind", "width", "height", "iterations", "xa", "xb", "ya", "yb", "c_re", "c_im"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"width": 0}, "width"),
        ({"width": 4097}, "width"),
        ({"height": -3}, "height"),
        ({"iterations": 10_001}, "iterations"),
        ({"width": "wide"}, "width"),
        ({"width": True}, "width"),
        ({"width": 12.5}, "width"),
        ({"kind": "sierpinski"}, "kind"),
        ({"xa": 1.0, "xb": 0.5}, "xb"),
        ({"ya": 1e9}, "ya"),
        ({"c_re": 0.3}, "c_re"),  # a constant only makes sense for julia
        ({"colour": "red"}, "colour"),
        # under each cap alone, but the product would pin a worker for hours
        ({"width": 4096, "height": 4096, "iterations": 10_000}, "iterations"),
        ([1, 2, 3], "body"),
        ("a string", "body"),
    ],
)
def test_bad_fields_are_named(api: ApiServer, body, field: str) -> None:
    r = requests.post(f"{api.url}/v1/fractals", json=body, timeout=5)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["field"] == field


# Deep nesting within the 64 KiB body limit (past it: 413, tests/service/test_http_rules.py)
@pytest.mark.parametrize("raw", [b"{", b"\xff\xfe", b"[" * 60_000, b"NaN-ish", b" \n"])
def test_malformed_json_is_400(api: ApiServer, raw: bytes) -> None:
    r = requests.post(f"{api.url}/v1/fractals", data=raw, timeout=5,
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"]["field"] == "body"


@pytest.mark.parametrize(
    "query", [{"limit": "0"}, {"limit": "x"}, {"limit": "1001"}, {"state": "lost"},
              {"order": "sideways"}])
def test_bad_list_queries_are_400(api: ApiServer, query: dict) -> None:
    r = requests.get(f"{api.url}/v1/fractals", params=query, timeout=5)
    assert r.status_code == 400
    assert r.json()["error"]["field"] == next(iter(query))


def test_unknown_route_and_method_are_json(api: ApiServer) -> None:
    assert requests.get(f"{api.url}/v2/nothing", timeout=5).json()["error"]["status"] == 404
    r = requests.put(f"{api.url}/v1/fractals", timeout=5)
    assert r.status_code == 405 and r.json()["error"]["status"] == 405


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5),
                                                                       children, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.dictionaries(st.sampled_from([*FIELDS, "other"]), json_values, max_size=6)
       | json_values)
def test_fuzzed_bodies_never_cause_5xx(api: ApiServer, body) -> None:
    try:
        raw = json.dumps(body, allow_nan=True).encode()
    except ValueError:
        return
    r = requests.post(f"{api.url}/v1/fractals", data=raw, timeout=5,
                      headers={"Content-Type": "application/json"})
    assert r.status_code in (201, 400), (body, r.status_code, r.text)
    if r.status_code == 400:
        assert r.json()["error"]["message"]
    else:
        # Whatever was accepted is a job a worker can actually finish within the caps.
        record = r.json()
        assert record["width"] * record["height"] * record["iterations"] <= 2_000_000_000
        requests.delete(f"{api.url}/v1/fractals/{record['uuid']}", timeout=5)
