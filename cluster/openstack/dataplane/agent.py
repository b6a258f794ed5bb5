"""The data-plane agent: keeps the router namespace's NAT equal to Neutron's floating IPs.

Run inside the router namespace (as `cloud up` does):
    ip netns exec ROUTER python -m cluster.openstack.dataplane.agent STATE_DIR [REGION]
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
from cluster.openstack.dataplane.watch import FloatingIPs
from cluster.openstack.layout import Layout
from cluster.openstack.topology import ADDRESSING, Topology

log = logging.getLogger("dataplane")
TICK = 0.01  # look at the database's change counter this often
RESYNC = 2.0  # and re-read it at least this often, in case a change slipped between looks
RETRY = 0.5  # after a failed apply
ANNOUNCE = (0.0, 1.0, 2.0)  # gratuitous ARPs for a new address, seconds after adding it


def status_file(layout: Layout) -> Path:
    """What the agent last applied; written first once the initial state is in place, so
    its existence is the agent's readiness."""
    return layout.dir(layout.regional("dataplane")) / "applied.json"


def run(layout: Layout) -> None:
    source = FloatingIPs(layout.dir(layout.regional("neutron")) / "neutron.db",
                         Topology.load(layout).router)
    status = status_file(layout)
    announcer = nat.Announcer()
    due: list[tuple[float, str]] = []  # gratuitous ARPs to send: (monotonic time, address)
    # Whatever a previous agent left on the device is reconciled, not assumed away.
    applied: dict[str, str] = nat.floating_addresses()
    first, seen, read_at = True, None, 0.0
    while True:
        signature = source.signature()
        if signature != seen or time.monotonic() - read_at > RESYNC:
            try:
                wanted = source.read()
            except sqlite3.OperationalError as exc:  # a writer holds the lock: next tick
                log.debug("neutron database busy: %s", exc)
            else:
                seen, read_at = signature, time.monotonic()
                if wanted != applied or first:
                    try:
                        added = nat.apply(wanted, applied, ADDRESSING[layout.plan])
                    except RuntimeError as exc:  # every step is idempotent: try again
                        log.error("applying %s failed, retrying: %s", wanted, exc)
                        seen = None
                        time.sleep(RETRY)
                        continue
                    due += [(read_at + delay, a) for a in added for delay in ANNOUNCE]
                    log.info("floating IPs now %s", wanted or "none")
                    applied, first = wanted, False
                    tmp = status.with_suffix(".tmp")
                    tmp.write_text(json.dumps({"floating_ips": applied, "at": time.time()}))
                    os.replace(tmp, status)
        now = time.monotonic()
        for when, address in [d for d in due if d[0] <= now]:
            due.remove((when, address))
            if address in applied:
                announcer.announce(address)
        time.sleep(TICK)


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    run(Layout(state=Path(argv[0]), **({"region": argv[1]} if len(argv) > 1 else {})))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
