"""The worker loop: claim a job, render it while keeping its lease alive, upload the result.

Failure model: the API may vanish at any moment (failover). The worker then waits with
backoff and never crashes; a result it already rendered is kept and uploaded once the API is
back. If the worker itself dies, its lease runs out and another worker renders the job.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fractal_service import lease
from fractal_service.client import ApiError, ApiUnreachable, Claim, FractalClient
from fractal_service.params import FractalParams
from fractal_service.worker.backoff import Backoff
from fractal_service.worker.heartbeat import HeartbeatFile

log = logging.getLogger("fractal.worker")

Renderer = Callable[[FractalParams, Callable[[int, int], None]], bytes]


class Abandon(Exception):
    """Stop rendering the current job: the lease is lost or the worker is stopping."""


@dataclass
class WorkerConfig:
    name: str
    lease_seconds: float = float(lease.DEFAULT_SECONDS)
    poll_interval: float = 1.0
    # A stopping worker gives an unfinished upload this long before leaving it to the lease.
    stop_upload_grace: float = 10.0


class Worker:
    def __init__(self, client: FractalClient, config: WorkerConfig, heartbeat: HeartbeatFile,
                 render: Renderer | None = None) -> None:
        self.client = client
        self.config = config
        self.heartbeat = heartbeat
        self.stopping = threading.Event()
        self.jobs_done = 0
        self._render = render

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        backoff = Backoff()
        # A claim whose answer is lost (a timeout, a 5xx) may have leased a job all the same
        # (its store write landed late): retried with the same token, it gets that job back
        # instead of leaving it to its lease, which would cost the job an attempt.
        token: str | None = None
        while not self.stopping.is_set():
            token = token or secrets.token_hex(16)
            try:
                claim = self.client.claim(self.config.name, self.config.lease_seconds, token)
            except (ApiUnreachable, ApiError) as exc:
                if isinstance(exc, ApiError) and not exc.retriable:
                    log.error("claim refused: %s", exc)
                    token = None  # refused before anything was leased
                self._wait("waiting", backoff.next_delay(), str(exc))
                continue
            token = None
            backoff.reset()
            if claim is None:
                self._wait("idle", self.config.poll_interval)
                continue
            self._process(claim)
        self.heartbeat.beat("stopped", self.jobs_done, force=True)

    def _wait(self, state: str, seconds: float, why: str = "") -> None:
        if why:
            log.warning("%s; retrying in %.1f s", why, seconds)
        deadline = time.monotonic() + seconds
        # Beat while waiting: a worker waiting for the API is not hung.
        while not self.stopping.is_set() and time.monotonic() < deadline:
            self.heartbeat.beat(state, self.jobs_done)
            self.stopping.wait(min(1.0, max(0.0, deadline - time.monotonic())))

    # -- one job -----------------------------------------------------------------------
    def _process(self, claim: Claim) -> None:
        log.info("rendering %s", claim.uuid)
        keeper = _LeaseKeeper(self.client, claim, self.config.lease_seconds)
        keeper.start()
        started = time.perf_counter()
        try:
            png = self.render(FractalParams.from_record(claim.params), keeper.lost)
        except Abandon:
            keeper.stop()
            if self.stopping.is_set():
                self._quietly(lambda: self.client.release(claim))
            log.info("abandoned %s", claim.uuid)
            return
        except MemoryError:
            # This node's trouble (other jobs, a small VM), not the job's: leave the job to its
            # lease, and any worker claims it again once it runs out. Not released: a release
            # gives the attempt back, so a job that no worker has the memory for would circle
            # for ever; this way the store fails it after max_attempts.
            keeper.stop()
            log.error("%s: out of memory while rendering; left to its lease", claim.uuid)
            return
        except ValueError as exc:  # deterministic: retrying cannot help
            keeper.stop()
            reason = f"render failed: {exc}"
            log.error("%s: %s", claim.uuid, reason)
            self._quietly(lambda: self.client.fail(claim, reason))
            return
        duration = time.perf_counter() - started
        keeper.stop()
        self._upload(claim, png, duration)

    def render(self, params: FractalParams, lost: threading.Event) -> bytes:
        def progress(done_rows: int, total_rows: int) -> None:
            self.heartbeat.beat("working", self.jobs_done)
            if self.stopping.is_set() or lost.is_set():
                raise Abandon

        render = self._render
        if render is None:
            from fractal_service.compute.render import render_png as render
        return render(params, progress)

    def _upload(self, claim: Claim, png: bytes, duration: float) -> None:
        uuid = claim.uuid
        checksum = hashlib.sha256(png).hexdigest()
        backoff = Backoff()
        give_up_at: float | None = None
        while True:
            try:
                answer = self.client.upload(claim, png, checksum, duration, self.config.name)
            except ApiUnreachable as exc:
                retriable, why = True, str(exc)
            except ApiError as exc:
                if exc.status == 404:
                    log.info("%s was deleted while rendering; result dropped", uuid)
                    return
                if exc.status == 409:  # the lease ran out and another worker claimed the job
                    log.info("%s: lease lost to another worker; result dropped", uuid)
                    return
                retriable, why = exc.retriable, str(exc)
            else:
                self.jobs_done += 1
                log.info("stored %s (%s)", uuid, "new" if answer.get("stored") else "duplicate")
                return
            if not retriable:
                log.error("upload of %s refused: %s", uuid, why)
                return
            if self.stopping.is_set():
                give_up_at = give_up_at or time.monotonic() + self.config.stop_upload_grace
                if time.monotonic() > give_up_at:
                    log.warning("stopping; %s left to its lease", uuid)
                    return
            self.heartbeat.beat("waiting", self.jobs_done)
            delay = backoff.next_delay()
            log.warning("upload of %s: %s; retrying in %.1f s", uuid, why, delay)
            # Sleep without honouring stop: a rendered result is worth the grace period.
            time.sleep(delay)

    @staticmethod
    def _quietly(call: Callable[[], None]) -> None:
        try:
            call()
        except (ApiUnreachable, ApiError) as exc:
            log.warning("%s", exc)


class _LeaseKeeper(threading.Thread):
    """Extends the lease every third of its length; flags `lost` when the API says it is gone."""

    def __init__(self, client: FractalClient, claim: Claim, lease_seconds: float) -> None:
        super().__init__(name=f"lease-{claim.uuid}", daemon=True)
        self.client = client
        self.claim = claim
        self.lease_seconds = lease_seconds
        self.lost = threading.Event()
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self.lease_seconds / 3):
            try:
                self.client.heartbeat(self.claim, self.lease_seconds)
            except ApiUnreachable:
                continue  # keep rendering: the result is accepted even after the lease expires
            except ApiError as exc:
                if exc.status in (404, 409):
                    log.warning("lease on %s lost: %s", self.claim.uuid, exc.message)
                    self.lost.set()
                    return

    def stop(self) -> None:
        self._done.set()
