"""`fractal-api`: serve the API with gunicorn (threads in one process; SIGTERM is graceful)."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from fractal_service import lease
from fractal_service.api.auth import check as check_auth
from fractal_service.api.bodies import remember_request
from fractal_service.config import Settings
from fractal_service.settings import process as etcd_settings
from fractal_service.settings.source import EtcdSettingsSource
from fractal_service.store import Store, StoreError


class _Gunicorn(BaseApplication):
    def __init__(self, settings: Settings, extra: dict[str, Any],
                 source: EtcdSettingsSource | None = None) -> None:
        self.settings = settings
        self.extra = extra
        self.source = source
        super().__init__()

    def load_config(self) -> None:
        s = self.settings
        options = {
            "bind": s.bind,
            # One process: the store and metrics live in it; threads give the concurrency.
            # Rendering happens in workers, so requests are short and I/O-bound.
            "workers": 1,
            # A killed server's worker keeps the port while its successor binds beside it
            # (worker_class.py): no gap between the two. The agent's pidfile, not a failing
            # bind, keeps a second server from starting by mistake.
            "reuse_port": True,
            # gthread, but idle connections wait on the poller, not in threads (worker_class.py)
            "worker_class": "fractal_service.api.worker_class.PollingThreadWorker",
            "threads": s.threads,
            "graceful_timeout": int(s.graceful_timeout),
            "timeout": 60,
            "keepalive": 5,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": s.log_level,
            "proc_name": "fractal-api",
            # gunicorn's control socket is one fixed path per user: two servers would collide.
            "control_socket_disable": True,
            # Lets the app close a connection whose body it refused (api/bodies.py).
            "pre_request": remember_request,
            **self.extra,
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self):
        from fractal_service.api.app import create_app

        app = create_app(self.settings, settings_source=self.source)
        # Reach the store now, not on the first request (Object Storage: the node's cached
        # token, or a Keystone login without one), so that the first /readyz and the first
        # claims after a failover are quick. The server serves meanwhile.
        threading.Thread(target=_warm_up, args=(app.config["FRACTAL_STORE"],), daemon=True,
                         name="store-warm-up").start()
        return app


def _warm_up(store: Store) -> None:
    try:
        store.probe()
    except StoreError as exc:  # /readyz reports it; the server serves anyway
        logging.getLogger("fractal.api").warning("store not reachable yet: %s", exc)


# What a change in etcd changes in a running API (app.py applies it); the rest waits for a
# restart. spare_threads: the store slots (threads are gunicorn's, fixed at start).
LIVE = frozenset({"limits", "lease_seconds", "log_level", "spare_threads"})
UNUSED = frozenset({"worker", "region_check"})  # not the API's: no restart of it takes them


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="fractal-api", description=__doc__)
    p.add_argument("--config", type=Path, help="TOML settings file (env FRACTAL_CONFIG)")
    p.add_argument("--bind", help="HOST:PORT to listen on (env FRACTAL_BIND)")
    p.add_argument("--data-dir", type=Path, help="where the SQLite store lives (FRACTAL_DATA_DIR)")
    p.add_argument("--store", help="store URL, e.g. sqlite:///path.db (FRACTAL_STORE)")
    p.add_argument("--threads", type=int, help="concurrent requests (FRACTAL_THREADS)")
    p.add_argument("--lease-seconds", type=float,
                   help=f"job lease length (FRACTAL_LEASE_SECONDS; "
                        f"default {lease.DEFAULT_SECONDS})")
    p.add_argument("--auth", help="none, token or keystone (FRACTAL_AUTH; api/auth.py)")
    p.add_argument("--token-file", type=Path,
                   help="bearer token file for auth=token (default DATA_DIR/api-token)")
    p.add_argument("--keystone-config", type=Path,
                   help="INI file with [keystone_authtoken] for auth=keystone")
    p.add_argument("--pidfile", help="write the server's PID here")
    p.add_argument("--access-log", help="file for the access log ('-' = stderr)")
    etcd_settings.add_options(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    overrides = {
        "bind": args.bind, "data_dir": args.data_dir, "store": args.store,
        "threads": args.threads, "lease_seconds": args.lease_seconds,
        "auth": args.auth, "token_file": args.token_file,
        "keystone_config": args.keystone_config,
    }
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    source = None
    try:
        settings = Settings.load(args.config, overrides)
        if args.etcd:
            source = etcd_settings.source_from_options(
                args, lambda etcd: Settings.load(args.config, overrides, etcd=etcd), LIVE,
                settings.data_dir / "settings-cache-api.json", UNUSED)
            settings = source.load_initial()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        check_auth(settings)  # a bad token file stops the API here, with its reason
    except (OSError, ValueError) as exc:
        print(f"fractal-api: {exc}", file=sys.stderr)
        return 2
    extra: dict[str, Any] = {}
    if args.pidfile:
        extra["pidfile"] = args.pidfile
    if args.access_log:
        extra["accesslog"] = args.access_log
    logging.getLogger().setLevel(settings.log_level.upper())
    _Gunicorn(settings, extra, source).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
