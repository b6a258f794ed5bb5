"""The embedded default store: SQLite in WAL mode, one file in the data dir.

WAL lets readers (listing, health checks) proceed while a writer commits. Every state change
runs in a `BEGIN IMMEDIATE` transaction, which takes the write lock up front, so two API
threads or processes can never lease the same job.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from fractal_service.params import FractalParams
from fractal_service.records import Fractal, Lease, Result, State
from fractal_service.store import deadline
from fractal_service.store.base import (
    Completion,
    KeyReused,
    LeaseLost,
    NotFound,
    Page,
    Store,
    StoreError,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS fractals (
    uuid TEXT PRIMARY KEY,
    params TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    duration REAL,
    generated_by TEXT,
    size INTEGER,
    checksum TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    lease_token TEXT,
    lease_expires REAL
);
-- The claim's two lookups (see CLAIM_*), each one index range however many jobs are done;
-- fractals_lease is partial (running jobs only): small, and no use to any other query.
-- IF NOT EXISTS: opening a database made by an older release adds what it lacks.
CREATE INDEX IF NOT EXISTS fractals_state ON fractals (state, uuid);
CREATE INDEX IF NOT EXISTS fractals_lease ON fractals (lease_expires) WHERE state = 'running';
CREATE TABLE IF NOT EXISTS images (
    uuid TEXT PRIMARY KEY REFERENCES fractals (uuid) ON DELETE CASCADE,
    png BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS probe (id INTEGER PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY,
    digest TEXT NOT NULL,
    uuid TEXT NOT NULL
);
"""

# Two queries, not one with OR: SQLite serves "pending OR expired ... ORDER BY uuid" by a scan
# of the whole table in uuid order (or by sorting every open job), under the write lock.
CLAIM_PENDING = "SELECT uuid FROM fractals WHERE state = 'pending' ORDER BY uuid LIMIT 1"
CLAIM_EXPIRED = "SELECT MIN(uuid) FROM fractals WHERE state = 'running' AND lease_expires < ?"
# A retried claim's own job: the running ones are few (fractals_state's range of them).
CLAIM_OWN = ("SELECT uuid, lease_expires FROM fractals WHERE state = 'running'"
             " AND lease_token = ? ORDER BY uuid LIMIT 1")

COLUMNS = (
    "uuid, params, state, created_at, started_at, finished_at, duration, generated_by, size,"
    " checksum, attempts, error"
)


