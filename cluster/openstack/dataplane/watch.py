"""What Neutron says the router's floating IPs are, read from Neutron's own database.

The real L3 agent is told over RPC that a router changed and then asks neutron-server, which
reads these rows. Here there is no message bus (transport_url = fake:/), so the agent reads
the rows itself, read-only, when the database file changes: no load on the API (a 10 ms stat,
not 10 requests a second) and, like a real data plane, no dependence on the API being up.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

QUERY = ("SELECT floating_ip_address, fixed_ip_address FROM floatingips "
         "WHERE router_id = ? AND fixed_ip_address IS NOT NULL")


class FloatingIPs:
    def __init__(self, database: Path, router_id: str) -> None:
        self.database = database
        self.router_id = router_id

    def signature(self) -> tuple[int, ...]:
        """Changes whenever a transaction commits: SQLite's file change counter (header
        bytes 24-27, bumped by every commit in rollback-journal mode, Neutron's), plus the
        files' mtime and size (and the -wal file's, should the mode ever be WAL). The counter
        matters: two commits within one coarse mtime tick leave mtime and size unchanged."""
        with open(self.database, "rb") as db:
            counter = int.from_bytes(os.pread(db.fileno(), 4, 24), "big")
            st = os.fstat(db.fileno())
        try:
            wal = os.stat(self.database.with_name(self.database.name + "-wal"))
            wal_sig = (wal.st_mtime_ns, wal.st_size)
        except FileNotFoundError:
            wal_sig = (0, 0)
        return (counter, st.st_mtime_ns, st.st_size, *wal_sig)

    def read(self) -> dict[str, str]:
        """floating IP -> fixed IP. Raises sqlite3.OperationalError while a writer holds the
        lock; the caller simply reads again on its next tick."""
        db = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=0.5)
        try:
            return dict(db.execute(QUERY, (self.router_id,)).fetchall())
        finally:
            db.close()
