"""Continuous client load through the floating IP for the whole campaign, and its ledger.

Submissions leave at a fixed rate (2/s), each in a thread of its own: a slow or unanswered
one never holds back the next, as it would with a creator that waits for each answer (a
campaign's outages and 3-4 s keyed creations on a loaded host brought such a client down to
0.66/s). Each carries an Idempotency-Key and is retried with it, backing off, until the API
answers (as the CLI and the workers do), and a marker of its own (its `xa`), so the store can
be counted per submission at the end. Reads list and fetch fractals; images of
done fractals are downloaded and checked to be PNG. Every answer records the node that gave it
(X-Fractal-Node).

The rate is an offer, not a promise: while MAX_BACKLOG accepted fractals are not done yet, no
new one is sent (the time held is reported). A 100-fault run at 2/s on this host built a
backlog of 3398 (workers ~1/s through faults), which no drain bound can clear: that is a
capacity test, and the campaign is about faults. The backlog is known from listings that start
at the oldest fractal not yet seen done (uuids order by creation time), not from the whole
store."""

from __future__ import annotations

import itertools
import json
import random
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from cluster.http_client import Answer
from cluster.lab.lab import Lab
from fractal_service.worker.backoff import Backoff

PNG = b"\x89PNG\r\n\x1a\n"
NODE_HEADER = "x-fractal-node"


@dataclass
class Ledger:
    accepted: dict[str, float] = field(default_factory=dict)  # uuid -> its submission's marker
    markers: list[float] = field(default_factory=list)  # every submission sent
    # (epoch, node that answered or "", ok) of every request, for the outage and node checks
    answers: list[tuple[float, str, bool]] = field(default_factory=list)
    counts: dict[str, list[int]] = field(default_factory=dict)  # what -> [ok, failed]
    rejected: list[str] = field(default_factory=list)  # a creation refused for good (4xx)
    bad_images: list[str] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)  # an accepted fractal the API denied
    failures: Counter = field(default_factory=Counter)  # "create 503" -> how many
    seconds: dict[str, list[float]] = field(default_factory=dict)  # what -> answered requests'
    most_in_flight: int = 0  # submissions waiting for their answer at once, at most
    # Accepted fractals not done at the first look after the load (its in-flight submissions
    # answered), and seconds from the load's stop (right after the last fault) until none was.
    backlog: int | None = None
    drained_s: float | None = None
    held_s: float = 0.0  # submissions held back by a full backlog, in all

    def count(self, what: str, ok: bool, took: float | None = None) -> None:
        self.counts.setdefault(what, [0, 0])[0 if ok else 1] += 1
        if ok and took is not None:
            self.seconds.setdefault(what, []).append(took)

    def latency(self, what: str) -> tuple[float, float] | None:
        """(p50, p95) of the answered requests of a kind, in seconds."""
        took = sorted(self.seconds.get(what, []))
        if not took:
            return None
        return statistics.median(took), took[min(len(took) - 1, int(len(took) * 0.95))]


