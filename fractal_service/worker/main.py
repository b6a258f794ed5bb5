"""`fractal-worker`: render fractals pulled from the API until SIGTERM."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
from pathlib import Path

from fractal_service import credentials, lease
from fractal_service.client import FractalClient
from fractal_service.config import CLIENT_TIMEOUT
from fractal_service.worker.heartbeat import HeartbeatFile
from fractal_service.worker.runner import Worker, WorkerConfig


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="fractal-worker", description=__doc__)
    p.add_argument("--api", default=os.environ.get("FRACTAL_API", "http://127.0.0.1:8080"),
                   help="the API's base URL (env FRACTAL_API)")
    p.add_argument("--name", default=f"{socket.gethostname()}:{os.getpid()}",
                   help="worker name recorded as generated_by (default host:pid)")
    p.add_argument("--heartbeat-file", type=Path,
                   help="JSON file rewritten while the worker's loop runs (for the OCF agent)")
    # Same flag as fractal-api's: one name for one setting.
    p.add_argument("--lease-seconds", type=float, default=float(lease.DEFAULT_SECONDS),
                   help=f"job lease in seconds (default {lease.DEFAULT_SECONDS})")
    p.add_argument("--poll-interval", type=float, default=1.0,
                   help="seconds between claims when there is no work")
    p.add_argument("--timeout", type=float, default=CLIENT_TIMEOUT,
                   help="HTTP timeout in seconds")
    credentials.add_options(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO,
                        format=f"%(asctime)s {args.name} %(levelname)s %(message)s")
    try:
        auth = credentials.from_options(args)
    except ValueError as exc:
        print(f"fractal-worker: {exc}", file=sys.stderr)
        return 2
    worker = Worker(
        FractalClient(args.api, timeout=args.timeout, auth=auth),
        WorkerConfig(name=args.name, lease_seconds=args.lease_seconds,
                     poll_interval=args.poll_interval),
        HeartbeatFile(args.heartbeat_file),
    )
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: worker.stop())
    worker.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