class SqliteStore(Store):
    def __init__(self, path: Path, *, max_attempts: int = 5, busy_timeout: float = 5.0) -> None:
        self.path = Path(path)
        self.max_attempts = max_attempts
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._connection().executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from exc

    # -- connections -------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        # One connection per thread: sqlite3 connections must not be shared across threads.
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes in WAL mode
            db.execute("PRAGMA foreign_keys=ON")
            self._local.db = db
        return db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        db = self._connection()
        try:
            # Waiting for another writer's lock ends at the request's deadline (store/deadline.py).
            wait = deadline.left(self.busy_timeout)
            db.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(str(exc)) from exc

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        try:
            yield self._connection()
        except sqlite3.Error as exc:
            raise StoreError(str(exc)) from exc

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # -- records -------------------------------------------------------------------------
    def add(self, fractal: Fractal) -> None:
        with self._write() as db:
            _insert(db, fractal)

    def add_once(self, key: str, digest: str, fractal: Fractal) -> tuple[Fractal, bool]:
        with self._write() as db:
            row = db.execute("SELECT digest, uuid FROM idempotency WHERE key = ?",
                             (key,)).fetchone()
            if row is not None:
                if row[0] != digest:
                    raise KeyReused(key)
                return _row_to_fractal(_fetch(db, row[1])), False
            db.execute("INSERT INTO idempotency (key, digest, uuid) VALUES (?, ?, ?)",
                       (key, digest, fractal.uuid))
            _insert(db, fractal)
        return fractal, True

    def get(self, uuid: str) -> Fractal:
        with self._read() as db:
            return _row_to_fractal(_fetch(db, uuid))

    def list(
        self,
        *,
        limit: int,
        marker: str | None = None,
        state: State | None = None,
        descending: bool = False,
    ) -> Page:
        where, args = [], []
        if marker is not None:
            where.append("uuid < ?" if descending else "uuid > ?")
            args.append(marker)
        if state is not None:
            where.append("state = ?")
            args.append(state.value)
        sql = f"SELECT {COLUMNS} FROM fractals"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY uuid {'DESC' if descending else 'ASC'} LIMIT ?"
        # One extra row tells whether there is a next page without a second query.
        with self._read() as db:
            rows = db.execute(sql, [*args, limit + 1]).fetchall()
        items = [_row_to_fractal(r) for r in rows[:limit]]
        return Page(items, items[-1].uuid if len(rows) > limit else None)

    def delete(self, uuid: str) -> None:
        with self._write() as db:
            if db.execute("DELETE FROM fractals WHERE uuid = ?", (uuid,)).rowcount == 0:
                raise NotFound(uuid)

    def image(self, uuid: str) -> bytes:
        with self._read() as db:
            row = db.execute("SELECT png FROM images WHERE uuid = ?", (uuid,)).fetchone()
        if row is None:
            raise NotFound(uuid)
        return bytes(row[0])

    # -- the job queue --------------------------------------------------------------------
    def claim(self, worker: str, lease_seconds: float, now: float,
              token: str | None = None) -> Lease | None:
        with self._write() as db:
            if token is not None:
                # A retried claim: the job it leased already, renewed if its lease ran out.
                row = db.execute(CLAIM_OWN, (token,)).fetchone()
                if row is not None:
                    uuid, expires = row
                    if expires < now:
                        expires = now + lease_seconds
                        db.execute("UPDATE fractals SET lease_expires = ? WHERE uuid = ?",
                                   (expires, uuid))
                    return Lease(_row_to_fractal(_fetch(db, uuid)), token, expires)
            # Jobs whose lease ran out too often are poison: fail them rather than loop forever.
            db.execute(
                "UPDATE fractals SET state = 'failed', finished_at = ?, lease_token = NULL,"
                " error = 'lease expired ' || attempts || ' times without a result'"
                " WHERE state = 'running' AND lease_expires < ? AND attempts >= ?",
                (now, now, self.max_attempts),
            )
            # The oldest of both: expired leases are few (at most one per worker).
            found = [r[0] for r in db.execute(CLAIM_PENDING)]
            found += [r[0] for r in db.execute(CLAIM_EXPIRED, (now,)) if r[0] is not None]
            if not found:
                return None
            uuid = min(found)
            token = token or secrets.token_hex(16)
            db.execute(
                "UPDATE fractals SET state = 'running', started_at = ?, generated_by = ?,"
                " attempts = attempts + 1, lease_token = ?, lease_expires = ? WHERE uuid = ?",
                (now, worker, token, now + lease_seconds, uuid),
            )
            fractal = _row_to_fractal(_fetch(db, uuid))
        return Lease(fractal, token, now + lease_seconds)

    def heartbeat(self, uuid: str, token: str, lease_seconds: float, now: float) -> Lease:
        with self._write() as db:
            changed = db.execute(
                "UPDATE fractals SET lease_expires = ? WHERE uuid = ? AND state = 'running'"
                " AND lease_token = ?",
                (now + lease_seconds, uuid, token),
            ).rowcount
            if not changed:
                _fetch(db, uuid)  # NotFound when deleted
                raise LeaseLost(uuid)
            fractal = _row_to_fractal(_fetch(db, uuid))
        return Lease(fractal, token, now + lease_seconds)

    def release(self, uuid: str, token: str) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE fractals SET state = 'pending', lease_token = NULL, lease_expires = NULL,"
                " started_at = NULL, generated_by = NULL, attempts = MAX(attempts - 1, 0)"
                " WHERE uuid = ? AND state = 'running' AND lease_token = ?",
                (uuid, token),
            )

    def complete(self, uuid: str, result: Result, now: float,
                 token: str | None = None) -> Completion:
        with self._write() as db:
            current = _row_to_fractal(_fetch(db, uuid))
            if current.state is State.DONE:
                return Completion(current, stored=False)
            if token is not None and (current.state is not State.RUNNING or db.execute(
                    "SELECT lease_token FROM fractals WHERE uuid = ?", (uuid,)
            ).fetchone()[0] != token):
                raise LeaseLost(uuid)
            # Any worker's result is accepted while the job is not done, even after its lease
            # expired: the work is valid, and accepting it ends the job sooner.
            db.execute("INSERT OR REPLACE INTO images (uuid, png) VALUES (?, ?)",
                       (uuid, result.png))
            db.execute(
                "UPDATE fractals SET state = 'done', finished_at = ?, duration = ?,"
                " generated_by = ?, size = ?, checksum = ?, error = NULL, lease_token = NULL,"
                " lease_expires = NULL, started_at = COALESCE(started_at, ?) WHERE uuid = ?",
                (now, result.duration, result.generated_by, len(result.png), result.checksum,
                 now - result.duration, uuid),
            )
            return Completion(_row_to_fractal(_fetch(db, uuid)), stored=True)

    def fail(self, uuid: str, token: str, reason: str, now: float) -> Fractal:
        with self._write() as db:
            changed = db.execute(
                "UPDATE fractals SET state = 'failed', finished_at = ?, error = ?,"
                " lease_token = NULL, lease_expires = NULL"
                " WHERE uuid = ? AND state = 'running' AND lease_token = ?",
                (now, reason, uuid, token),
            ).rowcount
            current = _row_to_fractal(_fetch(db, uuid))
        if not changed:
            raise LeaseLost(uuid)
        return current

    # -- health and metrics ---------------------------------------------------------------
    def count_by_state(self) -> Mapping[State, int]:
        with self._read() as db:
            rows = db.execute("SELECT state, COUNT(*) FROM fractals GROUP BY state").fetchall()
        counts = dict.fromkeys(State, 0)
        counts.update({State(s): n for s, n in rows})
        return counts

    def probe(self, deep: bool = False) -> None:
        if not deep:
            with self._read() as db:
                db.execute("SELECT 1 FROM fractals LIMIT 1").fetchall()
            return
        token = secrets.token_hex(8)
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO probe (id, value) VALUES (1, ?)", (token,))
        with self._read() as db:
            row = db.execute("SELECT value FROM probe WHERE id = 1").fetchone()
        if row is None or row[0] != token:
            raise StoreError("probe row did not read back")


def _insert(db: sqlite3.Connection, fractal: Fractal) -> None:
    db.execute("INSERT INTO fractals (uuid, params, state, created_at) VALUES (?, ?, ?, ?)",
               (fractal.uuid, json.dumps(fractal.params.to_dict()), fractal.state.value,
                fractal.created_at))


def _fetch(db: sqlite3.Connection, uuid: str) -> tuple:
    row = db.execute(f"SELECT {COLUMNS} FROM fractals WHERE uuid = ?", (uuid,)).fetchone()
    if row is None:
        raise NotFound(uuid)
    return row


def _row_to_fractal(row: tuple) -> Fractal:
    (uuid, params, state, created, started, finished, duration, by, size, checksum, attempts,
     error) = row
    p = json.loads(params)
    return Fractal(
        uuid=uuid,
        params=FractalParams.from_record(p),
        state=State(state),
        created_at=created,
        started_at=started,
        finished_at=finished,
        duration=duration,
        generated_by=by,
        size=size,
        checksum=checksum,
        attempts=attempts,
        error=error,
    )
