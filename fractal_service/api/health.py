"""Health endpoints for the HA agents (cheap, never blocked by work) and /metrics."""

from __future__ import annotations

import time

from flask import Blueprint, current_app, jsonify

from fractal_service.api.deps import store
from fractal_service.api.errors import error_response
from fractal_service.params import FractalParams
from fractal_service.store import StoreError

bp = Blueprint("health", __name__)
SELFTEST = FractalParams(width=16, height=16, iterations=32)


@bp.get("/healthz")
def healthz():
    # Liveness only: answering at all proves the server process and a request thread work.
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    try:
        store().probe()
    except StoreError as exc:
        return error_response(503, f"store unreachable: {exc}")
    return jsonify(status="ready")


@bp.post("/v1/selftest")
def selftest():
    """Deep check (OCF depth 20): render a tiny fractal and round-trip a write to the store."""
    from fractal_service.compute.render import render_png  # NumPy: only for the deep check

    started = time.perf_counter()
    png = render_png(SELFTEST)
    try:
        store().probe(deep=True)
    except StoreError as exc:
        return error_response(503, f"store write failed: {exc}")
    return jsonify(ok=True, png_bytes=len(png), seconds=round(time.perf_counter() - started, 4))


@bp.get("/metrics")
def metrics():
    return current_app.config["FRACTAL_METRICS"].exposition()