class Load:
    """Submissions at a fixed rate (2/s), a reader and a downloader, until stopped."""

    MAX_IN_FLIGHT = 64  # submissions awaiting an answer: beyond, the schedule waits (reported)
    MAX_BACKLOG = 100  # accepted, not done: beyond, the schedule waits (reported)
    TRACK_EVERY_S = 5.0  # how often the backlog is looked at
    STOP_GRACE_S = 30.0  # after stop(), in-flight submissions still get this long to be answered

    def __init__(self, lab: Lab, submit_every: float = 0.5, read_every: float = 0.5,
                 max_backlog: int = MAX_BACKLOG, track_every: float = TRACK_EVERY_S) -> None:
        self.lab = lab
        self.ledger = Ledger()
        self.submit_every = submit_every
        self.read_every = read_every
        self.max_backlog = max_backlog
        self.track_every = track_every
        self.backlog = Backlog()
        self._run = random.randrange(1, 10**5)
        self._numbers = itertools.count()
        self._done: list[str] = []  # uuids seen done: what the downloader fetches
        self._stop = threading.Event()  # no new submission, no more reads
        self._give_up = threading.Event()  # in-flight submissions stop retrying
        self._in_flight = threading.BoundedSemaphore(self.MAX_IN_FLIGHT)
        self._submissions: list[threading.Thread] = []
        self.started = self.stopped = 0.0  # time.monotonic() of start() and stop()
        self._threads = [threading.Thread(target=loop, daemon=True) for loop in
                         (self._schedule, self._read, self._download, self._track)]

    def start(self) -> Load:
        self.started = time.monotonic()
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """No new submission; those in flight are retried until answered (the cluster is
        healed by now), for STOP_GRACE_S at most."""
        self.stopped = time.monotonic()
        self._stop.set()
        for thread in self._threads:
            thread.join(30)
        deadline = time.monotonic() + self.STOP_GRACE_S
        for thread in list(self._submissions):
            thread.join(max(0.0, deadline - time.monotonic()))
        self._give_up.set()
        for thread in list(self._submissions):
            thread.join(15)

    def in_flight(self) -> int:
        return sum(t.is_alive() for t in self._submissions)

    def _call(self, what: str, method: str, path: str, body: dict | None = None,
              headers: dict[str, str] | None = None, timeout: float = 5.0):
        began = time.monotonic()
        answer = self.lab.request(method, path, body, timeout, headers)
        took = time.monotonic() - began
        ok = answer is not None and answer.status < 400
        if answer is not None and answer.status == 404:
            self.ledger.not_found.append(f"{method} {path}")
        node = answer.headers.get(NODE_HEADER, "") if answer is not None else ""
        self.ledger.answers.append((time.time(), node, ok))
        self.ledger.count(what, ok, took)
        if not ok:
            self.ledger.failures[f"{what} {_reason(answer)}"] += 1
        return answer

    def _schedule(self) -> None:
        # A fixed rate, not a pause after each answer: slow creations must not lower the load.
        due = time.monotonic()
        while True:
            due = max(due + self.submit_every, time.monotonic() - self.submit_every)
            if self._stop.wait(max(0.0, due - time.monotonic())):
                return
            held = time.monotonic()
            while self.backlog.waiting(self.ledger.accepted) >= self.max_backlog:
                if self._stop.wait(0.5):
                    return
            self.ledger.held_s += time.monotonic() - held
            while not self._in_flight.acquire(timeout=0.5):
                if self._stop.is_set():
                    return
            self._submissions = [t for t in self._submissions if t.is_alive()]
            thread = threading.Thread(target=self._submit, args=(next(self._numbers),),
                                      daemon=True)
            self._submissions.append(thread)
            self.ledger.most_in_flight = max(self.ledger.most_in_flight,
                                             len(self._submissions))
            thread.start()

    def _submit(self, n: int) -> None:
        try:
            marker = -2.2 - (self._run * 10**4 + n) * 1e-12
            self.ledger.markers.append(marker)
            body = {"width": 48, "height": 48, "iterations": 64, "xa": marker}
            key = {"Idempotency-Key": f"campaign-{self._run}-{n}"}
            backoff = Backoff(maximum=2.0)
            while not self._give_up.is_set():
                # 10 s, as the CLI and the workers wait (a keyed creation is a verified write:
                # seconds on a loaded host's Swift)
                answer = self._call("create", "POST", "/v1/fractals", body, key, timeout=10)
                if answer is not None and answer.status in (200, 201):
                    self.ledger.accepted[self._json(answer)["uuid"]] = marker
                    return
                if answer is not None and 400 <= answer.status < 500 and answer.status != 429:
                    self.ledger.rejected.append(f"{answer.status} {answer.body[:200]!r}")
                    return
                self._give_up.wait(backoff.next_delay())
        finally:
            self._in_flight.release()

    def _read(self) -> None:
        while not self._stop.wait(self.read_every):
            self._call("list", "GET", "/v1/fractals?limit=5&order=desc")
            if not self.ledger.accepted:
                continue
            uuid = random.choice(list(self.ledger.accepted))
            answer = self._call("get", "GET", f"/v1/fractals/{uuid}")
            if answer is not None and answer.status == 200 and \
                    self._json(answer).get("state") == "done":
                self._done.append(uuid)

    def _track(self) -> None:
        while not self._stop.wait(self.track_every):
            self.backlog.look(lambda path: self._call("track", "GET", path, timeout=10),
                              list(self.ledger.accepted))

    def _download(self) -> None:
        while not self._stop.wait(self.read_every):
            if not self._done:
                continue
            uuid = random.choice(self._done)
            answer = self._call("image", "GET", f"/v1/fractals/{uuid}/image")
            if answer is not None and answer.status == 200 and not answer.body.startswith(PNG):
                self.ledger.bad_images.append(uuid)

    @staticmethod
    def _json(answer) -> dict:
        return json.loads(answer.body)


class Backlog:
    """The load's accepted fractals not seen done yet. A look lists from just before the
    oldest of them onwards (uuids order by creation time), a few pages at most: its cost
    follows the backlog, not the store."""

    PAGES = 5  # per look; what lies beyond is looked at next time

    def __init__(self) -> None:
        self.done: set[str] = set()
        self.floor = ""  # a listed uuid older than every accepted one not seen done

    def waiting(self, accepted: Iterable[str]) -> int:
        return sum(u not in self.done for u in list(accepted))

    def look(self, get: Callable[[str], Answer | None], accepted: list[str]) -> None:
        waiting = sorted(u for u in accepted if u not in self.done)
        marker, listed = self.floor, []
        for _ in range(self.PAGES if waiting else 0):
            answer = get("/v1/fractals?limit=1000&order=asc"
                         + (f"&marker={marker}" if marker else ""))
            if answer is None or answer.status != 200:
                return  # no answer: the count stays as it was
            page = json.loads(answer.body)
            for fractal in page["fractals"]:
                listed.append(fractal["uuid"])
                if fractal.get("state") == "done":
                    self.done.add(fractal["uuid"])
            marker = page.get("next_marker")
            if not marker or marker >= waiting[-1]:
                break
        oldest = next((u for u in waiting if u not in self.done), None)
        older = [u for u in listed if oldest is None or u < oldest]
        if older:
            self.floor = max(self.floor, older[-1])


def _reason(answer) -> str:
    """'503 storage busy, retry later', or 'no answer' (nothing within the client's timeout)."""
    if answer is None:
        return "no answer"
    try:
        return f"{answer.status} {json.loads(answer.body)['error']['message'][:40]}"
    except (ValueError, KeyError, TypeError):
        return str(answer.status)
