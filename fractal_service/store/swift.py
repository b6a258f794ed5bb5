"""The Object Storage (Swift) backend: no database, several API instances, one container.

Layout. Every fractal is a short log of immutable *generations*, one object each::

    fractals/<uuid>/<gen:010d>

A generation holds the whole record in metadata headers (`X-Object-Meta-*`: parameters,
state, times, attempts, lease; what `swift stat` shows) and, once the fractal is done, the PNG
as its body: the image and its metadata are one object, written once. The same record rides
in the content type's parameters, as Swift's own SLO and symlink middlewares carry data there,
because the content type is what a container listing returns::

    application/x-fractal;state=pending;attempts=0;created=…;kind=julia;width=…;…
    application/x-fractal;state=running;…;token=…;expires=…
    image/png;state=done;…;checksum=…           (done: the body is the fractal)
    application/x-fractal;state=deleted         (a tombstone)

So the listing alone answers "list fractals" (a page is one request), finds claimable jobs
and counts states; objects are opened only for an image.

A job's current state is its highest generation. UUIDv7 ids sort by creation time, so the
listing in name order is the listing in creation order and `marker` pagination works as in
SQLite; `order=desc` is Swift's `reverse=true` listing.

Consistency model.

* Every state change (claim, heartbeat, release, fail, complete, delete) reads the current
  generation g, checks its precondition (state, lease token, expiry), and creates g+1 with
  `If-None-Match: *`. Swift refuses a second creation of the same name (412), so of two API
  instances racing from the same g exactly one wins; the loser re-reads and re-decides (the
  job was claimed by someone else → next job; the lease moved → LeaseLost; done → the upload
  is acknowledged without storing). That is a compare-and-swap built only from create-only
  writes, and it is why a job is leased to one worker at a time and a result stored once.
* A claim's write can land after its call timed out (a slow Swift; the request's deadline):
  the API answers an error, yet the job is leased. A claimer that sends its own lease token
  and sends it again finds that job in its retry's listing (the token rides in the content
  type) and gets it back, so the lease does not run out and cost the job an attempt.
* Claims through one API instance share a listing of the open jobs for a few seconds and each
  takes a different job from it (claim_queue.py): the swap from a listed generation is as
  safe as from a fresh one. A token that instance has seen before (a retry) lists afresh.
* Swift has no replace-if-unchanged: `If-Match` on PUT, POST and DELETE is ignored (checked
  against Swift 2.38: a wrong ETag still gets 201/202/204), so nothing here ever overwrites an
  object that matters. Each write carries a random writer id; a 412 on a write whose first
  attempt may have landed (a retried request) is resolved by reading the id back.
* Swift does let a deleted name be created again. Superseded generations are therefore
  deleted only when they are older than `GC_AGE` (60 s) and two newer ones exist: a writer
  that read g and is about to create g+1 would need more than 60 s between its read and its
  write to resurrect a collected name (each Swift call times out after `timeout`, 10 s). A
  deleted fractal keeps its tombstone for `TOMBSTONE_AGE` (1 h) for the same reason.
* Reads are as fresh as the container listing. Swift updates listings while the object PUT
  is answered, and only falls back to asynchronous updates when a container server is down;
  then a read may be stale, but writes stay safe: creating a generation that exists fails,
  and the loser reads the following generations by name, so a lagging listing cannot stall it.
* Lease expiry compares the API instances' clocks with each other (as SQLite on a shared disk
  does); claims tolerate instances whose clocks lag by up to `CLOCK_MARGIN` (5 min) when they
  skip the finished fractals at the head of the container.
* Swift's own limit: the object server checks `If-None-Match` when a request arrives and
  writes when its body is complete, so two creations of one name overlapping within one small
  write can both succeed (seen on Swift 2.38: 4 double claims in 60 with four concurrent
  claimers); the later timestamp wins. Claims, completions and deletes therefore read their
  writer id back once overlapping writes have landed (after as long as their own write took,
  at least 50 ms), and a loser re-reads: a delete answered 204 is not undone by a completion
  that overlapped its tombstone. Residual risk: a write slower than the writer's own; the
  service's guarantee is "computed at least once, stored once", so the cost would be a job
  rendered twice, and the stored generation is still the single one that every reader sees.
  Heartbeats, releases and fails are not read back: one that loses such a race to a
  completion leaves the job done (its own outcome is moot), and one that wins over a
  completion makes the completion's check fail, which then completes again on top of it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import itertools
import secrets
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

from fractal_service.params import FIELDS, FractalParams
from fractal_service.records import Fractal, Lease, Result, State
from fractal_service.store import deadline, swift_url
from fractal_service.store.base import (
    Completion,
    KeyReused,
    LeaseLost,
    NotFound,
    Page,
    Store,
    StoreError,
)
from fractal_service.store.claim_queue import ClaimQueue
from fractal_service.store.replica import Replica
from fractal_service.store.shared import SharedCall

PREFIX = "fractals/"
KEYS = "idempotency/"  # + sha256 of an Idempotency-Key: {digest, uuid, created} in metadata
GEN_DIGITS = 10
JOB_TYPE = "application/x-fractal"
PNG_TYPE = "image/png"
DELETED = "deleted"
META = "X-Object-Meta-"
GC_AGE = 60.0
TOMBSTONE_AGE = 3600.0
RACES = 25  # lost compare-and-swaps in a row before giving up with a 503
FULL_SCAN = 60.0  # seconds between claim scans of the whole container
# A page of a filtered listing examines at most this many fractals, and then ends early (with
# a marker to continue from): a rare state must not walk the whole container in one request.
LIST_BUDGET = 10_000
# State counts (metrics) list the whole container: reused for 30 s, or 10 times as long as
# the listing took, whichever is longer, so a scrape never takes more than a tenth of it.
COUNTS_TTL = 30.0
COUNTS_SPREAD = 10.0
# A probe running longer than this answers "slow" to the health checks that overlap it.
PROBE_SLOW = 2.0
CLOCK_MARGIN = 300.0  # seconds of clock lag between API instances that claims tolerate
# Open fractals a retried claim reads past the first claimable one, looking for the job its
# first attempt leased (jobs whose leases ran out since sort before it; a few per worker).
TOKEN_LOOKAHEAD = 200
CLAIM_BATCH = 64  # open jobs one shared listing keeps for the claims that follow it
# A transition may start from what `get` read of the fractal this recently (far below GC_AGE).
SEEN_AGE = 5.0
SEEN_MAX = 1024
TEXT_BUDGET = 1000  # bytes of one percent-encoded text field (Swift allows 4096 in all)
PARAM_TYPES: dict[str, type] = {"kind": str, **{f.name: f.type for f in FIELDS}}


@dataclass(frozen=True)
class _Entry:
    """One generation as the container listing shows it."""

    uuid: str
    gen: int
    name: str
    state: str
    expires: float | None
    modified: float
    content_type: str

    @classmethod
    def parse(cls, item: Mapping[str, Any]) -> _Entry | None:
        try:
            uuid, gen = item["name"].removeprefix(PREFIX).split("/")
            opts = _options(item["content_type"])
            expires = float(opts["expires"]) if "expires" in opts else None
            modified = datetime.fromisoformat(item["last_modified"]).replace(tzinfo=UTC)
            return cls(uuid, int(gen), item["name"], opts["state"], expires,
                       modified.timestamp(), item["content_type"])
        except (KeyError, ValueError):
            return None  # not ours (a stray object in the prefix): ignore, never crash a listing

    def record(self) -> tuple[Fractal, str | None, float | None]:
        return _decode(self.uuid, self.content_type)


@dataclass
class _Job:
    """All listed generations of one fractal; the last one is current."""

    uuid: str
    gens: list[_Entry] = field(default_factory=list)

    @property
    def current(self) -> _Entry:
        return self.gens[-1]


@dataclass(frozen=True)
class _Current:
    """A job's current generation, read in full."""

    gen: int
    fractal: Fractal
    token: str | None
    expires: float | None
    job: _Job
    body: bytes = b""


