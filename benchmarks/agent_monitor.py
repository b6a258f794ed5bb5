"""Monitor latency of ocf:fractal:api vs the same check written the stock way (shell + curl).

Both agents check the same running API: ours (Python, process + GET /healthz) through its
installed launcher, and a shell agent that sources ocf-shellfuncs, checks the pidfile's process
and curls /healthz, as the stock agents do. Wall and CPU time per call (the CPU of the agent
process and its children), p50/p95 over N calls each, interleaved so that drift hits both.
Target: ours p50 <= 80 ms wall and <= 1.5× the shell+curl check.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.report import write
from resource_agents import install
from tests.support.processes import free_port

CALLS = 200
SHELL_AGENT = """#!/bin/sh
: ${OCF_FUNCTIONS_DIR=${OCF_ROOT}/lib/heartbeat}
. ${OCF_FUNCTIONS_DIR}/ocf-shellfuncs
pid=$(cat "$PIDFILE" 2>/dev/null) || exit $OCF_NOT_RUNNING
kill -0 "$pid" 2>/dev/null || exit $OCF_NOT_RUNNING
if curl -fsS -m 2 -o /dev/null "http://127.0.0.1:${OCF_RESKEY_port}/healthz"; then
    exit $OCF_SUCCESS
fi
ocf_exit_reason "healthz failed"
exit $OCF_ERR_GENERIC
"""


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    rc = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL).returncode
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if rc != 0:
        raise SystemExit(f"{argv[0]} monitor returned {rc}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall * 1000, cpu * 1000


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def import_ms() -> float:
    """Self time of importing the agent module, from `python -X importtime`."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-c",
                          "import resource_agents.agents.api"], capture_output=True,
                         text=True).stderr
    total = 0
    for line in out.splitlines():
        if line.startswith("import time:") and "|" in line:
            parts = line.split("|")
            if parts[2].strip().startswith("resource_agents.agents.api"):
                total = int(parts[1])
    return total / 1000


def main() -> dict:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        ocf_root = tmp / "ocf"
        install.install(ocf_root)
        os.symlink("/usr/lib/ocf/lib", ocf_root / "lib")
        shell = tmp / "shell-agent"
        shell.write_text(SHELL_AGENT)
        shell.chmod(0o755)
        agent = str(ocf_root / "resource.d/fractal/api")
        env = {**{k: v for k, v in os.environ.items() if not k.startswith(("OCF_", "HA_"))},
               "OCF_ROOT": str(ocf_root), "HA_RSCTMP": str(tmp / "rsctmp"),
               "OCF_RESOURCE_INSTANCE": "bench", "OCF_RESKEY_bind_address": "127.0.0.1",
               "OCF_RESKEY_port": str(free_port()), "OCF_RESKEY_data_dir": str(tmp / "data"),
               "OCF_RESKEY_log_file": str(tmp / "api.log"),
               "PIDFILE": str(tmp / "rsctmp" / "fractal-api-bench" / "api.pid")}
        # The agent starts the server it then monitors, exactly as under Pacemaker.
        subprocess.run([agent, "start"], env=env, check=True, capture_output=True)
        try:
            ours, stock = [], []
            for _ in range(CALLS):
                ours.append(timed([agent, "monitor"], env))
                stock.append(timed([str(shell), "monitor"], env))
        finally:
            subprocess.run([agent, "stop"], env=env, check=True, capture_output=True)
    rows, data = [], {"calls": CALLS, "agent_import_ms": round(import_ms(), 1)}
    for name, samples in (("ocf:fractal:api (Python)", ours), ("shell + curl", stock)):
        wall = [w for w, _ in samples]
        cpu = [c for _, c in samples]
        stats = {"wall_p50_ms": pct(wall, 50), "wall_p95_ms": pct(wall, 95),
                 "cpu_p50_ms": pct(cpu, 50), "cpu_p95_ms": pct(cpu, 95)}
        data[name] = {k: round(v, 2) for k, v in stats.items()}
        rows.append([name, *(f"{v:.1f}" for v in stats.values())])
    ratio = data["ocf:fractal:api (Python)"]["wall_p50_ms"] / data["shell + curl"]["wall_p50_ms"]
    data["ratio_wall_p50"] = round(ratio, 2)
    rows.append(["ratio ours / shell (p50 wall)", f"{ratio:.2f}×", "", "", ""])
    write("agent_monitor", data, rows,
          ["monitor (depth 0)", "wall p50 ms", "wall p95 ms", "CPU p50 ms", "CPU p95 ms"],
          note=f"{CALLS} calls each, interleaved; agent module import "
               f"{data['agent_import_ms']} ms. Target: p50 ≤ 80 ms and ≤ 1.5× shell+curl.")
    return data


if __name__ == "__main__":
    main()
