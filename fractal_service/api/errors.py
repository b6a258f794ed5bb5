"""Every error leaves the API as JSON: {"error": {"status", "message", "field"?}}."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from fractal_service.params import ParamError
from fractal_service.store import LeaseLost, NotFound, StoreError

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


def error_response(status: int, message: str, field: str | None = None):
    body: dict = {"status": status, "message": message}
    if field is not None:
        body["field"] = field
    return jsonify(error=body), status


def install(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api(exc: ApiError):
        return error_response(exc.status, exc.message, exc.field)

    @app.errorhandler(ParamError)
    def _param(exc: ParamError):
        return error_response(400, exc.message, exc.field)

    @app.errorhandler(NotFound)
    def _missing(exc: NotFound):
        return error_response(404, f"no fractal {exc.args[0]}", "uuid")

    @app.errorhandler(LeaseLost)
    def _lease(exc: LeaseLost):
        return error_response(409, f"lease on {exc.args[0]} is no longer yours")

    @app.errorhandler(StoreError)
    def _store(exc: StoreError):
        log.error("store unavailable: %s", exc)
        return error_response(503, "storage unavailable, retry later")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        response, status = error_response(exc.code or 500, exc.description or exc.name)
        # werkzeug's own headers carry meaning (Allow on 405, Retry-After, ...); its
        # Content-Type (HTML) does not apply to the JSON body.
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response, status

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return error_response(500, "internal error")
