"""The Object Storage backend against an in-memory Swift (tests/support/fake_swift.py) where a
real cloud cannot reproduce a case on demand: writes that overlap on one object server, a
container of many fractals, a slow store. The same contract runs on the lab cloud's real
Swift in test_store.py and test_swift_store.py."""

from __future__ import annotations

import hashlib
import time

import pytest

from fractal_service.params import FractalParams
from fractal_service.records import Fractal, Result, new_uuid
from fractal_service.store import NotFound
from fractal_service.store.swift import DELETED, SwiftStore
from tests.support.fake_swift import FakeSwift

PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


def stores(fake: FakeSwift, count: int = 2) -> list[SwiftStore]:
    """`count` API instances on one container."""
    return [SwiftStore(fake, "fractals", settle=0.0) for _ in range(count)]


def add(store: SwiftStore, created: float | None = None) -> str:
    created = time.time() if created is None else created
    uuid = new_uuid(created)
    store.add(Fractal(uuid, FractalParams(width=8, height=8), created_at=created))
    return uuid


def result() -> Result:
    return Result(PNG, hashlib.sha256(PNG).hexdigest(), 0.1, "w1")


def test_a_delete_answered_is_never_undone_by_an_overlapping_completion() -> None:
    """Swift checks If-None-Match when a PUT arrives: a completion arriving while the delete's
    tombstone is being written creates the same generation too, and wins (newer timestamp).
    The delete must notice (read its writer id back) and delete again."""
    fake = FakeSwift()
    api1, api2 = stores(fake)
    uuid = add(api1)
    assert api2.claim("w1", 30, time.time()) is not None
    completed = []

    def overlap(name: str, headers: dict[str, str]) -> None:
        if f"state={DELETED}" in headers["Content-Type"] and not completed:
            completed.append(api2.complete(uuid, result(), time.time()))

    fake.on_put = overlap
    api1.delete(uuid)  # what the API answers 204 for
    fake.on_put = None
    assert completed and completed[0].stored  # the completion did land, and won its race
    for api in (api1, api2):
        with pytest.raises(NotFound):
            api.get(uuid)
