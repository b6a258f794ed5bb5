"""The API's OpenAPI 3.1 document, generated from the parameter declarations it validates."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from fractal_service.api.deps import settings
from fractal_service.params import FIELDS, KINDS, Limits
from fractal_service.records import State

bp = Blueprint("openapi", __name__)


def _params_schema(limits: Limits) -> dict[str, Any]:
    props: dict[str, Any] = {"kind": {"type": "string", "enum": list(KINDS),
                                      "default": "mandelbrot"}}
    for spec in FIELDS:
        schema: dict[str, Any] = {
            "type": "integer" if spec.type is int else "number",
            "description": spec.description,
        }
        if spec.minimum is not None:
            schema["minimum"] = spec.minimum
        if spec.maximum_attr:
            schema["maximum"] = getattr(limits, spec.maximum_attr)
        if spec.default is not None:
            schema["default"] = spec.default
        props[spec.name] = schema
    return {"type": "object", "properties": props, "additionalProperties": False}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _uuid_param() -> dict[str, Any]:
    return {"name": "uuid", "in": "path", "required": True, "schema": {"type": "string"}}


def document(limits: Limits) -> dict[str, Any]:
    error = _json(_ref("Error"), "error")
    fractal = _json(_ref("Fractal"), "the fractal")
    return {
        "openapi": "3.1.0",
        "info": {"title": "Fractal API", "version": "1.0.0",
                 "description": "Mandelbrot and Julia images, rendered by workers."},
        "paths": {
            "/v1/fractals": {
                "post": {
                    "summary": "Create a fractal (queued for a worker)",
                    "requestBody": {"content": {"application/json": {
                        "schema": _ref("FractalParams")}}},
                    "responses": {"201": fractal, "400": error},
                },
                "get": {
                    "summary": "List fractals, oldest first",
                    "parameters": [
                        {"name": "limit", "in": "query",
                         "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                        {"name": "marker", "in": "query", "schema": {"type": "string"}},
                        {"name": "state", "in": "query",
                         "schema": {"type": "string", "enum": [s.value for s in State]}},
                        {"name": "order", "in": "query",
                         "schema": {"type": "string", "enum": ["asc", "desc"]}},
                    ],
                    "responses": {"200": _json(_ref("FractalPage"), "a page"), "400": error},
                },
            },
            "/v1/fractals/{uuid}": {
                "parameters": [_uuid_param()],
                "get": {"summary": "Show a fractal", "responses": {"200": fractal, "404": error}},
                "delete": {"summary": "Delete a fractal and its image",
                           "responses": {"204": {"description": "deleted"}, "404": error}},
            },
            "/v1/fractals/{uuid}/image": {
                "parameters": [_uuid_param()],
                "get": {"summary": "The PNG (ETag = sha256)", "responses": {
                    "200": {"description": "PNG", "content": {"image/png": {}}},
                    "404": error, "409": error}},
            },
            "/healthz": {"get": {"summary": "Liveness", "responses": {
                "200": _json({"type": "object"}, "alive")}}},
            "/readyz": {"get": {"summary": "Readiness: the store answers", "responses": {
                "200": _json({"type": "object"}, "ready"), "503": error}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {
                "200": {"description": "text exposition format"}}}},
        },
        "components": {"schemas": {
            "FractalParams": _params_schema(limits),
            "Fractal": {"type": "object", "required": ["uuid", "state"], "properties": {
                "uuid": {"type": "string"},
                "state": {"type": "string", "enum": [s.value for s in State]},
                "checksum": {"type": ["string", "null"]},
                "size": {"type": ["integer", "null"]},
                "duration": {"type": ["number", "null"]},
                "generated_by": {"type": ["string", "null"]},
            }},
            "FractalPage": {"type": "object", "properties": {
                "fractals": {"type": "array", "items": _ref("Fractal")},
                "next_marker": {"type": ["string", "null"]},
            }},
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["status", "message"], "properties": {
                    "status": {"type": "integer"}, "message": {"type": "string"},
                    "field": {"type": "string"}}}}},
        }},
    }


@bp.get("/v1/openapi.json")
def openapi():
    return jsonify(document(settings().limits))
