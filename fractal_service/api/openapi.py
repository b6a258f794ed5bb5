"""The API's OpenAPI 3.1 document: every route, every answer and the server's own rules.

Generated from what the server validates (params.FIELDS, Limits, the settings' body limits), so
the document and the checks cannot drift apart; tests/unit/test_openapi.py compares its paths
and methods with the app's routes. Each store operation names its view: the answers admission
gives (STORE_BOUND) follow the view's store_bound mark (api/admission.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, jsonify

from fractal_service import lease
from fractal_service.api import fractals, jobs
from fractal_service.api.admission import is_store_bound
from fractal_service.api.deps import settings
from fractal_service.config import Settings
from fractal_service.params import FIELDS, KINDS, Limits
from fractal_service.records import State

bp = Blueprint("openapi", __name__)
Schema = dict[str, Any]

# Answers gunicorn or the app's hooks can give on any route (api/wire_errors.py, bodies.py).
ANY_ROUTE = {
    "400": "malformed request (bad request line, header or chunked framing)",
    "408": "request not received in time (headers or body too slow: api/arrival.py)",
    "413": "request body past this route's limit (declared or chunked)",
    "414": "request line too long",
    "431": "request header fields too large",
}
STORE_BOUND = {
    "503": "every store slot busy (Retry-After) or the store unreachable",
    "504": "the store did not answer within the request's deadline",
}
AUTH = {
    "401": "no valid credentials (Keystone token or bearer token)",
    "403": "authenticated, but without the role this route needs",
}


def _ref(name: str, kind: str = "schemas") -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _json(schema: Schema, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _text_field(description: str) -> Schema:
    # Matches jobs._text: at least one non-space character, at most 255.
    return {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"\S",
            "description": description}


def _params_schema(limits: Limits) -> Schema:
    props: Schema = {"kind": {"type": "string", "enum": list(KINDS), "default": "mandelbrot"}}
    for spec in FIELDS:
        schema: Schema = {"type": "integer" if spec.type is int else "number",
                          "description": spec.description}
        if spec.minimum is not None:
            schema["minimum"] = spec.minimum
        if spec.maximum_attr:
            schema["maximum"] = getattr(limits, spec.maximum_attr)
        elif spec.type is float:
            schema.update(minimum=-1e6, maximum=1e6)
        if spec.default is not None:
            schema["default"] = spec.default
        props[spec.name] = schema
    rules = [
        "c_re and c_im are accepted only with kind julia (defaults -0.8, 0.156)",
        "xb must be greater than xa, and yb greater than ya (defaults: the set's classic view)",
        f"width * height * iterations must not exceed {limits.max_work} (the work cap)",
        "null is refused for every field: leave a field out for its default",
    ]
    return {
        "type": "object", "properties": props, "additionalProperties": False,
        "description": "Rules the server also checks (400 naming the field): "
                       + "; ".join(rules) + ".",
        # JSON Schema can say the first rule; the window and the work cap stay in words.
        "if": {"properties": {"kind": {"const": "julia"}}, "required": ["kind"]},
        "then": {},
        "else": {"properties": {"c_re": False, "c_im": False}},
        "x-rules": {"window": "xa < xb and ya < yb", "max_work": limits.max_work},
    }


def _fractal_schema() -> Schema:
    nullable_time = {"type": ["string", "null"], "format": "date-time"}
    props: Schema = {
        "uuid": {"type": "string"}, "kind": {"type": "string", "enum": list(KINDS)},
        "state": {"type": "string", "enum": [s.value for s in State]},
        "created_at": {"type": "string", "format": "date-time"},
        "started_at": nullable_time, "finished_at": nullable_time,
        "duration": {"type": ["number", "null"]},
        "generated_by": {"type": ["string", "null"]},
        "size": {"type": ["integer", "null"]},
        "checksum": {"type": ["string", "null"]},
        "attempts": {"type": "integer", "minimum": 0},
        "error": {"type": ["string", "null"]},
    }
    props.update({s.name: {"type": "integer" if s.type is int else "number"} for s in FIELDS})
    return {"type": "object", "required": ["uuid", "kind", "state", "created_at"],
            "properties": props}


def _schemas(limits: Limits) -> Schema:
    lease_seconds = {"type": "number", "minimum": lease.MIN_SECONDS,
                     "maximum": lease.MAX_SECONDS,
                     "description": "lease length; the server's lease_seconds if left out"}
    return {
        "FractalParams": _params_schema(limits),
        "Fractal": _fractal_schema(),
        "FractalPage": {"type": "object", "required": ["fractals", "next_marker"],
                        "properties": {"fractals": {"type": "array", "items": _ref("Fractal")},
                                       "next_marker": {"type": ["string", "null"]}}},
        "Job": {"allOf": [_ref("Fractal"), {
            "type": "object", "required": ["lease_token", "lease_expires_in"], "properties": {
                "lease_token": {"type": "string", "description":
                                "proof of the lease: heartbeat, fail, release and the result "
                                "upload (X-Lease-Token) need it"},
                "lease_expires_in": {"type": "number"}}}]},
        "JobAnswer": {"type": "object", "required": ["job"], "properties": {"job": _ref("Job")}},
        "Claim": {"type": "object", "required": ["worker"], "properties": {
            "worker": _text_field("the worker's name, recorded as generated_by"),
            "lease_seconds": lease_seconds,
            "lease_token": {"type": "string", "pattern": f"^{lease.TOKEN_PATTERN}$",
                            "description":
                            "the claimer's own token for this claim (else the server makes "
                            "one): a claim sent again with it after its answer was lost gets "
                            "back the job still leased under it (lease renewed if it ran out, "
                            "no attempt counted) instead of another"}}},
        "Heartbeat": {"type": "object", "required": ["lease_token"], "properties": {
            "lease_token": _text_field("the claim's lease token"),
            "lease_seconds": lease_seconds}},
        "Release": {"type": "object", "required": ["lease_token"], "properties": {
            "lease_token": _text_field("the claim's lease token")}},
        "Fail": {"type": "object", "required": ["lease_token", "reason"], "properties": {
            "lease_token": _text_field("the claim's lease token"),
            "reason": _text_field("why the render cannot succeed (kept up to 500 characters)")}},
        "Stored": {"type": "object", "required": ["stored", "fractal"], "properties": {
            "stored": {"type": "boolean"}, "fractal": _ref("Fractal")}},
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["status", "message"], "properties": {
                "status": {"type": "integer"}, "message": {"type": "string"},
                "field": {"type": "string"}}}}},
    }


def _op(summary: str, answers: dict[str, Any], *, view: Callable | None = None,
        auth: str | None = None, body: Schema | None = None, body_required: bool = True,
        **extra: Any) -> Schema:
    """An operation with its own answers plus those every route / store / auth route has."""
    store = is_store_bound(view)
    responses: Schema = dict(answers)
    for group in (ANY_ROUTE, STORE_BOUND if store else {}, AUTH if auth else {}):
        for code, why in group.items():
            responses.setdefault(code, {"description": why, "content": {
                "application/json": {"schema": _ref("Error")}}})
    if body is not None:
        responses.setdefault("415", _json(_ref("Error"), "Content-Type is not JSON"))
        extra["requestBody"] = {"required": body_required,
                                "content": {"application/json": {"schema": body}}}
    if store:
        extra["parameters"] = [*extra.get("parameters", []), {
            "name": "X-Request-Timeout", "in": "header", "required": False,
            "schema": {"type": "string"},
            "description": "seconds the client waits (a number): the request's deadline is "
                           "shortened to fit (504 past it); anything else is ignored"}]
    op: Schema = {"summary": summary, "responses": dict(sorted(responses.items())), **extra}
    if auth:
        op["security"] = [{auth: []}]  # the one scheme the API is set up for
    return op


def _uuid() -> list[Schema]:
    return [{"name": "uuid", "in": "path", "required": True, "schema": {"type": "string"}}]


def _fractal_paths(scheme: str | None) -> Schema:
    error = _json(_ref("Error"), "error")
    fractal = _json(_ref("Fractal"), "the fractal")
    query = [
        {"name": "limit", "in": "query",
         "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50}},
        {"name": "marker", "in": "query", "schema": {"type": "string"}},
        {"name": "state", "in": "query",
         "schema": {"type": "string", "enum": [s.value for s in State]}},
        {"name": "order", "in": "query",
         "schema": {"type": "string", "enum": ["asc", "desc"], "default": "asc"}},
    ]
    return {
        "/v1/fractals": {
            "post": _op("Create a fractal (queued for a worker)", {
                "201": fractal,
                "200": _json(_ref("Fractal"), "the fractal this Idempotency-Key created"),
                "404": _json(_ref("Error"), "the fractal this Idempotency-Key created has "
                                            "been deleted since"),
                "422": _json(_ref("Error"), "Idempotency-Key used with other parameters")},
                view=fractals.create, auth=scheme, body=_ref("FractalParams"), body_required=False,
                parameters=[{
                    "name": "Idempotency-Key", "in": "header", "required": False,
                    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                    "description": "a retry with the same key gets the same fractal"}]),
            "get": _op("List fractals by creation time",
                       {"200": _json(_ref("FractalPage"), "a page")}, view=fractals.index,
                       parameters=query),
        },
        "/v1/fractals/{uuid}": {
            "parameters": _uuid(),
            "get": _op("Show a fractal", {"200": fractal, "404": error}, view=fractals.show),
            "delete": _op("Delete a fractal and its image",
                          {"204": {"description": "deleted"}, "404": error},
                          view=fractals.delete, auth=scheme),
        },
        "/v1/fractals/{uuid}/image": {
            "parameters": _uuid(),
            "get": _op("The PNG (ETag = its sha256; cached for a day)", {
                "200": {"description": "PNG", "content": {"image/png": {}}},
                "304": {"description": "If-None-Match matched"},
                "404": error, "409": _json(_ref("Error"), "not done yet")}, view=fractals.image),
        },
    }


def _job_paths(s: Settings, scheme: str | None) -> Schema:
    error = _json(_ref("Error"), "error")
    lost = _json(_ref("Error"), "the lease is no longer the caller's (stale lease token)")
    result_headers = [
        {"name": "X-Lease-Token", "in": "header", "required": True,
         "schema": {"type": "string"}, "description": "the claim's lease token (missing: 403, "
         "stale: 409)"},
        {"name": "X-Checksum", "in": "header", "required": True,
         "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
         "description": "sha256 of the body, hex"},
        {"name": "X-Duration", "in": "header", "required": True,
         "schema": {"type": "number", "minimum": 0, "exclusiveMaximum": 86400}},
        {"name": "X-Worker", "in": "header", "required": True,
         "schema": {"type": "string", "minLength": 1, "maxLength": 255}},
    ]
    job = {"parameters": _uuid()}
    return {
        "/v1/jobs/claim": {"post": _op(
            "Lease the oldest pending job (or one whose lease ran out)",
            {"200": _json(_ref("JobAnswer"), "a job, leased"),
             "204": {"description": "no work"}}, view=jobs.claim, auth=scheme, body=_ref("Claim"))},
        "/v1/jobs/{uuid}/heartbeat": {**job, "post": _op(
            "Extend a lease", {"200": _json(_ref("JobAnswer"), "extended"), "404": error,
                               "409": lost},
            view=jobs.heartbeat, auth=scheme, body=_ref("Heartbeat"))},
        "/v1/jobs/{uuid}/release": {**job, "post": _op(
            "Give a job back to the queue at once (a no-op if the lease is not the caller's)",
            {"204": {"description": "released"}, "404": error},
            view=jobs.release, auth=scheme, body=_ref("Release"))},
        "/v1/jobs/{uuid}/fail": {**job, "post": _op(
            "Mark a job failed for good (a deterministic render error)",
            {"200": _json(_ref("Fractal"), "failed"), "404": error, "409": lost},
            view=jobs.fail, auth=scheme, body=_ref("Fail"))},
        "/v1/jobs/{uuid}/result": {**job, "put": _op(
            "Upload the rendered PNG: it must decode and have the job's width and height; "
            f"at most the job's raw size and never over {s.max_upload_bytes} bytes",
            {"201": _json(_ref("Stored"), "stored"),
             "200": _json(_ref("Stored"), "a result was stored already (idempotent)"),
             "403": _json(_ref("Error"), "no X-Lease-Token (or, with authentication, "
                                         "no worker role)"),
             "404": error, "409": lost,
             "415": _json(_ref("Error"), "Content-Type is not image/png")},
            view=jobs.result, auth=scheme, parameters=result_headers,
            requestBody={"required": True, "content": {"image/png": {
                "schema": {"type": "string", "contentMediaType": "image/png"}}}})},
    }


def _service_paths() -> Schema:
    status = _json({"type": "object", "required": ["status"],
                    "properties": {"status": {"type": "string"}}}, "status")
    error = _json(_ref("Error"), "error")
    alive = _json({"type": "object", "required": ["status"], "properties": {
        "status": {"type": "string"},
        "server": {"type": "integer", "description": "the answering server's process id"}}},
        "status")
    return {
        "/healthz": {"get": _op("Liveness: the server answers", {
            "200": alive, "503": _json(_ref("Error"), "wedged: a restart would cure it")})},
        "/readyz": {"get": _op("Readiness: the store answers", {"200": status, "503": error})},
        "/v1/selftest": {"post": _op(
            "Deep check: render a tiny fractal and round-trip a store write", {
                "200": _json({"type": "object", "properties": {
                    "ok": {"type": "boolean"}, "png_bytes": {"type": "integer"},
                    "seconds": {"type": "number"}}}, "passed"),
                "503": error})},
        "/metrics": {"get": _op("Prometheus metrics", {
            "200": {"description": "text exposition format",
                    "content": {"text/plain": {"schema": {"type": "string"}}}}})},
        "/v1/openapi.json": {"get": _op("This document", {
            "200": _json({"type": "object"}, "OpenAPI 3.1")})},
        "/": {"get": _op("A page listing fractals with thumbnails", {
            "200": {"description": "HTML", "content": {"text/html": {}}}})},
    }


def _link(paths: Schema) -> None:
    """operationIds, and links from a created fractal and a claimed job to what follows (for
    clients and stateful testing)."""
    for path, item in paths.items():
        for method, op in item.items():
            if method != "parameters":
                name = path.strip("/").replace("{uuid}", "by_uuid").replace("/", "_")
                op["operationId"] = f"{method}_{name or 'page'}".replace(".", "_")
    created = {"parameters": {"uuid": "$response.body#/uuid"}}
    paths["/v1/fractals"]["post"]["responses"]["201"]["links"] = {
        "show": {"operationId": "get_v1_fractals_by_uuid", **created},
        "image": {"operationId": "get_v1_fractals_by_uuid_image", **created},
        "delete": {"operationId": "delete_v1_fractals_by_uuid", **created}}
    leased = {"parameters": {"uuid": "$response.body#/job/uuid"},
              "requestBody": {"lease_token": "$response.body#/job/lease_token"}}
    paths["/v1/jobs/claim"]["post"]["responses"]["200"]["links"] = {
        action: {"operationId": f"post_v1_jobs_by_uuid_{action}", **leased}
        for action in ("heartbeat", "release")}


def document(s: Settings) -> Schema:
    scheme = {"token": "bearer", "keystone": "keystone"}.get(s.auth)  # None: nobody is asked
    paths = {**_fractal_paths(scheme), **_job_paths(s, scheme), **_service_paths()}
    _link(paths)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Fractal API", "version": "1.0.0",
                 "description": "Mandelbrot and Julia images, rendered by workers. Every error "
                                "is {\"error\": {\"status\", \"message\", \"field\"?}}; JSON "
                                f"bodies are at most {s.max_json_bytes} bytes."},
        "paths": paths,
        "components": {
            "schemas": _schemas(s.limits),
            "securitySchemes": {
                "keystone": {"type": "apiKey", "in": "header", "name": "X-Auth-Token",
                             "description": "a Keystone token (auth = keystone)"},
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "the shared token of auth = token"},
            },
        },
    }


@bp.get("/v1/openapi.json")
def openapi():
    return jsonify(document(settings()))
