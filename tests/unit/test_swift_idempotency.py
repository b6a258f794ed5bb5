"""Idempotency-Key on Object Storage: the key's object names the fractal; a creation whose
first writer stopped between the key and the fractal is completed by the retry."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from fractal_service.params import FractalParams
from fractal_service.records import Fractal, new_uuid
from fractal_service.store import KeyReused
from fractal_service.store.swift import KEYS, META, SwiftStore
from tests.support.stores import Backend

pytestmark = pytest.mark.openstack


def fractal(width: int = 8) -> Fractal:
    created = time.time()
    return Fractal(new_uuid(created), FractalParams(width=width, height=8), created_at=created)


def test_a_key_gives_one_fractal_across_instances(object_store: Backend, tmp_path: Path) -> None:
    first, second = object_store.open(tmp_path), object_store.open(tmp_path)
    made, fresh = first.add_once("k1", "d1", fractal())
    again, fresh_again = second.add_once("k1", "d1", fractal())
    assert (fresh, fresh_again) == (True, False)
    assert again == made
    with pytest.raises(KeyReused):
        second.add_once("k1", "other", fractal(16))
    assert [f.uuid for f in first.list(limit=10).items] == [made.uuid]


def test_a_creation_left_half_done_is_completed_by_its_retry(object_store: Backend,
                                                             tmp_path: Path) -> None:
    store = object_store.open(tmp_path)
    assert isinstance(store, SwiftStore)
    first = fractal()
    # The first request made the key's object, then stopped (its deadline, a crash).
    store._create(KEYS + hashlib.sha256(b"k2").hexdigest(),
                  {"Content-Type": "text/plain", f"{META}Digest": "d2",
                   f"{META}Uuid": first.uuid, f"{META}Created": repr(first.created_at)}, b"")
    retried, fresh = store.add_once("k2", "d2", fractal())
    assert not fresh
    assert retried == first
    assert store.get(first.uuid) == first
