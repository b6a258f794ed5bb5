"""What can be wrong with an endpoint, and the decisions the proxy takes per request."""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass, field

from cluster.openstack.layout import PROXIED


class FaultError(ValueError):
    """A fault specification that makes no sense (reported as HTTP 400)."""


@dataclass
class Fault:
    latency_ms: float = 0.0  # added before the request is forwarded
    error_rate: float = 0.0  # share of requests answered `error_status` instead of forwarded
    error_status: int = 503
    outage_until: float = 0.0  # wall clock: connections are reset until then
    # Errors are spread evenly, not drawn at random: rate 0.25 fails exactly 1 request in 4,
    # so a test observes precisely what it configured. `random_errors` draws each one instead:
    # a client whose every run makes the same calls (fence_openstack: a version GET, then the
    # server's) meets an even spread at the same call each time, which no retry gets past.
    random_errors: bool = False
    _credit: float = field(default=0.0, repr=False)

    @classmethod
    def parse(cls, spec: dict) -> Fault:
        unknown = set(spec) - {"latency_ms", "error_rate", "error_status", "outage_seconds",
                               "random_errors"}
        if unknown:
            raise FaultError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        try:
            latency = float(spec.get("latency_ms", 0))
            rate = float(spec.get("error_rate", 0))
            status = int(spec.get("error_status", 503))
            outage = float(spec.get("outage_seconds", 0))
        except (TypeError, ValueError) as exc:
            raise FaultError(f"fault fields must be numbers: {exc}") from None
        if not 0 <= latency <= 600_000:
            raise FaultError("latency_ms must be between 0 and 600000")
        if not 0 <= rate <= 1:
            raise FaultError("error_rate must be between 0 and 1")
        if not 500 <= status <= 599:
            raise FaultError("error_status must be a 5xx code")
        if not 0 <= outage <= 86_400:
            raise FaultError("outage_seconds must be between 0 and 86400")
        return cls(latency, rate, status, time.time() + outage if outage else 0.0,
                   bool(spec.get("random_errors", False)))

    def in_outage(self) -> bool:
        return time.time() < self.outage_until

    def next_fails(self) -> bool:
        if self.random_errors:
            return random.random() < self.error_rate
        self._credit += self.error_rate
        if self._credit >= 1 - 1e-9:
            self._credit -= 1
            return True
        return False

    def describe(self) -> dict:
        out = {k: v for k, v in asdict(self).items() if not k.startswith("_")}
        out["outage_seconds_left"] = round(max(0.0, self.outage_until - time.time()), 3)
        del out["outage_until"]
        return out


def check_service(name: str) -> str:
    if name not in PROXIED:
        raise FaultError(f"unknown service {name!r} (one of: {', '.join(PROXIED)})")
    return name
