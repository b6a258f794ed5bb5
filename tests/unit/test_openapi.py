"""The OpenAPI document against the app itself: every route, every answer, the server's rules."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask

from fractal_service.api.admission import is_store_bound
from fractal_service.api.app import create_app
from fractal_service.api.openapi import document
from fractal_service.config import Settings

AUTOMATIC = {"HEAD", "OPTIONS"}  # werkzeug answers these for every rule by itself


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    return create_app(Settings(data_dir=tmp_path_factory.mktemp("openapi")))


@pytest.fixture(scope="module")
def doc(app: Flask) -> dict:
    return app.test_client().get("/v1/openapi.json").get_json()


def operations(doc: dict) -> dict[tuple[str, str], dict]:
    return {(path, method.upper()): op for path, item in doc["paths"].items()
            for method, op in item.items() if method != "parameters"}


def test_the_document_has_every_route_and_method_of_the_app(app: Flask, doc: dict) -> None:
    routes = {(re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method)
              for rule in app.url_map.iter_rules() if rule.endpoint != "static"
              for method in rule.methods - AUTOMATIC}
    assert set(operations(doc)) == routes


def test_every_operation_lists_the_answers_any_route_can_give(doc: dict) -> None:
    for (path, method), op in operations(doc).items():
        codes = set(op["responses"])
        assert {"400", "408", "413", "414", "431"} <= codes, (path, method)
        if path.startswith(("/v1/fractals", "/v1/jobs")):
            assert {"503", "504"} <= codes, (path, method)
        if "requestBody" in op:
            assert "415" in codes, (path, method)
        writes = method != "GET" and path.startswith(("/v1/fractals", "/v1/jobs"))
        if writes:
            assert {"401", "403"} <= codes and op["security"], (path, method)


def test_the_store_answers_are_on_exactly_the_store_bound_views(app: Flask, doc: dict) -> None:
    ops = operations(doc)
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        marked = is_store_bound(app.view_functions[rule.endpoint])
        for method in rule.methods - AUTOMATIC:
            op = ops[(path, method)]
            timeout = any(p["name"] == "X-Request-Timeout" for p in op.get("parameters", []))
            assert ("504" in op["responses"]) == timeout == marked, (path, method)


def test_the_job_protocol_is_described(doc: dict) -> None:
    ops = operations(doc)
    claim = ops[("/v1/jobs/claim", "POST")]
    assert {"200", "204"} <= set(claim["responses"])
    job = doc["components"]["schemas"]["Job"]["allOf"][1]
    assert "lease_token" in job["required"]
    result = ops[("/v1/jobs/{uuid}/result", "PUT")]
    headers = {p["name"] for p in result["parameters"] if p["in"] == "header"}
    assert headers == {"X-Lease-Token", "X-Checksum", "X-Duration", "X-Worker",
                       "X-Request-Timeout"}
    assert {"201", "200", "403", "404", "409", "415"} <= set(result["responses"])


def test_idempotent_creation_is_described(doc: dict) -> None:
    create = operations(doc)[("/v1/fractals", "POST")]
    assert {"200", "201", "422"} <= set(create["responses"])
    assert "Idempotency-Key" in {p["name"] for p in create["parameters"]}


def test_the_servers_own_rules_are_in_the_parameters_schema(doc: dict) -> None:
    params = doc["components"]["schemas"]["FractalParams"]
    # c_re/c_im only for julia: forbidden unless kind is julia
    assert params["if"] == {"properties": {"kind": {"const": "julia"}}, "required": ["kind"]}
    assert params["else"]["properties"] == {"c_re": False, "c_im": False}
    assert params["x-rules"]["max_work"] == Settings().limits.max_work
    assert "xb must be greater than xa" in params["description"]
    assert params["properties"]["xa"]["maximum"] == 1e6
    assert params["additionalProperties"] is False


def test_the_document_follows_the_settings(tmp_path: Path) -> None:
    settings = Settings.from_mapping({"data_dir": tmp_path, "max_json_bytes": 1000,
                                      "limits": {"max_width": 64}})
    doc = document(settings)
    assert doc["components"]["schemas"]["FractalParams"]["properties"]["width"]["maximum"] == 64
    assert "1000 bytes" in doc["info"]["description"]


@pytest.mark.parametrize(("mode", "scheme"), [("token", "bearer"), ("keystone", "keystone"),
                                              ("none", None)])
def test_the_security_is_the_one_the_api_is_set_up_for(tmp_path: Path, mode: str,
                                                        scheme: str | None) -> None:
    doc = document(Settings(data_dir=tmp_path, auth=mode))
    create = operations(doc)[("/v1/fractals", "POST")]
    if scheme is None:
        assert "security" not in create and "401" not in create["responses"]
    else:
        assert create["security"] == [{scheme: []}] and "401" in create["responses"]
