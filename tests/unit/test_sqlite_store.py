"""What only the SQLite backend has: the claim is served by indexes (no table scan under the
write lock, whatever the table holds), and a database made by an older release is migrated
when it is opened."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from benchmarks.claim import OLD_SCHEMA  # the previous release's schema, kept once
from fractal_service.records import new_uuid
from fractal_service.store.sqlite import SqliteStore

PARAMS = '{"kind": "mandelbrot", "width": 8, "height": 8}'


def _fill(db: sqlite3.Connection, done: int, pending: int, running: int) -> None:
    """A table like a long-lived service's: mostly finished jobs, a few open ones."""
    start = time.time() - 10 * (done + pending + running)
    rows = [(new_uuid(start + i), PARAMS, "done", start + i, None) for i in range(done)]
    rows += [(new_uuid(start + done + i), PARAMS, "running", start, time.time() + 300)
             for i in range(running)]
    rows += [(new_uuid(start + done + running + i), PARAMS, "pending", start, None)
             for i in range(pending)]
    db.execute("BEGIN")
    db.executemany("INSERT INTO fractals (uuid, params, state, created_at, lease_expires)"
                   " VALUES (?, ?, ?, ?, ?)", rows)
    db.execute("COMMIT")
    db.execute("ANALYZE")  # what `PRAGMA optimize` does in time: the planner knows the shape


def _claim_plans(store: SqliteStore) -> list[tuple[str, list[str]]]:
    """Every statement one claim runs, with SQLite's plan for it."""
    db = store._connection()
    statements: list[str] = []
    db.set_trace_callback(statements.append)
    try:
        assert store.claim("w1", 30, time.time()) is not None
    finally:
        db.set_trace_callback(None)
    explain = sqlite3.connect(store.path)
    plans = []
    for sql in statements:
        if sql.lstrip().upper().startswith(("SELECT", "UPDATE")):
            rows = explain.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()
            plans.append((sql, [row[-1] for row in rows]))
    explain.close()
    return plans


def _assert_indexed(plans: list[tuple[str, list[str]]]) -> None:
    assert plans
    for sql, steps in plans:
        for step in steps:
            # A SCAN reads the whole table (or index); a temp B-tree sorts every open job.
            assert not step.startswith("SCAN") and "TEMP B-TREE" not in step, (sql, steps)


def test_claim_is_served_by_indexes(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "fractals.db")
    _fill(store._connection(), done=3000, pending=500, running=20)
    _assert_indexed(_claim_plans(store))


def test_an_older_database_gets_the_claim_indexes_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "fractals.db"
    old = sqlite3.connect(path, isolation_level=None)
    old.executescript(OLD_SCHEMA)
    _fill(old, done=2000, pending=50, running=5)
    old.close()
    store = SqliteStore(path)
    indexes = {r[0] for r in store._connection().execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'fractals'")}
    assert {"fractals_state", "fractals_lease"} <= indexes
    _assert_indexed(_claim_plans(store))
    assert store.list(limit=10).items  # the data is still there
