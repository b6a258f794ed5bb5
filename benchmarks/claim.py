"""SQLite claim latency as the table grows: the claim before (one OR query, which SQLite
serves by scanning the table in uuid order once it has statistics) and now (two index
lookups, store/sqlite.py's CLAIM_*), at 10k, 100k and 1M stored fractals.

Each size is one database of finished fractals plus a small backlog, with statistics
(ANALYZE, what `PRAGMA optimize` gathers over time). The old claim runs first, on the schema of
the older release; then SqliteStore opens the same file (the migration adds the lease index,
timed), the backlog is reset, and the claim of today runs. Two cases each: a claim that takes a
job, and an idle claim (nothing to do: what every idle worker polls once a second).

    .venv/bin/python -m benchmarks.claim [--sizes 10000,100000,1000000]
"""

from __future__ import annotations

import argparse
import json
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.report import write
from fractal_service.records import new_uuid
from fractal_service.store.sqlite import SqliteStore

OLD_SCHEMA = """
CREATE TABLE fractals (uuid TEXT PRIMARY KEY, params TEXT NOT NULL, state TEXT NOT NULL,
    created_at REAL NOT NULL, started_at REAL, finished_at REAL, duration REAL,
    generated_by TEXT, size INTEGER, checksum TEXT, attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT, lease_token TEXT, lease_expires REAL);
CREATE INDEX fractals_state ON fractals (state, uuid);
CREATE TABLE images (uuid TEXT PRIMARY KEY REFERENCES fractals (uuid) ON DELETE CASCADE,
    png BLOB NOT NULL);
CREATE TABLE probe (id INTEGER PRIMARY KEY, value TEXT);
"""
PARAMS = json.dumps({"kind": "mandelbrot", "width": 512, "height": 512, "iterations": 256,
                     "xa": -2.0, "xb": 1.0, "ya": -1.5, "yb": 1.5})
BACKLOG = 200  # pending jobs, the newest ones: each measured claim takes one
IDLE = 200  # claims with nothing to do
LEASE = 3600.0  # longer than a run: no lease taken here expires while measuring
SIZES = (10_000, 100_000, 1_000_000)


def _build(path: Path, done: int) -> list[str]:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(OLD_SCHEMA)
    start = time.time() - done - BACKLOG - 3600
    rows = ((new_uuid(start + i), PARAMS, "done", start + i) for i in range(done))
    db.execute("BEGIN")
    db.executemany("INSERT INTO fractals (uuid, params, state, created_at, finished_at, size)"
                   " VALUES (?, ?, ?, ?, ?4 + 1, 1000)", rows)
    pending = [new_uuid(start + done + i) for i in range(BACKLOG)]
    db.executemany("INSERT INTO fractals (uuid, params, state, created_at) VALUES (?, ?, ?, ?)",
                   [(u, PARAMS, "pending", start + done) for u in pending])
    db.execute("COMMIT")
    db.execute("ANALYZE")
    db.close()
    return pending


def _old_claim(db: sqlite3.Connection, now: float) -> str | None:
    """The claim of the older release, statement for statement."""
    db.execute("BEGIN IMMEDIATE")
    db.execute(
        "UPDATE fractals SET state = 'failed', finished_at = ?, lease_token = NULL,"
        " error = 'lease expired ' || attempts || ' times without a result'"
        " WHERE state = 'running' AND lease_expires < ? AND attempts >= ?", (now, now, 5))
    row = db.execute(
        "SELECT uuid FROM fractals WHERE state = 'pending'"
        " OR (state = 'running' AND lease_expires < ?) ORDER BY uuid LIMIT 1", (now,)).fetchone()
    if row is not None:
        db.execute(
            "UPDATE fractals SET state = 'running', started_at = ?, generated_by = ?,"
            " attempts = attempts + 1, lease_token = ?, lease_expires = ? WHERE uuid = ?",
            (now, "bench", secrets.token_hex(16), now + LEASE, row[0]))
        db.execute("SELECT * FROM fractals WHERE uuid = ?", (row[0],)).fetchone()
    db.execute("COMMIT")
    return row[0] if row else None


def _timed(claim: Callable[[], object], count: int, expect_job: bool) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        got = claim()
        times.append((time.perf_counter() - started) * 1000)
        assert (got is not None) == expect_job
    return times


def _stats(ms: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(ms, n=100)
    return {"p50_ms": round(statistics.median(ms), 3), "p99_ms": round(cuts[98], 3)}


def _measure(done: int, workdir: Path) -> dict:
    path = workdir / f"claim-{done}.db"
    started = time.perf_counter()
    pending = _build(path, done)
    built = time.perf_counter() - started
    db = sqlite3.connect(path, isolation_level=None)
    old = {"job": _stats(_timed(lambda: _old_claim(db, time.time()), BACKLOG, True)),
           "idle": _stats(_timed(lambda: _old_claim(db, time.time()), IDLE, False))}
    plan = db.execute("EXPLAIN QUERY PLAN SELECT uuid FROM fractals WHERE state = 'pending'"
                      " OR (state = 'running' AND lease_expires < 0) ORDER BY uuid LIMIT 1"
                      ).fetchall()[-1][-1]
    db.execute("UPDATE fractals SET state = 'pending', lease_token = NULL, lease_expires = NULL,"
               " attempts = 0 WHERE state = 'running'")
    db.close()
    started = time.perf_counter()
    store = SqliteStore(path)  # the migration: CREATE INDEX IF NOT EXISTS fractals_lease
    migrated = time.perf_counter() - started
    claim = lambda: store.claim("bench", LEASE, time.time())  # noqa: E731
    new = {"job": _stats(_timed(claim, BACKLOG, True)), "idle": _stats(_timed(claim, IDLE, False))}
    store.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    assert len(pending) == BACKLOG
    return {"stored": done + BACKLOG, "old": old, "new": new, "old_plan": plan,
            "migration_seconds": round(migrated, 3), "build_seconds": round(built, 1)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)),
                        help="finished fractals per database, comma-separated")
    args = parser.parse_args([] if argv is None else argv)
    runs = []
    with tempfile.TemporaryDirectory(prefix="claim-bench-", dir="/var/tmp") as workdir:
        for size in (int(s) for s in args.sizes.split(",")):
            runs.append(_measure(size, Path(workdir)))
    table = []
    for run in runs:
        o, n = run["old"], run["new"]
        table.append([f"{run['stored']:,}",
                      f"{o['job']['p50_ms']} / {o['job']['p99_ms']}",
                      f"{n['job']['p50_ms']} / {n['job']['p99_ms']}",
                      f"{o['idle']['p50_ms']} / {o['idle']['p99_ms']}",
                      f"{n['idle']['p50_ms']} / {n['idle']['p99_ms']}",
                      f"{run['migration_seconds']}"])
    data = {"backlog": BACKLOG, "idle_claims": IDLE, "runs": runs}
    write("claim", data, table,
          ["stored fractals", "claim, old p50 / p99 ms", "claim, new p50 / p99 ms",
           "idle claim, old p50 / p99 ms", "idle claim, new p50 / p99 ms",
           "migration (index build) s"],
          note=f"SQLite {sqlite3.sqlite_version}, WAL, analysed; {BACKLOG} pending jobs (the "
               f"newest) each claimed once, then {IDLE} idle claims. Old plan: "
               f"`{runs[-1]['old_plan']}`.")
    return data


if __name__ == "__main__":
    main(sys.argv[1:])
