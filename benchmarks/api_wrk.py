"""API throughput under wrk: requests/s and p99 latency on loopback, 10 s per route, with
authentication off and on.

Starts its own fractal-api (one gunicorn process) on a free port with 200 fractals in its
store, runs wrk (Debian package) against each route, and stops the server by PID; then again
with auth=token and auth_reads (every GET of fractals checks the bearer token; /healthz never
asks, so its row shows the check's cost elsewhere: none).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import requests

from benchmarks.report import write
from fractal_service.client import FractalClient
from fractal_service.credentials import BearerFile
from tests.support.processes import ApiServer

ROUTES = {"GET /healthz": "/healthz", "GET /v1/fractals (page of 50)": "/v1/fractals?limit=50"}
DURATION_S = 10


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(url: str, headers: dict[str, str]) -> dict[str, float]:
    extra = [arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")]
    out = subprocess.run(["wrk", "-t2", "-c16", f"-d{DURATION_S}s", "--latency", *extra, url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)\b", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"requests_per_s": rps, "p50_ms": _ms(*p50.groups()), "p99_ms": _ms(*p99.groups()),
            "non_2xx": int(errors.group(1)) if errors else 0}


def measure(auth: str) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        server = ApiServer(Path(tmp), None, auth=auth)
        if auth != "none":
            server.env["FRACTAL_AUTH_READS"] = "true"
        server.start()
        try:
            credentials = BearerFile(server.token_file) if auth != "none" else None
            client = FractalClient(server.url, auth=credentials)
            for i in range(200):
                client.create({"width": 64 + i, "height": 64})
            headers = ({"Authorization": f"Bearer {server.token_file.read_text().strip()}"}
                       if credentials else {})
            return {name: run_wrk(server.url + path, headers) for name, path in ROUTES.items()}
        finally:
            server.stop()


def measure_keystone() -> dict[str, dict[str, float]]:
    """auth=keystone with auth_reads, against the lab cloud's Keystone (brought up and down
    here): every GET carries a creator's token, validated once and then from auth_token's
    in-process cache."""
    from openstack.config import loader

    from cluster.openstack import cloud
    from cluster.openstack.layout import Layout
    from tests.support import keystone_users

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        layout = Layout(state=home / "cloud", venv=Layout().venv, netns_prefix="fbw")
        cloud.up(layout, say=lambda line: None)
        try:
            clouds_yaml = home / "clouds.yaml"
            clouds_yaml.touch(mode=0o600)
            clouds_yaml.write_text(json.dumps({"clouds": keystone_users.users(layout)}))
            config = loader.OpenStackConfig(config_files=[str(clouds_yaml)])
            creator = config.get_one(cloud="fa-creator").get_session()
            ini = keystone_users.authtoken_conf(layout, home / "authtoken.ini")
            server = ApiServer(home / "api", None, "--keystone-config", str(ini),
                               auth="keystone")
            server.env["FRACTAL_AUTH_READS"] = "true"
            server.start()
            try:
                headers = {"X-Auth-Token": creator.get_token()}
                for i in range(200):
                    requests.post(server.url + "/v1/fractals", json={"width": 64 + i,
                                  "height": 64}, headers=headers, timeout=10).raise_for_status()
                return {name: run_wrk(server.url + path, headers)
                        for name, path in ROUTES.items()}
            finally:
                server.stop()
        finally:
            cloud.down(layout)


def main() -> dict:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk (scripts/setup.sh does)")
    results = {"auth off": measure("none"), "auth token (reads too)": measure("token"),
               "auth keystone (reads too)": measure_keystone()}
    write("api_wrk", {"wrk": "wrk -t2 -c16 --latency", "duration_s": DURATION_S, **results},
          [[mode, name, f"{r['requests_per_s']:.0f}", f"{r['p50_ms']:.2f}",
            f"{r['p99_ms']:.2f}", r["non_2xx"]]
           for mode, routes in results.items() for name, r in routes.items()],
          ["auth", "route", "requests/s", "p50 ms", "p99 ms", "errors"],
          note="wrk and the server share the machine's 2 cores (and other work on it).")
    return results


if __name__ == "__main__":
    main()
