"""What fractal-api and fractal-worker share to take their settings from etcd: the options,
and the source built from them."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from fractal_service.settings.cache import ValuesCache
from fractal_service.settings.etcd import Etcd, Tls
from fractal_service.settings.keys import PREFIX
from fractal_service.settings.live import Build, LiveSettings
from fractal_service.settings.source import EtcdSettingsSource


def add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--etcd", default=os.environ.get("FRACTAL_ETCD"),
                   help="etcd URLs, comma-separated (env FRACTAL_ETCD): settings under "
                        "--etcd-prefix, applied while running; none = no etcd at all")
    p.add_argument("--etcd-prefix", default=PREFIX, help=f"default {PREFIX}")
    p.add_argument("--etcd-cache", type=Path,
                   help="the last good settings from etcd, used when it is down at start "
                        "(default DATA_DIR/settings-cache-PROGRAM.json)")
    add_tls_options(p)


def add_tls_options(p: argparse.ArgumentParser) -> None:
    env = os.environ.get
    p.add_argument("--etcd-ca", default=env("FRACTAL_ETCD_CA"),
                   help="CA file for https:// members (env FRACTAL_ETCD_CA)")
    p.add_argument("--etcd-cert", default=env("FRACTAL_ETCD_CERT"),
                   help="client certificate, when etcd asks for one (env FRACTAL_ETCD_CERT)")
    p.add_argument("--etcd-key", default=env("FRACTAL_ETCD_KEY"),
                   help="its private key (env FRACTAL_ETCD_KEY)")


def etcd_from_options(args: argparse.Namespace) -> Etcd:
    """ValueError for a bad URL or a certificate without its key."""
    if bool(args.etcd_cert) != bool(args.etcd_key):
        raise ValueError("--etcd-cert and --etcd-key go together")
    return Etcd.from_option(args.etcd, tls=Tls(args.etcd_ca, args.etcd_cert, args.etcd_key))


def source_from_options(args: argparse.Namespace, build: Build, live: frozenset[str],
                        default_cache: Path,
                        unused: frozenset[str] = frozenset()) -> EtcdSettingsSource:
    """ValueError for a bad URL. `live`, `unused`: see LiveSettings."""
    cache = ValuesCache(args.etcd_cache or default_cache)
    cache.path.parent.mkdir(parents=True, exist_ok=True)
    prefix = args.etcd_prefix if args.etcd_prefix.endswith("/") else args.etcd_prefix + "/"
    return EtcdSettingsSource(etcd_from_options(args), LiveSettings(build, live, unused=unused),
                               cache, prefix)
