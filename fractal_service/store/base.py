"""The storage interface the API is written against.

Every operation that changes a job's state is one atomic step in the backend (a transaction
in SQLite, a conditional request in Object Storage), so several API instances can share one
store: a job is claimed by one worker at a time and its result is stored exactly once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass

from fractal_service.records import Fractal, Lease, Result, State


class StoreError(Exception):
    """The backend cannot be reached or failed; the API answers 503."""


class NotFound(KeyError):
    """No fractal with that uuid."""


class LeaseLost(Exception):
    """The caller's lease expired and the job went back to the queue (or to another worker)."""


class KeyReused(Exception):
    """An Idempotency-Key already names a creation with other parameters."""


@dataclass(frozen=True)
class Page:
    items: list[Fractal]
    next_marker: str | None


@dataclass(frozen=True)
class Completion:
    fractal: Fractal
    stored: bool  # False when an earlier upload already stored this fractal's result


class Store(ABC):
    """Fractal records, their images and the job queue they form."""

    @abstractmethod
    def add(self, fractal: Fractal) -> None: ...

    @abstractmethod
    def add_once(self, key: str, digest: str, fractal: Fractal) -> tuple[Fractal, bool]:
        """Add `fractal` unless `key` was used before: then return the fractal it created and
        False (KeyReused if `digest`, of the parameters, differs; NotFound if it was deleted).
        Durable and shared like the fractals: a retry through another API instance finds it."""

    @abstractmethod
    def get(self, uuid: str) -> Fractal:
        """Raise NotFound if unknown."""

    @abstractmethod
    def list(
        self,
        *,
        limit: int,
        marker: str | None = None,
        state: State | None = None,
        descending: bool = False,
    ) -> Page:
        """Fractals ordered by uuid (= creation time), strictly after `marker`.

        A page may hold fewer than `limit` (even none) and still have a `next_marker`: a
        backend that bounds the work of one page (Object Storage with a `state` filter)
        ends it early; the caller goes on from the marker as from any page.
        """

    @abstractmethod
    def delete(self, uuid: str) -> None:
        """Raise NotFound if unknown."""

    @abstractmethod
    def image(self, uuid: str) -> bytes:
        """The PNG of a done fractal; raise NotFound if there is none."""

    @abstractmethod
    def claim(self, worker: str, lease_seconds: float, now: float,
              token: str | None = None) -> Lease | None:
        """Lease the oldest pending job, or one whose lease expired; None if there is none.

        `token`, the claimer's own for this claim (else a new one): a job still leased under
        it is returned instead, its lease renewed if it ran out, and no attempt is counted.
        So a claim sent again after its answer was lost (a store write that landed after the
        call timed out) gets back the job it leased, rather than leave that lease to run out
        and cost the job one of its `max_attempts`.
        """

    @abstractmethod
    def heartbeat(self, uuid: str, token: str, lease_seconds: float, now: float) -> Lease:
        """Extend a lease; raise LeaseLost if it is no longer the caller's."""

    @abstractmethod
    def release(self, uuid: str, token: str) -> None:
        """Give a job back to the queue at once (a worker stopping); no-op if not ours."""

    @abstractmethod
    def complete(self, uuid: str, result: Result, now: float,
                 token: str | None = None) -> Completion:
        """Store a result unless one is stored already (idempotent); NotFound if deleted.

        `token`: the uploader's lease token, checked in the same atomic step as the write
        (LeaseLost unless the job is still leased under it; a done job answers stored=False
        whoever asks). None: any worker's result is accepted."""

    @abstractmethod
    def fail(self, uuid: str, token: str, reason: str, now: float) -> Fractal:
        """Mark a job failed (a deterministic render error); raise LeaseLost if not ours."""

    @abstractmethod
    def count_by_state(self) -> Mapping[State, int]: ...

    @abstractmethod
    def probe(self, deep: bool = False) -> None:
        """Raise StoreError unless the backend answers; `deep` also writes and reads back."""

    @property
    def replica_peer(self) -> str | None:
        """The region holding a synced copy of this store (store/replica.py); None: none."""
        return None

    def replica_age(self) -> float:
        """Seconds: how old the newest of this store's writes is that the replica holds.
        StoreError if either side does not answer (or there is no replica)."""
        raise StoreError("this store has no replica")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
