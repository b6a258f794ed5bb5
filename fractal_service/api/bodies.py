"""Request bodies: bounded per route and refused before anything parses them.

JSON routes take at most `max_json_bytes`; a result upload at most what a PNG of its job's size
can take (the handler knows the job, so it reads its own body); every other route reads none
worth having. A body past its limit is a 413 whether it declared a Content-Length or came
chunked: it is read only up to the limit, never cut and processed. A JSON route refuses any
other Content-Type (415), so a plain cross-site form POST cannot create fractals or drive jobs.

After a 413 the rest of the body is still on the wire; gunicorn would read and discard it all to
keep the connection alive, so the connection is closed instead (gunicorn's pre_request hook
hands each thread its request, whose `must_close` the app cannot reach otherwise).
"""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask, g, request
from gunicorn.http.errors import NoMoreData, ParseException

from fractal_service.api.errors import ApiError

# Endpoints whose body is a JSON document, and those that read their own body.
JSON_ENDPOINTS = frozenset({"fractals.create", "jobs.claim", "jobs.heartbeat", "jobs.release",
                            "jobs.fail"})
SELF_READ_ENDPOINTS = frozenset({"jobs.result"})
READ_CHUNK = 64 * 1024

_current = threading.local()


def remember_request(_worker: Any, req: Any) -> None:
    """gunicorn's pre_request hook: runs in the thread that then runs the app for `req`."""
    _current.req = req


def close_connection() -> None:
    """Make gunicorn close this request's connection after the answer (no-op outside it)."""
    req = getattr(_current, "req", None)
    if req is not None:
        req.must_close = True


def is_json(mimetype: str) -> bool:
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json"))


def has_body() -> bool:
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    return chunked or bool(request.content_length)


def read(limit: int) -> bytes:
    """The whole body, or ApiError 413 as soon as it is known to exceed `limit` bytes."""
    cached = g.get("body")
    if cached is not None:
        return cached
    declared = request.content_length
    if declared is not None and declared > limit:
        too_large(limit)
    body = b""
    if has_body():
        # gunicorn's wsgi.input decodes chunked bodies and stops at Content-Length; read it
        # directly, as werkzeug's stream would stop silently at a limit.
        stream = request.environ["wsgi.input"]
        remaining = declared if declared is not None else limit + 1
        parts: list[bytes] = []
        size = 0
        while remaining > 0:
            try:
                chunk = stream.read(min(READ_CHUNK, remaining))
            except (ParseException, NoMoreData):  # a broken chunk, a body cut short
                close_connection()
                raise ApiError(400, "malformed request body", "body") from None
            if not chunk:
                break
            size += len(chunk)
            remaining -= len(chunk)
            if size > limit:
                too_large(limit)
            parts.append(chunk)
        body = b"".join(parts)
    g.body = body
    return body


def too_large(limit: int) -> None:
    close_connection()
    raise ApiError(413, f"request body larger than {limit} bytes", "body")


def require_type(accepted: str) -> None:
    """415 unless a body-bearing request says it is `accepted` ("json" = any JSON type)."""
    mimetype = request.mimetype
    if not mimetype and not has_body():
        return  # nothing sent, nothing to mistake for JSON
    ok = is_json(mimetype) if accepted == "json" else mimetype == accepted
    if not ok:
        close_connection()  # the unread body is not worth draining
        wanted = "application/json" if accepted == "json" else accepted
        raise ApiError(415, f"Content-Type must be {wanted}", "Content-Type")


def install(app: Flask, json_limit: int) -> None:
    @app.before_request
    def _bounded_body() -> None:
        endpoint = request.endpoint
        if endpoint in SELF_READ_ENDPOINTS:
            return
        if endpoint in JSON_ENDPOINTS:
            require_type("json")
        read(json_limit)  # other routes ignore bodies, but none may be large
