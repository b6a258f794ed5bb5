"""The data-plane agent: keeps the router namespace's NAT equal to Neutron's floating IPs.

Run: python -m cluster.openstack.dataplane.agent STATE_DIR   (as a daemon, by `cloud up`)
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import sys
import time
from pathlib import Path

from cluster.openstack.dataplane import nat
from cluster.openstack.dataplane.network import RouterNetwork
from cluster.openstack.dataplane.watch import FloatingIPs
from cluster.openstack.layout import Layout
from cluster.openstack.topology import Topology

log = logging.getLogger("dataplane")
TICK = 0.01  # stat the database this often
RESYNC = 2.0  # and re-read it at least this often, in case a change slipped between stats


def run(layout: Layout) -> None:
    router = RouterNetwork.of(layout).router
    source = FloatingIPs(layout.dir("neutron") / "neutron.db", Topology.load(layout).router)
    status = layout.dir("dataplane") / "applied.json"
    applied: dict[str, str] = {}
    nat.apply(router, applied, nat.floating_addresses(router))  # from a known, empty start
    seen, read_at = None, 0.0
    while True:
        signature = source.signature()
        if signature != seen or time.monotonic() - read_at > RESYNC:
            try:
                wanted = source.read()
            except sqlite3.OperationalError as exc:  # a writer holds the lock: next tick
                log.debug("neutron database busy: %s", exc)
            else:
                seen, read_at = signature, time.monotonic()
                if wanted != applied:
                    nat.apply(router, wanted, applied)
                    log.info("floating IPs now %s", wanted or "none")
                    applied = wanted
                    tmp = status.with_suffix(".tmp")
                    tmp.write_text(json.dumps({"floating_ips": applied, "at": time.time()}))
                    os.replace(tmp, status)
        time.sleep(TICK)


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    run(Layout(state=Path(argv[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
