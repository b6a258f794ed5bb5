"""/v1/jobs: the pull-based work queue workers drive over HTTP.

claim → (heartbeat …) → PUT result, or fail, or release. A lease that runs out puts the job
back, so a worker that dies mid-job costs a recomputation, never a fractal.
"""

from __future__ import annotations

import hashlib
import re

from flask import Blueprint, Response, current_app, jsonify, request

from fractal_service import lease
from fractal_service.api import bodies, results
from fractal_service.api.admission import work_path
from fractal_service.api.deps import json_body, now, settings, store
from fractal_service.api.errors import ApiError
from fractal_service.records import Lease, Result

bp = Blueprint("jobs", __name__, url_prefix="/v1/jobs")
CLAIM_TOKEN = re.compile(lease.TOKEN_PATTERN)


@bp.post("/claim")
@work_path
def claim():
    body = _object(json_body())
    worker = _text(body, "worker", required=True)
    lease = store().claim(worker, _lease_seconds(body), now(), _claim_token(body))
    if lease is None:
        return Response(status=204)
    return jsonify(job=_lease_json(lease))


@bp.post("/<uuid>/heartbeat")
@work_path
def heartbeat(uuid: str):
    body = _object(json_body())
    lease = store().heartbeat(uuid, _text(body, "lease_token", required=True),
                              _lease_seconds(body), now())
    return jsonify(job=_lease_json(lease))


@bp.post("/<uuid>/release")
@work_path
def release(uuid: str):
    body = _object(json_body())
    token = _text(body, "lease_token", required=True)
    store().get(uuid)  # NotFound → 404, as heartbeat and fail answer for an unknown job
    store().release(uuid, token)
    return Response(status=204)


@bp.post("/<uuid>/fail")
@work_path
def fail(uuid: str):
    body = _object(json_body())
    reason = _text(body, "reason", required=True)[:500]
    fractal = store().fail(uuid, _text(body, "lease_token", required=True), reason, now())
    return jsonify(fractal.to_json())


@bp.put("/<uuid>/result")
@work_path
def result(uuid: str):
    bodies.require_type("image/png")
    token = results.lease_token()
    fractal = store().get(uuid)
    png = bodies.read(results.size_limit(fractal.params, settings().max_upload_bytes))
    checksum = hashlib.sha256(png).hexdigest()
    claimed = request.headers.get("X-Checksum", "")
    if claimed != checksum:
        raise ApiError(400, "X-Checksum does not match the body's sha256", "X-Checksum")
    try:
        duration = float(request.headers.get("X-Duration", ""))
    except ValueError:
        raise ApiError(400, "X-Duration must be a number of seconds", "X-Duration") from None
    if not 0 <= duration < 86400:
        raise ApiError(400, "X-Duration out of range", "X-Duration")
    worker = request.headers.get("X-Worker", "").strip()[:255]
    if not worker:
        raise ApiError(400, "X-Worker is required", "X-Worker")
    results.check_png(png, fractal.params)
    # The token must be the current claim's (LeaseLost: 409), checked in the completion's own
    # compare-and-swap: no claim can slip in between check and write, and no heartbeat (a
    # read and a write of the store) is needed first. A job already done answers stored=false
    # whoever asks: nothing is written.
    done = store().complete(uuid, Result(png, checksum, duration, worker), now(), token)
    metrics = current_app.config["FRACTAL_METRICS"]
    metrics.results.labels(str(done.stored).lower()).inc()
    if done.stored:
        metrics.compute.observe(duration)
        metrics.pixels.inc(done.fractal.params.pixels)
    response = jsonify(stored=done.stored, fractal=done.fractal.to_json())
    response.status_code = 201 if done.stored else 200
    return response


def _object(body: object) -> dict:
    if not isinstance(body, dict):
        raise ApiError(400, "body must be a JSON object", "body")
    return body


def _text(body: dict, name: str, *, required: bool = False) -> str:
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip() or len(value) > 255:
        raise ApiError(400, f"{name} must be a non-empty string of at most 255 characters", name)
    return value.strip()


def _claim_token(body: dict) -> str | None:
    """The claimer's own lease token, if it sends one (see Store.claim)."""
    if "lease_token" not in body:
        return None
    value = body["lease_token"]
    if not isinstance(value, str) or not CLAIM_TOKEN.fullmatch(value):
        raise ApiError(400, "lease_token must be 16 to 128 letters, digits, '-' or '_'",
                       "lease_token")
    return value


def _lease_seconds(body: dict) -> float:
    value = body.get("lease_seconds", settings().lease_seconds)
    low, high = lease.MIN_SECONDS, lease.MAX_SECONDS
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ApiError(400, f"lease_seconds must be a number between {low} and {high}",
                       "lease_seconds")
    return float(value)


def _lease_json(lease: Lease) -> dict:
    return {
        **lease.fractal.to_json(),
        "lease_token": lease.token,
        "lease_expires_in": round(lease.expires_at - now(), 3),
    }
