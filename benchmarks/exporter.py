"""Scrape cost of `fractal-ha exporter` on a real Pacemaker node. Target: p95 <= 100 ms.

A one-node cluster (own namespaces) runs the service-like load of the lab: the exporter clone
from cluster/config/exporter.crm plus eight Dummy primitives and a three-instance clone, so
crm_mon has the lab's size of output. Inside the node, a client scrapes:

- uncached: a second exporter with --cache-seconds 0, so every scrape runs crm_mon and
  corosync-quorumtool (cibadmin only when the configuration changed): the worst case, and what
  each scrape costs when scrapes are further apart than the cache period (Prometheus's case);
- cached: the cluster's exporter (1 s cache) scraped back to back: what extra scrapers cost.

Wall time per scrape as the client sees it (p50/p95/max) and CPU per scrape of the exporter and
the tools it ran (from /proc/PID/stat, children included). With `--lab DIR` the same runs on
each node of a running lab (`fractal-ha lab up`) instead; `--lab` alone boots a lab of its own.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.report import write
from cluster.lab.node import Node
from resource_agents import install

SCRAPES = 200
ROOT = Path(__file__).resolve().parents[1]
EXPORTER = str(ROOT / ".venv" / "bin" / "fractal-ha")
CLIENT = r"""
import http.client, json, os, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
pid = int(sys.argv[3]) if len(sys.argv) > 3 else 0
def cpu():
    if not pid:
        return 0.0
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in f[11:15]) / os.sysconf("SC_CLK_TCK")
walls, size = [], 0
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
conn.request("GET", "/metrics"); conn.getresponse().read()  # warm-up
c0 = cpu()
for _ in range(n):
    t = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/metrics")
    body = conn.getresponse().read()
    walls.append((time.perf_counter() - t) * 1000)
    size = len(body)
print(json.dumps({"walls": walls, "cpu_ms": (cpu() - c0) * 1000 / n, "bytes": size}))
"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def scrape(node: Node, port: int, pid: int | None = None) -> dict:
    argv = [sys.executable, "-c", CLIENT, str(port), str(SCRAPES)] + ([str(pid)] if pid else [])
    return json.loads(node.exec(argv, timeout=600).stdout)


