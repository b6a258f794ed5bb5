"""Floating-IP failover agents on the same lab cloud (real Keystone + Neutron), same run:
ocf:fractal:floating-ip vs Debian's ocf:heartbeat:openstack-floating-ip (shell + `openstack` CLI).

Each op's wall time: start on n1 (from nothing), steady monitors, a failover start on n2 (the
address moves), a late stop on n1 (it must leave it alone), stop on n2. The stock agent needs
Pacemaker's attribute daemon (its openstack-info clone publishes each node's ports there): a stub
`attrd_updater` and `crm_node` answer as that would, so only the agents' own OpenStack work is
timed. Calls per op are counted from the agents' code paths (documented in the table).
Target: ours >= 5× faster per op.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.report import write
from cluster.openstack import cloud
from cluster.openstack.layout import MEMBER_CLOUD, Layout
from resource_agents import install

STOCK = "/usr/lib/ocf/resource.d/heartbeat/openstack-floating-ip"
MONITORS = 15


def stubs(directory: Path, subnet: str) -> None:
    """attrd_updater/crm_node as a node's Pacemaker would answer the stock agent."""
    directory.mkdir()
    (directory / "attrd_updater").write_text(
        "#!/bin/sh\n"
        f'case " $* " in *" --query "*) echo \'name="openstack_ports" host="$NODE" '
        f'value="{subnet}:\'"$PORT"\'"\';; esac\nexit 0\n')
    (directory / "crm_node").write_text('#!/bin/sh\necho "$NODE"\n')
    for stub in directory.iterdir():
        stub.chmod(0o755)


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 7):
        raise SystemExit(f"{argv} {argv[-1]} → {done.returncode}: {done.stderr[-400:]}")
    return elapsed


def scenario(run) -> dict[str, float]:
    """The same sequence for both agents, as Pacemaker runs it: a probe on every node first,
    then start, monitors, a failover; run(node, action) → seconds."""
    out = {"probe (once per node)": run("n1", "monitor")}
    run("n2", "monitor")
    out["start on n1"] = run("n1", "start")
    out["monitor (steady, median)"] = statistics.median(run("n1", "monitor")
                                                        for _ in range(MONITORS))
    out["failover start on n2"] = run("n2", "start")
    out["late stop on n1 (not ours)"] = run("n1", "stop")
    out["stop on n2"] = run("n2", "stop")
    return out


def main() -> dict:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        layout = Layout(state=tmp / "cloud", venv=Layout().venv, netns_prefix="fosb")
        topo = cloud.up(layout, say=lambda _: None)
        try:
            install.install(tmp / "ocf")
            base = {k: v for k, v in os.environ.items() if not k.startswith(("OCF_", "HA_"))}
            base |= {"OCF_ROOT": "/usr/lib/ocf", "OCF_RESOURCE_INSTANCE": "fip"}

            def ours(node: str, action: str) -> float:
                env = base | {"HA_RSCTMP": str(tmp / "rsc" / node),
                              "OCF_RESKEY_CRM_meta_on_node": node,
                              "OCF_RESKEY_cloud": MEMBER_CLOUD,
                              "OCF_RESKEY_clouds_yaml": str(layout.clouds_yaml),
                              "OCF_RESKEY_floating_ip": topo.floating_ip}
                return timed([str(tmp / "ocf/resource.d/fractal/floating-ip"), action], env)

            stubs(tmp / "stubs", topo.tenant_subnet)
            # The stock agent reads clouds.yaml only from ~/.config/openstack or /etc/openstack.
            home = tmp / "home"
            (home / ".config" / "openstack").mkdir(parents=True)
            shutil.copy(layout.clouds_yaml, home / ".config" / "openstack" / "clouds.yaml")

            def stock(node: str, action: str) -> float:
                env = base | {"HA_RSCTMP": str(tmp / "rsc-stock" / node), "NODE": node,
                              "HOME": str(home),
                              "PORT": topo.ports[node], "HA_SBIN_DIR": str(tmp / "stubs"),
                              "PATH": f"{tmp / 'stubs'}:{os.environ['PATH']}",
                              "OS_CLIENT_CONFIG_FILE": str(layout.clouds_yaml),
                              "OCF_RESKEY_cloud": MEMBER_CLOUD,
                              "OCF_RESKEY_ip_id": topo.floating_ip_id,
                              "OCF_RESKEY_subnet_id": topo.tenant_subnet}
                return timed([STOCK, action], env)

            results = {"ours": scenario(ours), "stock": scenario(stock)}
        finally:
            cloud.down(layout)
    rows = []
    for op in results["ours"]:
        a, b = results["ours"][op], results["stock"][op]
        rows.append([op, f"{a * 1000:.0f}", f"{b * 1000:.0f}", f"{b / a:.1f}×"])
    calls = ("ours: steady monitor = 1 Neutron GET (token cached, 0600); start = GET + PUT + GET "
             "verify (+ one login when the token is old); stop = GET (+ PUT when ours). "
             "stock: every op runs 1–3 `openstack` CLI processes, each authenticating anew "
             "(token + catalog + the Neutron call), plus validate's `floating ip list` on "
             "every op Pacemaker runs with validation.")
    write("floating_ip", {"ms": {k: {op: round(v * 1000, 1) for op, v in r.items()}
                                 for k, r in results.items()}, "monitors": MONITORS,
                          "calls": calls},
          rows, ["operation", "ours ms", "stock ms", "speed-up"], note=calls)
    return results


if __name__ == "__main__":
    main()
