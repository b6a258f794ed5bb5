"""API throughput under wrk: requests/s and p99 latency on loopback, 10 s per route.

Starts its own fractal-api (default settings: one gunicorn process, 8 threads) on a free
port with 200 fractals in its store, runs wrk (Debian package) against each route, and stops
the server by PID.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from benchmarks.report import write
from fractal_service.client import FractalClient
from tests.support.processes import ApiServer

ROUTES = {"GET /healthz": "/healthz", "GET /v1/fractals (page of 50)": "/v1/fractals?limit=50"}
DURATION_S = 10


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(url: str) -> dict[str, float]:
    out = subprocess.run(["wrk", "-t2", "-c16", f"-d{DURATION_S}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)\b", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"requests_per_s": rps, "p50_ms": _ms(*p50.groups()), "p99_ms": _ms(*p99.groups()),
            "non_2xx": int(errors.group(1)) if errors else 0}


def main() -> dict:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk (scripts/setup.sh does)")
    with tempfile.TemporaryDirectory() as tmp:
        server = ApiServer(Path(tmp))
        server.start()
        try:
            client = FractalClient(server.url)
            for i in range(200):
                client.create({"width": 64 + i, "height": 64})
            results = {name: run_wrk(server.url + path) for name, path in ROUTES.items()}
        finally:
            server.stop()
    write("api_wrk", {"wrk": "wrk -t2 -c16 --latency", "duration_s": DURATION_S, **results},
          [[name, f"{r['requests_per_s']:.0f}", f"{r['p50_ms']:.2f}", f"{r['p99_ms']:.2f}",
            r["non_2xx"]] for name, r in results.items()],
          ["route", "requests/s", "p50 ms", "p99 ms", "errors"],
          note="wrk and the server share the machine's 2 cores.")
    return results


if __name__ == "__main__":
    main()
