"""`fractal-worker`: render fractals pulled from the API until SIGTERM."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
from dataclasses import fields, replace
from pathlib import Path

from fractal_service import credentials, lease
from fractal_service.client import FractalClient
from fractal_service.config import CLIENT_TIMEOUT, Settings
from fractal_service.settings import process as etcd_settings
from fractal_service.worker.heartbeat import HeartbeatFile
from fractal_service.worker.metrics import serve_metrics
from fractal_service.worker.pool import WorkerPool
from fractal_service.worker.runner import Worker, WorkerConfig

# What a change in etcd changes in a running worker; the rest is the API's or waits.
LIVE = frozenset({"worker", "lease_seconds", "log_level"})
# The API's settings (store, threads, caps, …): no restart of a worker takes them.
UNUSED = frozenset(f.name for f in fields(Settings)) - LIVE - {"data_dir"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="fractal-worker", description=__doc__)
    p.add_argument("--api", default=os.environ.get("FRACTAL_API", "http://127.0.0.1:8080"),
                   help="the API's base URL (env FRACTAL_API)")
    p.add_argument("--name", default=f"{socket.gethostname()}:{os.getpid()}",
                   help="worker name recorded as generated_by (default host:pid)")
    p.add_argument("--heartbeat-file", type=Path,
                   help="JSON file rewritten while the worker's loop runs (for the OCF agent)")
    # Same flag as fractal-api's: one name for one setting.
    p.add_argument("--lease-seconds", type=float,
                   help=f"job lease in seconds (default {lease.DEFAULT_SECONDS})")
    p.add_argument("--config", type=Path,
                   help="TOML settings file: lease_seconds, log_level, [worker] concurrency")
    p.add_argument("--metrics-bind", help="HOST:PORT to serve Prometheus metrics on")
    p.add_argument("--poll-interval", type=float, default=1.0,
                   help="seconds between claims when there is no work")
    p.add_argument("--timeout", type=float, default=CLIENT_TIMEOUT,
                   help="HTTP timeout in seconds")
    credentials.add_options(p)
    etcd_settings.add_options(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO,
                        format=f"%(asctime)s {args.name} %(levelname)s %(message)s")
    source = None
    try:
        auth = credentials.from_options(args)
        settings = _settings(args)
        if args.etcd:
            source = etcd_settings.source_from_options(
                args, lambda etcd: _settings(args, etcd), LIVE,
                settings.data_dir / f"settings-cache-worker-{args.name.replace('/', '_')}.json",
                UNUSED)
            settings = source.load_initial()
    except (OSError, ValueError) as exc:
        print(f"fractal-worker: {exc}", file=sys.stderr)
        return 2
    logging.getLogger().setLevel(settings.log_level.upper())
    client = FractalClient(args.api, timeout=args.timeout, auth=auth)
    config = WorkerConfig(name=args.name, lease_seconds=settings.lease_seconds,
                          poll_interval=args.poll_interval)
    heartbeat = HeartbeatFile(args.heartbeat_file)

    def make(index: int) -> Worker:  # the first loop keeps the name and the heartbeat file
        return Worker(client, config, heartbeat) if index == 0 else Worker(
            client, replace(config, name=f"{args.name}/{index}"), HeartbeatFile(None))

    pool = WorkerPool(make, settings.worker.concurrency)
    if source is not None:
        source.live.apply = lambda new: _apply(new, pool, config)
        source.start()
    if args.metrics_bind:
        try:
            serve_metrics(args.metrics_bind, pool, source)
        except (OSError, ValueError) as exc:
            print(f"fractal-worker: --metrics-bind {args.metrics_bind}: {exc}", file=sys.stderr)
            return 2
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: pool.stop())
    pool.run()
    return 0


def _settings(args: argparse.Namespace, etcd: dict | None = None) -> Settings:
    if not (args.config or etcd is not None):
        return Settings(lease_seconds=args.lease_seconds or float(lease.DEFAULT_SECONDS))
    return Settings.load(args.config, {"lease_seconds": args.lease_seconds}, etcd=etcd)


def _apply(new: Settings, pool: WorkerPool, config: WorkerConfig) -> None:
    # Loops after the first have copies of the config (their own names): each is updated.
    config.lease_seconds = new.lease_seconds
    for worker, _ in list(pool.loops):
        worker.config.lease_seconds = new.lease_seconds
    logging.getLogger().setLevel(new.log_level.upper())
    pool.resize(new.worker.concurrency)


if __name__ == "__main__":
    sys.exit(main())
