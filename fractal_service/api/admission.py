"""Request deadlines, and admission for store-bound requests: some request threads always stay
free of the store.

Views that wait on the store carry the `store_bound` mark (every route under /v1/fractals) or
`work_path` (every route under /v1/jobs); the mark, not the blueprint a route sits in,
decides, and the OpenAPI document lists the answers admission gives (503, 504) from the same
mark. When the store slows down
(Object Storage or Keystone under load, a takeover's cold caches), such requests pile up until
every request thread waits in a store call; /healthz then queues behind them, the agent's
monitor times out and Pacemaker restarts a healthy API — again and again, until it is banned.
So store-bound requests take a slot first, without waiting: when all slots are busy the
answer is 503 with Retry-After at once (clients and workers back off and retry), and the
spare threads keep answering /healthz, /readyz and /metrics.

Creations and reads are shed before the workers: a share of the slots (WORK_SHARE) is kept for
the job protocol (`work_path` views: claims, heartbeats, results). Sharing every slot, a client
load on a slow store filled them and the workers' claims were shed with the creations, backing
off up to 10 s each time: on the lab at 2 submissions/s, hundreds of accepted fractals were
still unclaimed minutes after the load. Work done is what makes room; new work can wait.

A slot is held for a bounded time. Every request has a deadline (`request_deadline`, shortened
by the client's own X-Request-Timeout), and every store call inside it is bounded by what is
left (store/deadline.py), so a request past it ends with 504 and frees its slot: a client that
gave up and retried cannot leave its abandoned request holding a slot, and a request from a
client already gone takes none. The slot is taken after the body has arrived (api/bodies.py
reads it first; api/worker_class.py hands over only complete requests). A slot held well past
its deadline means the process is wedged somewhere no timeout reaches: /healthz reports that.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from flask import Flask, Response, current_app, g, request

from fractal_service.api.errors import error_response
from fractal_service.api.metrics import ApiMetrics
from fractal_service.store import deadline
from fractal_service.store.deadline import DeadlineExceeded

RETRY_AFTER_SECONDS = 1
# The share of the store slots that only the workers' job protocol may take (see above).
WORK_SHARE = 0.25
TIMEOUT_HEADER = "X-Request-Timeout"
# The server's answer must reach the client before its own timeout: this much earlier.
CLIENT_MARGIN = 1.0
_MARK = "fractal_store_bound"
_WORK = "work"
View = TypeVar("View", bound=Callable)


def store_bound(view: View) -> View:
    """Marks a view that calls the store: it takes a store slot or is shed with 503."""
    setattr(view, _MARK, True)
    return view


def work_path(view: View) -> View:
    """Marks a view of the workers' job protocol: store-bound, and it may take the slots kept
    for the workers."""
    setattr(view, _MARK, _WORK)
    return view


def is_store_bound(view: Callable | None) -> bool:
    return bool(getattr(view, _MARK, False))


def is_work_path(view: Callable | None) -> bool:
    return getattr(view, _MARK, False) == _WORK


def kept_for_work(slots: int) -> int:
    """Of `slots`, those only work_path views may take: WORK_SHARE of them, at least one, and
    always one left for the others."""
    return max(0, min(max(1, int(slots * WORK_SHARE)), slots - 1))


class StoreAdmission:
    def __init__(self, slots: int, metrics: ApiMetrics, request_deadline: float) -> None:
        if slots < 1:
            raise ValueError("store slots must be at least 1")
        self.slots = slots
        self.request_deadline = request_deadline
        self._busy = 0  # slots taken; `slots` may change while serving (resize)
        self._holders: dict[int, float] = {}  # thread id -> its request's deadline (monotonic)
        self._lock = threading.Lock()
        self._metrics = metrics
        metrics.store_overdue.set_function(lambda: self.overdue(0.0))
        metrics.store_slots.set_function(lambda: self.slots)

    def install(self, app: Flask) -> None:
        app.before_request(self._enter)
        app.teardown_request(self._leave)
        app.register_error_handler(DeadlineExceeded, self._deadline_exceeded)
        app.extensions["fractal_admission"] = self

    def seconds_for(self, header: str | None) -> float:
        """This request's deadline: the setting, or less if the client waits less."""
        try:
            client = float(header) if header else None
        except ValueError:
            client = None
        if client is None or client != client or client <= 0:  # absent, junk or NaN
            return self.request_deadline
        return max(min(self.request_deadline, client - CLIENT_MARGIN), deadline.MINIMUM * 2)

    def overdue(self, grace: float) -> int:
        """Slots held by requests more than `grace` seconds past their deadline."""
        limit = time.monotonic() - grace
        with self._lock:
            return sum(at < limit for at in self._holders.values())

    def _enter(self) -> Response | None:
        seconds = self.seconds_for(request.headers.get(TIMEOUT_HEADER))
        deadline.start(seconds)
        view = current_app.view_functions.get(request.endpoint or "")
        if not is_store_bound(view):
            return None
        if _client_gone():
            # Nobody will read the answer: do not spend a slot on it.
            response, status = error_response(499, "client closed the connection")
            response.status_code = status
            return response
        if not self._take(work=is_work_path(view)):
            self._metrics.shed.inc()
            response, status = error_response(503, "storage busy, retry later")
            response.status_code = status
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response
        g.store_slot = True
        with self._lock:
            self._holders[threading.get_ident()] = time.monotonic() + seconds
        self._metrics.store_in_flight.inc()
        return None

    def _leave(self, _exc: BaseException | None) -> None:
        # Teardown runs however the request ended (an exception, a client gone), so a slot is
        # never lost.
        deadline.end()
        if g.pop("store_slot", False):
            with self._lock:
                self._holders.pop(threading.get_ident(), None)
            self._metrics.store_in_flight.dec()
            with self._lock:
                self._busy -= 1

    def _take(self, work: bool) -> bool:
        with self._lock:
            if self._busy >= (self.slots if work else self.slots - kept_for_work(self.slots)):
                return False
            self._busy += 1
            return True

    def resize(self, slots: int) -> None:
        """A lowered count takes effect as busy slots are given back."""
        with self._lock:
            self.slots = slots

    def _deadline_exceeded(self, exc: DeadlineExceeded):
        self._metrics.deadline_exceeded.inc()
        response, status = error_response(504, "the store did not answer within the request's "
                                               "deadline, retry later")
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response, status


def _client_gone() -> bool:
    """True if the client closed its side (an orderly EOF waits to be read on the socket)."""
    sock = request.environ.get("gunicorn.socket")
    if not isinstance(sock, socket.socket):
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False  # connected, nothing more sent: the usual case
    except OSError:
        return True  # reset
