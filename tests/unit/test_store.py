"""The SQLite store under concurrent claimers: a job is never leased twice at once."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

from fractal_service.params import FractalParams
from fractal_service.records import Fractal, Result, State, new_uuid
from fractal_service.store.sqlite import SqliteStore

JOBS = 60


def _claim_all(path: str, name: str, out: multiprocessing.Queue) -> None:
    store = SqliteStore(Path(path))
    claimed = []
    while (lease := store.claim(name, 300, time.time())) is not None:
        claimed.append(lease.fractal.uuid)
    out.put(claimed)


def test_concurrent_claimers_never_share_a_job(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "f.db")
    for _ in range(JOBS):
        store.add(Fractal(new_uuid(), FractalParams(width=8, height=8), created_at=time.time()))
    out: multiprocessing.Queue = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=_claim_all, args=(str(tmp_path / "f.db"), f"p{i}", out))
             for i in range(4)]
    for p in procs:
        p.start()
    claimed = [u for _ in procs for u in out.get(timeout=60)]
    for p in procs:
        p.join(10)
    assert len(claimed) == JOBS == len(set(claimed))
    assert store.count_by_state()[State.RUNNING] == JOBS


def test_uuids_sort_by_creation_time() -> None:
    ids = [new_uuid(1_700_000_000 + i / 1000) for i in range(50)]
    assert ids == sorted(ids)
    assert all(u[14] == "7" for u in ids)  # version nibble


def test_complete_is_idempotent_and_survives_reopen(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "f.db")
    uuid = new_uuid()
    store.add(Fractal(uuid, FractalParams(width=8, height=8), created_at=time.time()))
    png = b"\x89PNG\r\n\x1a\nabc"
    assert store.complete(uuid, Result(png, "sum", 0.1, "w1"), time.time()).stored
    assert not store.complete(uuid, Result(b"other", "sum2", 0.2, "w2"), time.time()).stored
    store.close()
    reopened = SqliteStore(tmp_path / "f.db")
    assert reopened.image(uuid) == png
    assert reopened.get(uuid).generated_by == "w1"
