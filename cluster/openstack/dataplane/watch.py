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

    def signature(self) -> tuple[tuple[int, int], ...]:
        """Changes whenever a transaction commits: with a rollback journal the file itself is
        written; in WAL mode the -wal file is (so both are watched)."""
        found = []
        for path in (self.database, self.database.with_name(self.database.name + "-wal")):
            try:
                st = os.stat(path)
            except FileNotFoundError:
                st = None
            found.append((st.st_mtime_ns, st.st_size) if st else (0, 0))
        return tuple(found)

    def read(self) -> dict[str, str]:
        """floating IP -> fixed IP. Raises sqlite3.OperationalError while a writer holds the
        lock; the caller simply reads again on its next tick."""
        db = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=0.5)
        try:
            return dict(db.execute(QUERY, (self.router_id,)).fetchall())
        finally:
            db.close()
