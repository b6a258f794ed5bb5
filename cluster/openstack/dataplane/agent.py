"""The data-plane agent: keeps the router namespace's NAT equal to Neutron's floating IPs.

Run: python -m cluster.openstack.dataplane.agent STATE_DIR NETNS_PREFIX   (by `cloud up`)
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


def status_file(layout: Layout) -> Path:
    """What the agent last applied; written first once the initial state is in place, so
    its existence is the agent's readiness."""
    return layout.dir("dataplane") / "applied.json"


def run(layout: Layout) -> None:
    router = RouterNetwork.of(layout).router
    source = FloatingIPs(layout.dir("neutron") / "neutron.db", Topology.load(layout).router)
    status = status_file(layout)
    # Whatever a previous agent left on the device is reconciled, not assumed away.
    applied: dict[str, str] | None = nat.floating_addresses(router)
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
                if wanted != applied or not status.exists():
                    nat.apply(router, wanted, applied or {})
                    log.info("floating IPs now %s", wanted or "none")
                    applied = wanted
                    tmp = status.with_suffix(".tmp")
                    tmp.write_text(json.dumps({"floating_ips": applied, "at": time.time()}))
                    os.replace(tmp, status)
        time.sleep(TICK)


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # The namespace prefix is the layout's, not a default: a test cloud and an operator's
    # cloud on one host have different router namespaces.
    run(Layout(state=Path(argv[0]), netns_prefix=argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