@dataclass(frozen=True)
class _Write:
    """What a transition wants to become generation g+1, and what to return if it does."""

    fractal: Fractal | None  # None: a tombstone
    value: Any
    token: str | None = None
    expires: float | None = None
    body: bytes = b""


@dataclass(frozen=True)
class _Keep:
    """The transition needs no write (already done, not ours, ...): return `value`."""

    value: Any


class SwiftStore(Store):
    def __init__(self, http: Any, container: str, *, max_attempts: int = 5,
                 timeout: float = 10.0, settle: float = 0.05,
                 replica: Replica | None = None) -> None:
        """`http` is a keystoneauth adapter for the object-store endpoint (swift_auth.client):
        it authenticates (from the node's token cache first), renews tokens and resolves the
        catalog. `replica`: the container's synced copy in another region (replica.py)."""
        if not container or "/" in container:
            raise ValueError(f"bad container name {container!r}")
        self.http = http
        self.container = container
        self.max_attempts = max_attempts
        self.timeout = timeout
        self.settle = settle
        self.replica = replica
        self.gc_age = GC_AGE
        self.tombstone_age = TOMBSTONE_AGE
        self._seen: dict[str, tuple[float, _Job]] = {}  # get's reads, for the next change
        self._open_from: str | None = None  # claims: every older fractal was finished
        self._full_scan_at = 0.0
        self._claims = ClaimQueue(self._open_batch, lambda job: job.uuid)
        self.list_budget = LIST_BUDGET
        # Store calls of health checks and metrics, shared by concurrent callers (shared.py).
        self._counts = SharedCall(self._count_all, ttl=COUNTS_TTL, spread=COUNTS_SPREAD)
        self._probes = {deep: SharedCall(lambda deep=deep: self._probe(deep), slow=PROBE_SLOW)
                        for deep in (False, True)}

    @classmethod
    def from_url(cls, url: str, *, max_attempts: int = 5,
                 token_cache: str | None = None) -> SwiftStore:
        """`swift://CLOUD/CONTAINER?region=R&config=PATH&timeout=S&settle=S`.

        CLOUD names an entry of clouds.yaml (`config`, else OS_CLIENT_CONFIG_FILE or the usual
        places; empty: OS_CLOUD). `token_cache`: this node's cached Keystone token and endpoint
        (token_cache.py): nothing here calls Keystone until Swift refuses the cached token.
        """
        target = swift_url.parse(url)
        # keystoneauth and openstacksdk's config loader cost ~0.5 s to import: only a
        # Swift-backed API pays for them.
        from fractal_service.store import swift_auth

        http, _ = swift_auth.client(target, token_cache, target.timeout)
        replica = None
        if target.peer is not None and target.region is not None:
            # The peer's login is not cached on disk: it serves only the metrics' beacon.
            peer, _ = swift_auth.client(dataclasses.replace(target, region=target.peer), None,
                                        target.timeout)
            replica = Replica(http, peer, target.container, target.region, target.peer,
                              target.timeout)
        return cls(http, target.container, max_attempts=max_attempts, timeout=target.timeout,
                   settle=target.settle, replica=replica)

    # -- HTTP ------------------------------------------------------------------------------
    def _request(self, method: str, name: str | None = None, *, ok: tuple[int, ...] = (),
                 headers: dict[str, str] | None = None, data: bytes | None = None,
                 params: dict[str, str] | None = None) -> Any:
        path = f"/{self.container}" + (f"/{quote(name)}" if name is not None else "")
        # Bounded by the request's deadline too (store/deadline.py): a request past it ends.
        timeout = deadline.left(self.timeout)
        try:
            response = self.http.request(path, method, headers=headers or {}, data=data,
                                         params=params, timeout=timeout, raise_exc=False)
        except deadline.DeadlineExceeded:  # waiting for a login: 504, as for a slow call
            raise
        except Exception as exc:  # keystoneauth's connect/timeout/auth errors, the SDK's own
            raise StoreError(f"object storage unreachable: {exc}") from exc
        if response.status_code in ok or (not ok and response.ok):
            return response
        raise StoreError(f"object storage: {method} {path} answered {response.status_code}")

    def _listing(self, prefix: str, *, marker: str | None = None, reverse: bool = False,
                 page: int = 1000) -> Iterator[_Entry]:
        """Every entry under prefix, page after page, as long as the caller keeps reading."""
        while True:
            params = {"format": "json", "prefix": prefix, "limit": str(page)}
            if marker is not None:
                params["marker"] = marker
            if reverse:
                params["reverse"] = "true"
            response = self._request("GET", params=params, ok=(200, 204, 404))
            items = response.json() if response.status_code == 200 else []
            for item in items:
                entry = _Entry.parse(item)
                if entry is not None:
                    yield entry
            if len(items) < page:
                return
            marker = items[-1]["name"]

    def _jobs(self, *, after: str | None = None, descending: bool = False,
              page: int = 1000) -> Iterator[_Job]:
        """Fractals in uuid order (both directions), with their listed generations."""
        marker = None
        if after is not None:
            # '~' sorts after the digits of every generation; in a reverse listing the marker
            # is an upper bound, and "<uuid>/" is below all of its generations.
            marker = f"{PREFIX}{after}/" + ("" if descending else "~")
        job: _Job | None = None
        for entry in self._listing(PREFIX, marker=marker, reverse=descending, page=page):
            if job is None or entry.uuid != job.uuid:
                if job is not None:
                    yield job
                job = _Job(entry.uuid)
            # A reverse listing gives a fractal's generations newest first: keep them oldest
            # first, so that `current` is the last one either way.
            if descending:
                job.gens.insert(0, entry)
            else:
                job.gens.append(entry)
        if job is not None:
            yield job

    def _gens(self, uuid: str) -> _Job:
        job = _Job(uuid, list(self._listing(f"{PREFIX}{uuid}/")))
        job.gens.sort(key=lambda e: e.gen)
        return job

    # -- reading and writing generations -----------------------------------------------------
    def _read(self, uuid: str, *, body: bool = False, job: _Job | None = None,
              floor: int = 0) -> _Current:
        """The current generation of a fractal; NotFound if there is none or it was deleted.

        `floor` is a generation known to exist (a create lost to it): if the listing has not
        caught up with it yet, the generations from there on are looked up by name.
        """
        for _ in range(RACES):
            job = job or self._gens(uuid)
            if floor and (not job.gens or job.current.gen < floor):
                job = self._look_past(job, floor)
            if not job.gens:
                raise NotFound(uuid)
            top = job.current
            if top.state == DELETED:
                raise NotFound(uuid)
            if not body:
                return _Current(top.gen, *top.record(), job)  # the listing carries the record
            response = self._request("GET", top.name, ok=(200, 404))
            if response.status_code == 200:
                fractal, token, expires = _decode(uuid, response.headers["Content-Type"])
                return _Current(top.gen, fractal, token, expires, job, response.content)
            job = None  # collected between the listing and the read: list again
        raise StoreError(f"cannot read a stable generation of {uuid}")

    def _look_past(self, job: _Job, floor: int) -> _Job:
        """A lagging listing, completed by HEAD requests (a new name reads back at once)."""
        gens = [e for e in job.gens if e.gen < floor]
        gen = floor
        while gen < floor + RACES:
            response = self._request("HEAD", _name(job.uuid, gen), ok=(200, 404))
            if response.status_code == 404:
                break
            entry = _Entry.parse({"name": _name(job.uuid, gen),
                                  "content_type": response.headers.get("Content-Type", ""),
                                  "last_modified": datetime.now(UTC).replace(tzinfo=None)
                                  .isoformat()})
            if entry is not None:
                gens.append(entry)
            gen += 1
        return _Job(job.uuid, gens)

    def _create(self, name: str, headers: dict[str, str], body: bytes, *,
                verify: bool = False) -> bool:
        """Create `name` unless it exists: the compare-and-swap. True if this call made it.

        `verify` closes Swift's window for creations that overlap in time: both got 201,
        and the later timestamp is the object every reader sees from now on. Once overlapping
        writes have landed, reading the writer id back names the one winner. A write that
        passed its check before ours landed lands within about one write's time: we wait as
        long as our own write took, and at least `settle`.
        """
        writer = secrets.token_hex(8)
        headers = {**headers, "If-None-Match": "*", f"{META}Writer": writer,
                   # Swift checks the body against it: a truncated upload is refused.
                   "ETag": hashlib.md5(body, usedforsecurity=False).hexdigest()}
        for _ in range(2):
            started = time.monotonic()
            response = self._request("PUT", name, headers=headers, data=body,
                                     ok=(201, 404, 412))
            if response.status_code == 201 and not verify:
                return True
            if response.status_code in (201, 412):
                if response.status_code == 201:
                    time.sleep(min(max(self.settle, time.monotonic() - started),
                                   deadline.left(self.timeout)))
                # On 412: someone else's, or ours if a retried request met its first attempt.
                again = self._request("HEAD", name, ok=(200, 404))
                return again.headers.get(f"{META}Writer") == writer
            self._request("PUT", ok=(201, 202))  # 404: the container is not there yet
        raise StoreError(f"cannot create container {self.container}")

    def _transition(self, uuid: str, step: Callable[[_Current], _Write | _Keep], *,
                    body: bool = False, job: _Job | None = None, verify: bool = False) -> Any:
        """Read the current generation, let `step` decide, create the next one; on a lost
        race read again and let `step` decide again."""
        floor = 0
        job = job or (None if body else self._recent(uuid))
        for _ in range(RACES):
            current = self._read(uuid, body=body, job=job, floor=floor)
            job = None
            decision = step(current)
            if isinstance(decision, _Keep):
                return decision.value
            gen = current.gen + 1
            if decision.fractal is None:
                headers = {"Content-Type": f"{JOB_TYPE};state={DELETED}"}
            else:
                headers = _encode(decision.fractal, decision.token, decision.expires)
            if self._create(_name(uuid, gen), headers, decision.body, verify=verify):
                # Collecting is housekeeping (the next transition retries it): once the write
                # is made, a slow DELETE or the request's deadline must not turn it into an error.
                with contextlib.suppress(StoreError):
                    self._collect(current.job, gen, everything=decision.fractal is None)
                return decision.value
            floor = gen
        raise StoreError(f"too much contention on {uuid}")

    def _collect(self, job: _Job, latest: int, *, everything: bool = False) -> None:
        """Delete superseded generations that no in-flight writer can still be aiming at;
        `everything` below a tombstone (the tombstone itself guards the next name)."""
        old = time.time() - self.gc_age
        for entry in job.gens:
            superseded = entry.gen < latest - 1 and entry.modified < old
            if superseded or (everything and entry.gen < latest):
                self._request("DELETE", entry.name, ok=(204, 404))

    def _forget(self, job: _Job) -> None:
        """A tombstone old enough that no writer can race it: remove the fractal's last trace."""
        if job.current.state == DELETED and job.current.modified < time.time() - self.tombstone_age:
            for entry in job.gens:
                self._request("DELETE", entry.name, ok=(204, 404))

    # -- records -------------------------------------------------------------------------
    def add(self, fractal: Fractal) -> None:
        if not self._create(_name(fractal.uuid, 0), _encode(fractal, None, None), b""):
            raise StoreError(f"fractal {fractal.uuid} exists already")

    def add_once(self, key: str, digest: str, fractal: Fractal) -> tuple[Fractal, bool]:
        """The key's object is created first (create-only, verified, like a claim); whoever
        finds it made already adds the fractal it names if its first creator stopped short."""
        name = KEYS + hashlib.sha256(key.encode()).hexdigest()
        headers = {"Content-Type": "text/plain", f"{META}Digest": digest,
                   f"{META}Uuid": fractal.uuid, f"{META}Created": repr(fractal.created_at)}
        if self._create(name, headers, b"", verify=True):
            return self._add_first(fractal), True
        known = self._request("HEAD", name, ok=(200,)).headers
        if known.get(f"{META}Digest") != digest:
            raise KeyReused(key)
        uuid = known.get(f"{META}Uuid", "")
        job = self._gens(uuid)
        if not job.gens:  # not made yet, or the listing lags behind a new name
            job = self._look_past(job, 0)
        if job.gens:
            return self._read(uuid, job=job).fractal, False
        original = Fractal(uuid=uuid, params=fractal.params,
                           created_at=float(known.get(f"{META}Created", fractal.created_at)))
        return self._add_first(original), False

    def _add_first(self, fractal: Fractal) -> Fractal:
        """Generation 0 of a keyed fractal, which two requests with one key may both write."""
        if self._create(_name(fractal.uuid, 0), _encode(fractal, None, None), b""):
            return fractal
        return self._read(fractal.uuid, job=self._look_past(_Job(fractal.uuid), 0)).fractal

    def get(self, uuid: str) -> Fractal:
        current = self._read(uuid)
        # The API reads a job before it changes it (an upload, a release): the change starts
        # from this read instead of listing the fractal again.
        if len(self._seen) >= SEEN_MAX:
            self._seen.clear()
        self._seen[uuid] = (time.monotonic(), current.job)
        return current.fractal

    def _recent(self, uuid: str) -> _Job | None:
        """What `get` read of `uuid` less than SEEN_AGE ago (once), for a transition to start
        from. Stale is safe: the compare-and-swap of g+1 fails if g is no longer current, and
        so young a read cannot aim at a collected name (GC_AGE)."""
        seen = self._seen.pop(uuid, None)
        if seen is None or time.monotonic() - seen[0] > SEEN_AGE:
            return None
        return seen[1]

    def list(
        self,
        *,
        limit: int,
        marker: str | None = None,
        state: State | None = None,
        descending: bool = False,
    ) -> Page:
        # One listing request per page: the content types carry state and record alike.
        wanted: list[Fractal] = []
        page = min(10_000, max(100 if state is None else 1000, 3 * (limit + 1)))
        for examined, job in enumerate(self._jobs(after=marker, descending=descending,
                                                  page=page), 1):
            if job.current.state == DELETED:
                self._forget(job)
            elif state is None or job.current.state == state.value:
                wanted.append(job.current.record()[0])
                if len(wanted) > limit:
                    break
            if examined >= self.list_budget and len(wanted) <= limit:
                # A short page (even an empty one) that says where to go on from.
                return Page(wanted, job.uuid)
        return Page(wanted[:limit], wanted[limit - 1].uuid if len(wanted) > limit else None)

    def delete(self, uuid: str) -> None:
        # Verified like a claim: a completion (or claim) overlapping the tombstone's creation
        # can win it (Swift's own limit, see the module's docstring), and a delete answered
        # 204 must not come back as a done fractal; the loser re-reads and deletes again.
        self._transition(uuid, lambda current: _Write(None, None), verify=True)

    def image(self, uuid: str) -> bytes:
        current = self._read(uuid, body=True)
        if current.fractal.state is not State.DONE:
            raise NotFound(uuid)
        return current.body

    # -- the job queue --------------------------------------------------------------------
    def claim(self, worker: str, lease_seconds: float, now: float,
              token: str | None = None) -> Lease | None:
        """From the shared listing (claim_queue.py); a retried token lists afresh."""
        if token is not None and self._claims.retried(token):
            return self._claim_listed(worker, lease_seconds, now, token)
        token = token or secrets.token_hex(16)

        def ours(job: _Job) -> bool:  # a retry sent to this instance's peer first
            return job.current.state == State.RUNNING and _token(job.current) == token

        job, listed = self._claims.take(ours, may_list=True, when_none=False)
        while True:
            if job is None:
                job, fresh = self._claims.take(lambda j: _claimable(j.current, now),
                                               may_list=not listed)
                listed = listed or fresh
                if job is None:
                    return None
            try:
                lease = self._lease(job, worker, lease_seconds, now, token)
            finally:
                self._claims.done(job)
            if lease is not None:
                return lease
            job = None  # claimed elsewhere since the listing, or failed: the next one

    def _open_batch(self) -> list[_Job]:
        return list(itertools.islice(self._open_jobs(), CLAIM_BATCH))

    def _claim_listed(self, worker: str, lease_seconds: float, now: float,
                      token: str | None = None) -> Lease | None:
        """A claim from a listing of its own: the oldest claimable job, or the one a claim
        under `token` leased before."""
        jobs: Iterator[_Job] = self._open_jobs()
        if token is not None:
            # A retried claim: its first attempt leased the oldest claimable job it saw, so
            # that job is near the head of the open ones; read a bounded stretch past the
            # first claimable one now (usually the same listing page) to find it.
            ahead = _read_ahead(jobs, now)
            for job in ahead:
                if job.current.state == State.RUNNING and _token(job.current) == token:
                    lease = self._lease(job, worker, lease_seconds, now, token)
                    if lease is not None:
                        return lease
            jobs = itertools.chain(ahead, jobs)
        token = token or secrets.token_hex(16)
        for job in jobs:
            if _claimable(job.current, now):
                lease = self._lease(job, worker, lease_seconds, now, token)
                if lease is not None:
                    return lease
        return None

    def _open_jobs(self) -> Iterator[_Job]:
        """Pending and running fractals in uuid order, for claims.

        Finished fractals stay finished, so a scan may start at the oldest one that was still
        open at the last scan; less a margin for API instances whose clocks lag (their new
        uuids sort a little earlier), and from the start once a minute."""
        full = self._open_from is None or time.monotonic() - self._full_scan_at > FULL_SCAN
        start = None if full else _uuid_at(_uuid_time(self._open_from) - CLOCK_MARGIN)
        if full:
            self._full_scan_at = time.monotonic()
        first_open = last_seen = None
        for job in self._jobs(after=start):
            top = job.current
            last_seen = job.uuid
            if top.state == DELETED:
                self._forget(job)
            elif top.state in (State.PENDING, State.RUNNING):
                if first_open is None:
                    first_open = self._open_from = job.uuid
                yield job
        if first_open is None and last_seen is not None:
            self._open_from = last_seen  # everything listed is finished

    def _lease(self, job: _Job, worker: str, lease_seconds: float, now: float,
               token: str) -> Lease | None:
        """Lease `job` under `token` (None: someone else has it, or it is gone)."""

        def step(current: _Current) -> _Write | _Keep:
            f = current.fractal
            expires = now + lease_seconds
            expired = f.state is State.RUNNING and (current.expires or 0) < now
            if f.state is State.RUNNING and current.token == token:
                # Ours already: a retried claim (or our own write, met by its retry). No
                # attempt is counted; a lease that ran out meanwhile is renewed.
                if not expired:
                    return _Keep(Lease(f, token, current.expires or expires))
                return _Write(f, Lease(f, token, expires), token, expires)
            if expired and f.attempts >= self.max_attempts:
                # Poison: a job whose lease keeps running out fails instead of looping.
                return _Write(f.evolve(
                    state=State.FAILED, finished_at=now,
                    error=f"lease expired {f.attempts} times without a result"), None)
            if f.state is not State.PENDING and not expired:
                return _Keep(None)  # someone claimed or finished it since the listing
            claimed = f.evolve(state=State.RUNNING, started_at=now, generated_by=worker,
                               attempts=f.attempts + 1)
            return _Write(claimed, Lease(claimed, token, expires), token, expires)

        try:
            # Verified: a lease must be one worker's, even when claims overlap in time.
            return self._transition(job.uuid, step, job=_Job(job.uuid, job.gens), verify=True)
        except NotFound:
            return None

    def heartbeat(self, uuid: str, token: str, lease_seconds: float, now: float) -> Lease:
        def step(current: _Current) -> _Write | _Keep:
            if current.fractal.state is not State.RUNNING or current.token != token:
                raise LeaseLost(uuid)
            return _Write(current.fractal, Lease(current.fractal, token, now + lease_seconds),
                          token, now + lease_seconds)

        return self._transition(uuid, step)

    def release(self, uuid: str, token: str) -> None:
        def step(current: _Current) -> _Write | _Keep:
            f = current.fractal
            if f.state is not State.RUNNING or current.token != token:
                return _Keep(None)
            return _Write(f.evolve(state=State.PENDING, started_at=None, generated_by=None,
                                   attempts=max(f.attempts - 1, 0)), None)

        with contextlib.suppress(NotFound):  # like SQLite: releasing a deleted job is a no-op
            self._transition(uuid, step)
        self._claims.stale()  # the oldest open job is claimed first again, as in SQLite

    def complete(self, uuid: str, result: Result, now: float,
                 token: str | None = None) -> Completion:
        def step(current: _Current) -> _Write | _Keep:
            f = current.fractal
            if f.state is State.DONE:
                return _Keep(Completion(f, stored=False))
            if token is not None and (f.state is not State.RUNNING or current.token != token):
                raise LeaseLost(uuid)
            # Any worker's result is accepted while the job is not done, even after its
            # lease expired: the work is valid, and accepting it ends the job sooner.
            done = f.evolve(state=State.DONE, finished_at=now, duration=result.duration,
                            generated_by=result.generated_by, size=len(result.png),
                            checksum=result.checksum, error=None,
                            started_at=f.started_at if f.started_at is not None
                            else now - result.duration)
            return _Write(done, Completion(done, stored=True), body=result.png)

        return self._transition(uuid, step, verify=True)

    def fail(self, uuid: str, token: str, reason: str, now: float) -> Fractal:
        def step(current: _Current) -> _Write | _Keep:
            f = current.fractal
            if f.state is not State.RUNNING or current.token != token:
                raise LeaseLost(uuid)
            failed = f.evolve(state=State.FAILED, finished_at=now, error=reason)
            return _Write(failed, failed)

        return self._transition(uuid, step)

    # -- health and metrics ---------------------------------------------------------------
    def count_by_state(self) -> Mapping[State, int]:
        """From a listing of the whole container, shared and reused (COUNTS_TTL)."""
        return self._counts()

    def _count_all(self) -> Mapping[State, int]:
        counts = dict.fromkeys(State, 0)
        for job in self._jobs(page=10_000):
            if job.current.state != DELETED:
                counts[State(job.current.state)] += 1
        return counts

    @property
    def replica_peer(self) -> str | None:
        return None if self.replica is None else self.replica.peer_region

    def replica_age(self) -> float:
        if self.replica is None:
            raise StoreError("this store has no replica")
        return self.replica.age()

    def probe(self, deep: bool = False) -> None:
        """Callers that overlap share one probe (shared.py): /readyz cannot pile up."""
        self._probes[deep]()

    def _probe(self, deep: bool) -> None:
        if not deep:
            self._request("HEAD", ok=(204, 404))  # 404: reachable; made at the first write
            return
        name = f"probe/{socket.gethostname()}"
        token = secrets.token_hex(8)
        for _ in range(2):
            put = self._request("PUT", name, data=token.encode(), ok=(201, 404),
                                headers={"Content-Type": "text/plain"})
            if put.status_code == 201:
                break
            self._request("PUT", ok=(201, 202))
        if self._request("GET", name, ok=(200, 404)).content != token.encode():
            raise StoreError("probe object did not read back")


