"""/v1/fractals: what users create, list, look at and delete."""

from __future__ import annotations

import hashlib
import json

from flask import Blueprint, Response, jsonify, request, url_for

from fractal_service.api.admission import store_bound
from fractal_service.api.deps import int_arg, json_body, now, settings, store
from fractal_service.api.errors import ApiError
from fractal_service.params import FractalParams
from fractal_service.records import Fractal, State, new_uuid
from fractal_service.store import KeyReused

bp = Blueprint("fractals", __name__, url_prefix="/v1/fractals")
MAX_PAGE = 1000
IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_KEY = 255


@bp.post("")
@store_bound
def create():
    """With an Idempotency-Key, a retry (through any API instance) gets the fractal its first
    attempt created: 201 the first time, 200 after; the same key with other parameters, 422."""
    params = FractalParams.from_dict(json_body(), settings().limits)
    created = now()
    fractal = Fractal(uuid=new_uuid(created), params=params, created_at=created)
    key = _idempotency_key()
    fresh = True
    if key is None:
        store().add(fractal)
    else:
        try:
            fractal, fresh = store().add_once(key, params_digest(params), fractal)
        except KeyReused:
            raise ApiError(422, "Idempotency-Key already used with other parameters",
                           IDEMPOTENCY_HEADER) from None
    response = jsonify(fractal.to_json())
    response.status_code = 201 if fresh else 200
    response.headers["Location"] = url_for("fractals.show", uuid=fractal.uuid)
    return response


def params_digest(params: FractalParams) -> str:
    """Of what the parameters mean, not how they were written (key order, spacing, 1 vs 1.0)."""
    canonical = json.dumps(params.to_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _idempotency_key() -> str | None:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_KEY or not key.isprintable():
        raise ApiError(400, f"{IDEMPOTENCY_HEADER} must be 1 to {MAX_KEY} printable characters",
                       IDEMPOTENCY_HEADER)
    return key


@bp.get("")
@store_bound
def index():
    limit = int_arg("limit", 50, 1, MAX_PAGE)
    state = _state_arg()
    order = request.args.get("order", "asc")
    if order not in ("asc", "desc"):
        raise ApiError(400, "order must be asc or desc", "order")
    marker = request.args.get("marker") or None
    page = store().list(limit=limit, marker=marker, state=state, descending=order == "desc")
    return jsonify(fractals=[f.to_json() for f in page.items], next_marker=page.next_marker)


@bp.get("/<uuid>")
@store_bound
def show(uuid: str):
    return jsonify(store().get(uuid).to_json())


@bp.get("/<uuid>/image")
@store_bound
def image(uuid: str):
    fractal = store().get(uuid)
    if fractal.state is not State.DONE:
        raise ApiError(409, f"fractal {uuid} is {fractal.state.value}, not done", "state")
    etag = fractal.checksum or ""
    if request.if_none_match.contains(etag):
        return Response(status=304, headers={"ETag": f'"{etag}"'})
    response = Response(store().image(uuid), mimetype="image/png")
    response.set_etag(etag)
    # The image of a uuid never changes once done: let browsers and proxies keep it.
    response.cache_control.public = True
    response.cache_control.max_age = 86400
    return response


@bp.delete("/<uuid>")
@store_bound
def delete(uuid: str):
    store().delete(uuid)
    return Response(status=204)


def _state_arg() -> State | None:
    raw = request.args.get("state")
    if raw is None:
        return None
    try:
        return State(raw)
    except ValueError:
        allowed = ", ".join(s.value for s in State)
        raise ApiError(400, f"state must be one of {allowed}", "state") from None
