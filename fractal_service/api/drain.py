"""Lame duck: after SIGTERM the API keeps serving for as long as requests still reach it.

Why: a standby (or any stop) of the node holding the service address stops its API while the
address is still being handed over. Pacemaker cannot order the API's stop after the address's
migration: it drops an Optional "stop the address, then the API" ordering when the address
migrates (pacemaker's graph.c, "optional but stop in migration"), and a Mandatory one would
restart the address with every API instance. So the old API must outlive the handover by
itself: it serves until no request has arrived for `drain_quiet` seconds (the address, and
with it the traffic, has moved on), or `drain_max` seconds after SIGTERM at most, then stops
as before (in-flight requests finish). While draining, /readyz answers 503 "draining" and
every answer closes its connection, so kept-alive clients reconnect through the address.
A node that gets no traffic (not the address's) stops after `drain_quiet`.
"""

from __future__ import annotations

import time

_since: float | None = None  # monotonic time of SIGTERM; None = serving normally


def begin(now: float | None = None) -> None:
    global _since
    if _since is None:
        _since = time.monotonic() if now is None else now


def draining() -> bool:
    return _since is not None


def over(last_arrival: float, quiet: float, longest: float, now: float | None = None) -> bool:
    """Whether the lame duck ends now: quiet since the later of SIGTERM and the last request's
    arrival, or draining for `longest` seconds already."""
    if _since is None:
        return False
    now = time.monotonic() if now is None else now
    return now - max(_since, last_arrival) >= quiet or now - _since >= longest
