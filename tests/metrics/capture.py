"""Regenerate tests/metrics/data/: crm_mon and cibadmin XML from a real lab in several states.

Run as root: `.venv/bin/python -m tests.metrics.capture` (about three minutes). Boots a lab of
its own (prefix fhcap<pid>), walks it through the states the unit tests read, and removes it.
`... capture booth`: the two booth sites' views of a ticket (cluster/geo/ticket_lab.py), the
holder's and the other site's: crm_mon's and the CIB's ticket state.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cluster.lab.lab import Lab
from cluster.lab.node import Node
from resource_agents.metrics import crm_mon
from resource_agents.metrics.crm_mon import ClusterState
from resource_agents.metrics.source import CIBADMIN, CRM_MON, TICKETS

DATA = Path(__file__).resolve().parent / "data"


def capture(node: Node, name: str) -> None:
    """Both documents the exporter reads, as `node` sees the cluster."""
    for suffix, argv in (("crm_mon", CRM_MON), ("cib", CIBADMIN)):
        (DATA / f"{name}.{suffix}.xml").write_text(node.exec(argv).stdout)
    print(f"captured {name} from {node.name}", flush=True)


def until(lab: Lab, node: Node, ok: Callable[[ClusterState], bool], what: str,
          timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        done = node.exec(CRM_MON, check=False)  # what the exporter sees, fencing included
        state = crm_mon.parse(done.stdout) if done.returncode == 0 and done.stdout else None
        if state is not None and ok(state):
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}: {state}")
        time.sleep(0.5)


def main() -> int:
    DATA.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        lab = Lab(Path(tmp), prefix=f"fhcap{os.getpid()}")
        try:
            lab.boot()
            lab.wait_formed()
            lab.configure()
            n1, n2, n3 = lab.nodes

            def placed(s: ClusterState) -> bool:
                """Settled: the service group started on one node, the workers where they can."""
                started = {r.id: r.nodes for r in s.resources if r.role == "Started"}
                workers = [r for r in s.resources if r.clone == "fractal-workers"]
                return bool(started.get("fractal-api")) \
                    and started.get("fractal-ip") == started["fractal-api"] \
                    and all(r.role in ("Started", "Stopped") for r in workers) \
                    and len(s.where("fractal-workers")) == len(s.online())

            until(lab, n1, placed, "the service")
            capture(n1, "all_online")

            # A failed action: SIGKILL the API; the monitor fails and Pacemaker recovers it.
            until(lab, n1, placed, "the service")
            holder = lab.kill_api(lab.status(n1).where("fractal-api")[0])
            until(lab, n1, lambda s: bool(s.failures) and placed(s),
                  "a recorded failure and the service back")
            capture(n1, "failed_action")
            n1.exec(["crm", "resource", "cleanup"])

            # A move constraint left by `crm resource move`.
            target = next(n for n in ("n2", "n3") if n != holder)
            n1.exec(["crm", "resource", "move", "fractal-service", target])
            until(lab, n1, lambda s: placed(s) and s.where("fractal-api") == [target],
                  f"the move to {target}")
            capture(n1, "move_constraint")
            n1.exec(["crm", "resource", "clear", "fractal-service"])

            # One node down (hard crash), seen from a survivor, once fenced when fencing is on.
            n3.crash()

            def n3_gone(s: ClusterState) -> bool:
                fenced = any(e.target == "n3" and e.status == "success" for e in s.fence_events)
                return s.quorate and "n3" not in s.online() and placed(s) \
                    and (fenced or not s.stonith_enabled)

            until(lab, n1, n3_gone, "n3 offline (fenced) and the service up")
            capture(n1, "one_node_down")

            # No quorum: one node of three left.
            n2.crash()
            until(lab, n1, lambda s: not s.quorate and s.online() == ["n1"], "quorum lost")
            capture(n1, "no_quorum")
        finally:
            lab.down()
    return 0


def booth() -> int:
    from cluster.geo.ticket_lab import running

    with running(prefix=f"fhcb{os.getpid() % 10000}") as rig:
        rig.reset("site-a")
        for name, site in (("booth_holder", "site-a"), ("booth_other_site", "site-b")):
            node = rig.sites[site]
            for suffix, argv in (("crm_mon", CRM_MON), ("tickets", TICKETS)):
                (DATA / f"{name}.{suffix}.xml").write_text(node.exec(argv).stdout)
            print(f"captured {name} from {site}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(booth() if sys.argv[1:] == ["booth"] else main())