def _claimable(entry: _Entry, now: float) -> bool:
    return entry.state == State.PENDING or (
        entry.state == State.RUNNING and (entry.expires or 0) < now)


def _token(entry: _Entry) -> str | None:
    return _options(entry.content_type).get("token")


def _read_ahead(jobs: Iterator[_Job], now: float) -> list[_Job]:
    """Open jobs up to the first claimable one and TOKEN_LOOKAHEAD more."""
    ahead: list[_Job] = []
    first: int | None = None
    for job in jobs:
        ahead.append(job)
        if first is None and _claimable(job.current, now):
            first = len(ahead)
        if first is not None and len(ahead) - first >= TOKEN_LOOKAHEAD:
            break
    return ahead


def _name(uuid: str, gen: int) -> str:
    return f"{PREFIX}{uuid}/{gen:0{GEN_DIGITS}d}"


def _uuid_time(uuid: str) -> float:
    return int(uuid.replace("-", "")[:12], 16) / 1000  # UUIDv7: 48 bits of milliseconds


def _uuid_at(ts: float) -> str:
    """Sorts before every UUIDv7 made at or after `ts`."""
    ms = f"{max(0, int(ts * 1000)):012x}"
    return f"{ms[:8]}-{ms[8:]}-0000-0000-000000000000"


