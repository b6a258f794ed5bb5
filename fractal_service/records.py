"""A fractal as the service keeps it: identity, parameters, lifecycle and result facts."""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from fractal_service.params import FractalParams


class State(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


def new_uuid(now: float | None = None) -> str:
    """A UUIDv7 (RFC 9562): time-ordered, so listing by name is listing by creation time.

    That keeps pagination by marker identical for SQLite and for an Object Storage container
    listing, which can only order by object name.
    """
    ms = int((time.time() if now is None else now) * 1000)
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | (rand >> 68 & 0xFFF) << 64
    value |= 0b10 << 62 | rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


@dataclass(frozen=True)
class Fractal:
    uuid: str
    params: FractalParams
    state: State = State.PENDING
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    duration: float | None = None
    generated_by: str | None = None
    size: int | None = None
    checksum: str | None = None
    attempts: int = 0
    error: str | None = None

    def evolve(self, **changes: Any) -> Fractal:
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        return {
            "uuid": self.uuid,
            **self.params.to_dict(),
            "state": self.state.value,
            "created_at": _iso(self.created_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "duration": self.duration,
            "generated_by": self.generated_by,
            "size": self.size,
            "checksum": self.checksum,
            "attempts": self.attempts,
            "error": self.error,
        }


@dataclass(frozen=True)
class Lease:
    """A worker's claim on a job: whoever holds the token may heartbeat, fail or release it."""

    fractal: Fractal
    token: str
    expires_at: float


@dataclass(frozen=True)
class Result:
    """A rendered image as a worker uploads it."""

    png: bytes
    checksum: str
    duration: float
    generated_by: str


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"
