"""Health endpoints for the HA agents (cheap, never blocked by work) and /metrics.

Health means service, and a restart is the cure only for what a restart cures:

* /healthz (the agent's depth 0) fails only when this process cannot serve: no answer at all
  (every thread busy or hung), or 503 "wedged" when store slots are held by requests far past
  their deadline (api/admission.py) while the store itself answers a probe: something in this
  process waits where no timeout reaches, and only a new process frees those slots. If the
  probe fails too, the store is the cause: 200 "degraded", no restart.
* /readyz and /v1/selftest report the store: 503 with `"field": "store"` when it is slow or
  failing. The agent logs that and does not fail its monitor (a new API would meet the same
  store); fractal_store_up, the shed and deadline counters and the alerts tell the operator.
"""

from __future__ import annotations

import os
import threading
import time

from flask import Blueprint, current_app, jsonify

from fractal_service.api import drain
from fractal_service.api.deps import settings, store
from fractal_service.api.errors import error_response
from fractal_service.params import FractalParams
from fractal_service.store import Store, StoreError, deadline

bp = Blueprint("health", __name__)
SELFTEST = FractalParams(width=16, height=16, iterations=32)
# /healthz's store probe, asked only when slots are overdue: within the agent's 2 s timeout.
HEALTH_PROBE_SECONDS = 1.0
# /readyz's and the self-test's: answered within the agent's ready_timeout (10 s) however slow
# the store, so that a late answer means this process, not the store.
READY_PROBE_SECONDS = 5.0
STORE_FIELD = "store"  # the agent reads a 503 with this field as "the store, not me"


@bp.get("/healthz")
def healthz():
    # A request may overrun its deadline by one store call's clean-up; a slot held a whole
    # deadline longer is held by something no timeout reaches.
    stuck = current_app.extensions["fractal_admission"].overdue(settings().request_deadline)
    if not stuck:
        # `server`: which server answered (its gunicorn master), for the agent's start: the
        # port is shared with a killed server's worker until the new one answers.
        return jsonify(status="ok", server=os.getppid())
    trouble = _store_trouble(store())
    if trouble:
        # The store is slow or down: the stuck requests wait on it, and a restart cures nothing.
        return jsonify(status="degraded", overdue=stuck, store=trouble)
    return error_response(503, f"wedged: {stuck} store slots held past their request deadline "
                               "while the store answers")


def _store_trouble(target: Store) -> str | None:
    """None if the store answers a probe within HEALTH_PROBE_SECONDS, else why not.

    In a thread of its own, waited for at most that long: a call no deadline reaches (a
    Keystone login has only its session's timeout) must not hold /healthz past the monitor's
    timeout, and a probe that cannot finish in time counts as the store's slowness."""
    outcome: list[str | None] = []

    def probe() -> None:
        try:
            with deadline.bounded(HEALTH_PROBE_SECONDS):
                target.probe()
            outcome.append(None)
        except StoreError as exc:
            outcome.append(str(exc))

    thread = threading.Thread(target=probe, name="healthz-probe", daemon=True)
    thread.start()
    thread.join(HEALTH_PROBE_SECONDS + 0.1)
    return outcome[0] if outcome else f"no answer to a probe within {HEALTH_PROBE_SECONDS:g} s"


@bp.get("/readyz")
def readyz():
    if drain.draining():  # stopping: serves what still reaches it, takes nothing new
        return error_response(503, "draining: this API is stopping")
    try:
        with deadline.bounded(min(settings().request_deadline, READY_PROBE_SECONDS)):
            store().probe()
    except StoreError as exc:
        return error_response(503, f"store unreachable or slow: {exc}", STORE_FIELD)
    return jsonify(status="ready", **_settings_detail())


def _settings_detail() -> dict:
    """Where the settings stand, when they come from etcd: etcd down is not unready (the
    last good settings serve), but the operator sees it here and in the metrics."""
    source = current_app.extensions.get("fractal_settings_source")
    return {"settings": source.status()} if source is not None else {}


@bp.post("/v1/selftest")
def selftest():
    """Deep check (OCF depth 20): render a tiny fractal and round-trip a write to the store."""
    from fractal_service.compute.render import render_png  # NumPy: only for the deep check

    started = time.perf_counter()
    png = render_png(SELFTEST)
    try:
        with deadline.bounded(min(settings().request_deadline, READY_PROBE_SECONDS)):
            store().probe(deep=True)
    except StoreError as exc:
        return error_response(503, f"store write failed: {exc}", STORE_FIELD)
    return jsonify(ok=True, png_bytes=len(png), seconds=round(time.perf_counter() - started, 4))


@bp.get("/metrics")
def metrics():
    return current_app.config["FRACTAL_METRICS"].exposition()