# -- records in content types and metadata headers ----------------------------------------
# Values must be header-safe: numbers as repr (exact round trip), free text (worker names,
# error messages) percent-encoded and bounded; each metadata header holds at most 256 bytes.
META_NAMES = {"by": "Generated-By", "c_re": "C-Re", "c_im": "C-Im"}


def _encode(f: Fractal, token: str | None, expires: float | None) -> dict[str, str]:
    fields = {"state": f.state.value, "attempts": str(f.attempts), "created": repr(f.created_at)}
    for key, value in f.params.to_dict().items():
        fields[key] = repr(value) if isinstance(value, float) else str(value)
    for key, number in (("started", f.started_at), ("finished", f.finished_at),
                        ("duration", f.duration), ("expires", expires)):
        if number is not None:
            fields[key] = repr(float(number))
    for key, plain in (("size", f.size), ("checksum", f.checksum), ("token", token)):
        if plain is not None:
            fields[key] = str(plain)
    for key, text in (("by", f.generated_by), ("error", f.error)):
        if text is not None:
            fields[key] = _quote(text)
    base = PNG_TYPE if f.state is State.DONE else JOB_TYPE
    headers = {"Content-Type": ";".join([base, *(f"{k}={v}" for k, v in fields.items())])}
    for key, value in fields.items():
        name = META + META_NAMES.get(key, key.title())
        if len(value) <= 250:
            headers[name] = value
        else:  # long text over numbered headers
            headers.update({f"{name}-{i // 250}": value[i:i + 250]
                            for i in range(0, len(value), 250)})
    return headers


