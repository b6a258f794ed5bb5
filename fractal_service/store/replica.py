"""How far behind the other region's copy of the store is: the replication lag, the RPO now.

The container is synced with the same container in a peer region (Swift container sync,
`peer=` in the store URL). At each measurement this side writes a beacon object,
`sync/<own region>`, whose metadata holds when it was written, and reads the beacon the peer
holds: container sync copies it with everything else, so its write time is that of the newest
of this region's writes the peer is known to have. The age of that (now - written) bounds what
a loss of this region would lose; it includes the time between two measurements (one scrape
interval), since a beacon is written only when measured. +Inf: the peer holds no beacon yet
(never synced, or the container not paired).
"""

from __future__ import annotations

import math
import time
from typing import Any
from urllib.parse import quote

from fractal_service.store.base import StoreError
from fractal_service.store.shared import SharedCall

BEACON = "sync/"
WRITTEN = "X-Object-Meta-Written"
# Measurements shared by concurrent scrapes and reused this long (2 requests each).
TTL = 5.0


class Replica:
    def __init__(self, local: Any, peer: Any, container: str, region: str, peer_region: str,
                 timeout: float) -> None:
        """`local`, `peer`: keystoneauth adapters for each region's object-store endpoint."""
        self.local, self.remote = local, peer
        self.path = f"/{container}/{quote(BEACON + region)}"
        self.peer_region = peer_region
        self.timeout = timeout
        self._shared = SharedCall(self._measure, ttl=TTL)

    def age(self) -> float:
        """Seconds; StoreError if either region does not answer."""
        return self._shared()

    def _measure(self) -> float:
        seen = self._call(self.remote, "HEAD", self.peer_region, ok=(200, 404))
        now = time.time()
        written = seen.headers.get(WRITTEN) if seen.status_code == 200 else None
        self._call(self.local, "PUT", "this region", ok=(201,),
                   headers={WRITTEN: repr(now), "Content-Type": "text/plain"}, data=b"")
        try:
            return max(0.0, now - float(written)) if written else math.inf
        except ValueError:
            return math.inf  # not ours: as if absent

    def _call(self, http: Any, method: str, where: str, ok: tuple[int, ...], **kwargs: Any) -> Any:
        try:
            response = http.request(self.path, method, timeout=self.timeout, raise_exc=False,
                                    **kwargs)
        except Exception as exc:  # keystoneauth's connect/timeout/auth errors
            raise StoreError(f"replica beacon in {where}: {exc}") from exc
        if response.status_code not in ok:
            raise StoreError(f"replica beacon: {method} in {where} answered "
                             f"{response.status_code}")
        return response
