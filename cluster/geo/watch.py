"""Both sites of the two-site lab watched from a fault on: which one serves.

Each round asks, at once: each site's floating IP from the world's client (/healthz), each
site's own Pacemaker where its address runs (the cut-off or crashed site asked itself: a
site the others cannot see may still serve), and the name. A round where both sites serve,
by either measure, is a split brain (`overlaps`).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from cluster.geo.sites import SITES, GeoLab


@dataclass(frozen=True)
class Round:
    at: float  # seconds since the watch began
    answers: dict[str, bool]  # site -> its floating IP answered
    running: dict[str, bool]  # site -> its own Pacemaker runs the address there
    name: tuple[str, ...]  # what the name resolves to
    by_name: bool  # the API answered by its name

    def serving(self, site: str) -> bool:
        return self.answers[site] or self.running[site]


@dataclass
class SiteWatch:
    geo: GeoLab
    interval: float = 0.2
    rounds: list[Round] = field(default_factory=list)
    began: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._pool = ThreadPoolExecutor(2 * len(SITES) + 1)

    def __enter__(self) -> SiteWatch:
        self.began = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)
        self._pool.shutdown()

    def _by_name(self) -> bool:
        answer = self.geo.request("GET", "/healthz", timeout=1.0, anonymous=True)
        return answer is not None and answer.status == 200

    def _run(self) -> None:
        while not self._stop.is_set():
            at = time.monotonic() - self.began
            answers = {s: self._pool.submit(self.geo.serving, s) for s in SITES}
            running = {s: self._pool.submit(self.geo.runs_address, s) for s in SITES}
            by_name = self._pool.submit(self._by_name)
            name = tuple(self.geo.name_points_at())
            self.rounds.append(Round(at, {s: f.result() for s, f in answers.items()},
                                     {s: f.result() for s, f in running.items()}, name,
                                     by_name.result()))
            self._stop.wait(self.interval)

    # -- what was seen -------------------------------------------------------------------
    @property
    def overlaps(self) -> list[Round]:
        """Rounds in which both sites served (answered, or ran the address by their own view)."""
        return [r for r in self.rounds if all(r.serving(s) for s in SITES)]

    def until(self, check, timeout: float) -> float:
        """Seconds from the watch's start to the first round (from now on) passing `check`."""
        seen = len(self.rounds)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for r in self.rounds[seen:]:
                if check(r):
                    return r.at
            seen = len(self.rounds)
            time.sleep(self.interval / 2)
        last = self.rounds[-1] if self.rounds else None
        raise TimeoutError(f"not seen within {timeout:.0f} s; last round {last}")

    def answered_by_name_from(self, site: str, timeout: float) -> float:
        """Seconds until the name points at `site` alone and the API answers by it."""
        address = self.geo.sites[site].address
        return self.until(lambda r: r.name == (address,) and r.by_name, timeout)

    def gaps_by_name(self) -> list[float]:
        """Each stretch of rounds in which the API did not answer by its name, in seconds."""
        gaps, since = [], None
        for r in self.rounds:
            if not r.by_name and since is None:
                since = r.at
            elif r.by_name and since is not None:
                gaps.append(r.at - since)
                since = None
        if since is not None:
            gaps.append(self.rounds[-1].at - since)
        return gaps