def _quote(text: str) -> str:
    encoded = quote(text, safe="")
    while len(encoded) > TEXT_BUDGET:  # keep whole characters: shorten, then encode again
        text = text[: len(text) * TEXT_BUDGET // len(encoded) - 1]
        encoded = quote(text, safe="")
    return encoded


def _options(content_type: str) -> dict[str, str]:
    return dict(p.strip().split("=", 1) for p in content_type.split(";")[1:] if "=" in p)


def _decode(uuid: str, content_type: str) -> tuple[Fractal, str | None, float | None]:
    opts = _options(content_type)

    def number(key: str, kind: type = float) -> Any:
        return kind(opts[key]) if key in opts else None

    def text(key: str) -> str | None:
        return unquote(opts[key]) if key in opts else None

    try:
        params = {name: kind(opts[name]) for name, kind in PARAM_TYPES.items() if name in opts}
        fractal = Fractal(
            uuid=uuid,
            params=FractalParams.from_record(params),
            state=State(opts["state"]),
            created_at=float(opts["created"]),
            started_at=number("started"),
            finished_at=number("finished"),
            duration=number("duration"),
            generated_by=text("by"),
            size=number("size", int),
            checksum=opts.get("checksum"),
            attempts=int(opts["attempts"]),
            error=text("error"),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise StoreError(f"generation of {uuid} has an unreadable record: {exc}") from exc
    return fractal, opts.get("token"), number("expires")
