"""Admission for store-bound requests: some request threads always stay free of the store.

Every route under /v1/fractals and /v1/jobs waits on the store. When the store slows down
(Object Storage or Keystone under load, a takeover's cold caches), such requests pile up until
every request thread waits in a store call; /healthz then queues behind them, the agent's
monitor times out and Pacemaker restarts a healthy API — again and again, until it is banned.
So store-bound requests take a slot first, without waiting: when all slots are busy the
answer is 503 with Retry-After at once (clients and workers back off and retry), and the
spare threads keep answering /healthz, /readyz and /metrics.
"""

from __future__ import annotations

import threading

from flask import Flask, Response, g, request
from prometheus_client import Counter, Gauge

from fractal_service.api.errors import error_response

RETRY_AFTER_SECONDS = 1


class StoreAdmission:
    def __init__(self, slots: int, blueprints: set[str], shed: Counter,
                 in_flight: Gauge) -> None:
        if slots < 1:
            raise ValueError("store slots must be at least 1")
        self.slots = slots
        self.blueprints = blueprints
        self._free = threading.BoundedSemaphore(slots)
        self._shed = shed
        self._in_flight = in_flight

    def install(self, app: Flask) -> None:
        app.before_request(self._enter)
        app.teardown_request(self._leave)

    def _enter(self) -> Response | None:
        if request.blueprint not in self.blueprints:
            return None
        if not self._free.acquire(blocking=False):
            self._shed.inc()
            response, status = error_response(503, "storage busy, retry later")
            response.status_code = status
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response
        g.store_slot = True
        self._in_flight.inc()
        return None

    def _leave(self, _exc: BaseException | None) -> None:
        # Teardown runs however the request ended (an exception, a client gone), so a slot is
        # never lost.
        if g.pop("store_slot", False):
            self._in_flight.dec()
            self._free.release()
