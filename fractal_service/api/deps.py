"""What request handlers need from the running app: settings, store, clock, JSON body."""

from __future__ import annotations

import json
import time
from typing import Any

from flask import current_app, request

from fractal_service.api import bodies
from fractal_service.api.errors import ApiError
from fractal_service.config import Settings
from fractal_service.store import Store


def settings() -> Settings:
    return current_app.config["FRACTAL_SETTINGS"]


def store() -> Store:
    return current_app.config["FRACTAL_STORE"]


def now() -> float:
    return time.time()


def json_body() -> Any:
    """The request's JSON (type and size checked by api/bodies.py); an empty body is {}."""
    raw = bodies.read(settings().max_json_bytes)
    if not raw:  # nothing at all; whitespace alone is not JSON
        return {}
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # undecodable bytes, absurd nesting
        raise ApiError(400, "request body is not valid JSON", "body") from None


def int_arg(name: str, default: int, minimum: int, maximum: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer", name) from None
    if not minimum <= value <= maximum:
        raise ApiError(400, f"{name} must be between {minimum} and {maximum}", name)
    return value