def cold_exporter(node: Node, port: int, log: Path) -> subprocess.Popen:
    """An exporter without cache inside the node, beside the cluster's own."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            ["nsenter", "-t", str(node.pid1), "-n", "-m", "-u", "-p", "--", EXPORTER,
             "exporter", "--listen", f"127.0.0.1:{port}", "--cache-seconds", "0"],
            stdout=out, stderr=out, start_new_session=True)
    for _ in range(100):
        if node.exec(["curl", "-fsS", "-m", "1", f"http://127.0.0.1:{port}/healthz"],
                     check=False).returncode == 0:
            return proc
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"the uncached exporter did not start: {log.read_text()[-500:]}")


def measure(node: Node, tmp: Path) -> dict:
    cold = cold_exporter(node, 19664, tmp / f"cold-{node.name}.log")
    try:
        # The client reads the exporter's CPU from /proc inside the node: its own PID there.
        inner_cold = int(node.exec(["ss", "-Hltnp", "sport = :19664"]).stdout
                         .split("pid=")[1].split(",")[0])
        inner_warm = int(node.exec(["ss", "-Hltnp", "sport = :9664"]).stdout
                         .split("pid=")[1].split(",")[0])
        uncached = scrape(node, 19664, inner_cold)
        cached = scrape(node, 9664, inner_warm)
    finally:
        cold.terminate()
        cold.wait(10)
    return {"uncached": uncached, "cached": cached}


def single_node(tmp: Path) -> list[tuple[str, dict]]:
    from cluster.lab.single import SingleNodeCluster

    install.install(tmp / "ocf")
    with SingleNodeCluster(tmp / "single", ocf_providers=tmp / "ocf" / "resource.d") as c:
        n = c.node
        n.exec(["crm", "configure", "property", "stonith-enabled=false"])
        n.exec(["crm", "configure", "load", "update", str(ROOT / "cluster/config/exporter.crm")])
        for i in range(8):
            n.exec(["crm", "configure", "primitive", f"dummy{i}", "ocf:heartbeat:Dummy",
                    "op", "monitor", "interval=10s"])
        n.exec(["crm", "configure", "primitive", "cloned", "ocf:heartbeat:Dummy"])
        n.exec(["crm", "configure", "clone", "cloned-clone", "cloned", "meta", "clone-max=3"])
        deadline = time.monotonic() + 90
        while True:
            state = n.cluster_state()
            if state and all(r.active for r in state.resources if r.id.startswith("dummy")) \
                    and state.where("fractal-exporter"):
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"resources did not start: {state}")
            time.sleep(0.5)
        return [("single node (13 resources)", measure(n, tmp))]


def lab(lab_dir: Path | None, tmp: Path) -> list[tuple[str, dict]]:
    """Each node of a running lab, or of one booted here (own prefix) and taken down after."""
    import os

    from cluster.lab.lab import Lab

    own = lab_dir is None
    the_lab = Lab(tmp / "lab", prefix=f"fhb{os.getpid()}") if own else Lab.open(lab_dir)
    try:
        if own:
            the_lab.boot()
            the_lab.wait_formed()
            the_lab.configure()
        the_lab.nodes[0].exec(["crm", "configure", "load", "update",
                               str(ROOT / "cluster/config/exporter.crm")])
        deadline = time.monotonic() + 180
        running = sorted(n.name for n in the_lab.nodes if n.running)
        while True:
            state = the_lab.status()
            if state and state.where("fractal-exporters") == running \
                    and state.where("fractal-api"):
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"the service and exporters did not start: {state}")
            time.sleep(1)
        time.sleep(5)  # let the exporters' first snapshots and the API's monitors settle
        return [(f"lab {n.name}", measure(n, tmp)) for n in the_lab.nodes if n.running]
    finally:
        if own:
            the_lab.down()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lab", nargs="?", const="boot", metavar="DIR",
                        help="on the three-node lab: a running lab's directory, or none to "
                             "boot one (own prefix) for the run")
    args = parser.parse_args([] if argv is None else argv)
    with tempfile.TemporaryDirectory() as name:
        if args.lab:
            runs = lab(None if args.lab == "boot" else Path(args.lab), Path(name))
        else:
            runs = single_node(Path(name))
    rows, data = [], {"scrapes": SCRAPES, "runs": {}}
    for where, result in runs:
        for mode in ("uncached", "cached"):
            r = result[mode]
            stats = {"p50_ms": pct(r["walls"], 50), "p95_ms": pct(r["walls"], 95),
                     "max_ms": max(r["walls"]), "cpu_ms": r["cpu_ms"], "bytes": r["bytes"]}
            data["runs"][f"{where} {mode}"] = {k: round(v, 2) for k, v in stats.items()}
            rows.append([where, mode, *(f"{stats[k]:.1f}" for k in
                                        ("p50_ms", "p95_ms", "max_ms", "cpu_ms")),
                         stats["bytes"]])
    worst = max(v["p95_ms"] for k, v in data["runs"].items() if k.endswith("uncached"))
    data["worst_uncached_p95_ms"] = worst
    data["target_p95_ms"] = 100
    header = ["where", "scrape", "wall p50 ms", "wall p95 ms", "max ms", "CPU ms/scrape",
              "bytes"]
    write("exporter_lab" if args.lab else "exporter", data, rows, header,
          note=f"{SCRAPES} scrapes each, from inside the node. uncached = every scrape runs "
               "crm_mon + corosync-quorumtool; cached = within the 1 s cache. CPU includes the "
               f"tools the exporter ran. Target: p95 ≤ 100 ms (worst uncached p95: {worst:.1f}"
               " ms).")
    return data


if __name__ == "__main__":
    main(sys.argv[1:])
