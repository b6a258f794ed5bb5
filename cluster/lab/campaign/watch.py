"""The checkers' samplers for a whole campaign: each node's API processes and Neutron's
association, each in its own thread at least twice a second, and a prober of the service
address from the client's network (GET /healthz every 0.1 s, for the outages)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from cluster.lab.campaign.checkers import AddressWatch, FipWatch
from cluster.lab.lab import SERVICE_ADDRESS, Lab
from cluster.lab.probes import Probes, http_get, http_ok

SAMPLE_EVERY = 0.25  # each checker; the issue asks for at least every 0.5 s
PROBE_EVERY = 0.1
PROBE_TIMEOUT = 1.0


class Watch:
    def __init__(self, lab: Lab, probes_log: Path) -> None:
        self.lab = lab
        self.apis = AddressWatch(lab)  # every node's view of the address (issue 17)
        self.fip = FipWatch(lab.cloud, lab.topology)
        self.probes = Probes(lab.client_netns, SERVICE_ADDRESS, lab.service.api_port,
                             probes_log, interval=PROBE_EVERY, timeout=PROBE_TIMEOUT,
                             request=http_get("/healthz", SERVICE_ADDRESS))
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._every, args=(f,), daemon=True)
                         for f in (self.apis.sample, self.fip.sample)]
        for thread in self._threads:
            thread.start()

    def _every(self, sample) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            sample()
            self._stop.wait(max(0.0, SAMPLE_EVERY - (time.monotonic() - began)))

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)
        self.probes.stop()

    def outage(self, since: float, until: float) -> float:
        rows = [(s, e, http_ok(a)) for s, e, a in self.probes.attempts(since) if s <= until]
        return outage(rows, since, until)


def outage(rows: list[tuple[float, float, bool]], since: float, until: float) -> float:
    """The longest stretch users got no answer, from `since` (the fault) to `until`: for each
    run of failed probes (started, ended, ok), from the end of the last answer before it (or
    `since`) to the answer of the first probe started after it (or `until`); 0 if no probe
    failed. A lone failure among answers is the gap it left, not the time since the fault
    (a probe lost 8.7 s into a 30-fault campaign's fault read as 8.7 s without service)."""
    longest, answered_until, run_from = 0.0, since, None
    for _started, ended, ok in sorted(rows):
        if not ok:
            if run_from is None:
                run_from = answered_until
        elif run_from is not None:
            longest = max(longest, ended - run_from)
            run_from, answered_until = None, ended
        else:
            answered_until = max(answered_until, ended)
    if run_from is not None:
        longest = max(longest, until - run_from)
    return longest
