"""`fractal config get|set|unset|dump|watch`: the service's settings in etcd.

A value is checked with the TOML file's rules (config.Settings) together with every other
value in etcd before anything is written, and a set of values is written in one transaction
that fails if anything under the prefix changed since it was read: all or nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from fractal_service.config import Settings
from fractal_service.settings.etcd import Etcd, EtcdUnavailable, Snapshot
from fractal_service.settings.keys import PREFIX, key_of, name_of, validate
from fractal_service.settings.process import add_tls_options, etcd_from_options

EXIT_BAD_VALUE = 2
EXIT_UNREACHABLE = 3
ATTEMPTS = 3  # a write raced by another writer is validated again on what it now finds


def add_parser(sub: argparse._SubParsersAction) -> None:
    cfg = sub.add_parser("config", help="the service's settings in etcd (live for the API and "
                                        "workers started with --etcd)")
    cfg.add_argument("--etcd", default=os.environ.get("FRACTAL_ETCD", "http://127.0.0.1:2379"),
                     help="etcd URLs, comma-separated (env FRACTAL_ETCD)")
    cfg.add_argument("--etcd-prefix", default=PREFIX)
    add_tls_options(cfg)
    csub = cfg.add_subparsers(dest="config_command", required=True)
    get = csub.add_parser("get", help="print values (as stored in etcd)")
    get.add_argument("names", nargs="+", help="e.g. lease_seconds limits.max_iterations")
    put = csub.add_parser("set", help="set values, checked together, in one transaction")
    put.add_argument("pairs", nargs="+", metavar="NAME=VALUE")
    unset = csub.add_parser("unset", help="remove values (the file's or the default applies)")
    unset.add_argument("names", nargs="+")
    csub.add_parser("dump", help="every value under the prefix, as JSON")
    watch = csub.add_parser("watch", help="print each change as NAME=VALUE (NAME deleted)")
    watch.add_argument("--count", type=int, help="exit after this many changes")
    check = csub.add_parser("check", help="check a TOML settings file with the same rules "
                                          "(no etcd; e.g. a confd check command)")
    check.add_argument("file", type=Path)


def run(args: argparse.Namespace) -> int:
    prefix = args.etcd_prefix if args.etcd_prefix.endswith("/") else args.etcd_prefix + "/"
    try:
        if args.config_command == "check":
            Settings.load(args.file, environ={})  # the file alone, as written
            return 0
        etcd = etcd_from_options(args)
        return COMMANDS[args.config_command](etcd, prefix, args)
    except (ValueError, OSError) as exc:  # tomllib's errors are ValueErrors
        print(f"fractal config: {exc}", file=sys.stderr)
        return EXIT_BAD_VALUE
    except EtcdUnavailable as exc:
        print(f"fractal config: etcd unavailable: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE


def _values(snap: Snapshot, prefix: str) -> dict[str, str]:
    return {name_of(k, prefix): v for k, v in snap.values.items()}


def cmd_get(etcd: Etcd, prefix: str, args: argparse.Namespace) -> int:
    values = _values(etcd.snapshot(prefix), prefix)
    missing = [n for n in args.names if n not in values]
    for name in args.names:
        if name in values:
            print(values[name] if len(args.names) == 1 else f"{name}={values[name]}")
    if missing:
        print(f"fractal config: not set in etcd: {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


def cmd_set(etcd: Etcd, prefix: str, args: argparse.Namespace) -> int:
    changes = {}
    for pair in args.pairs:
        name, eq, value = pair.partition("=")
        if not eq or not name:
            raise ValueError(f"{pair!r}: want NAME=VALUE")
        changes[name.strip()] = value.strip()
    return _write(etcd, prefix, changes, ())


def cmd_unset(etcd: Etcd, prefix: str, args: argparse.Namespace) -> int:
    return _write(etcd, prefix, {}, tuple(args.names))


def _write(etcd: Etcd, prefix: str, changes: dict[str, str], removed: tuple[str, ...]) -> int:
    for _ in range(ATTEMPTS):
        snap = etcd.snapshot(prefix)
        merged = {n: v for n, v in _values(snap, prefix).items() if n not in removed}
        merged.update(changes)
        validate(merged)  # ValueError names the setting; nothing written
        revision = etcd.put_all({key_of(n, prefix): v for n, v in changes.items()},
                                tuple(key_of(n, prefix) for n in removed), snap, prefix)
        if revision is not None:
            print(f"revision {revision}")
            return 0
    raise EtcdUnavailable(f"the settings kept changing under {prefix}; nothing written")


def cmd_dump(etcd: Etcd, prefix: str, args: argparse.Namespace) -> int:
    snap = etcd.snapshot(prefix)
    print(json.dumps({"revision": snap.revision, "values": _values(snap, prefix)}, indent=2,
                     sort_keys=True))
    return 0


def cmd_watch(etcd: Etcd, prefix: str, args: argparse.Namespace) -> int:
    snap = etcd.snapshot(prefix)
    seen, revision, printed = _values(snap, prefix), snap.revision, 0
    while True:
        for _ in etcd.watch(prefix, revision + 1):
            snap = etcd.snapshot(prefix)
            now = _values(snap, prefix)
            for name in sorted(set(seen) | set(now)):
                if seen.get(name) != now.get(name):
                    print(f"{name}={now[name]}" if name in now else f"{name} deleted",
                          flush=True)
                    printed += 1
            seen, revision = now, snap.revision
            if args.count is not None and printed >= args.count:
                return 0


COMMANDS = {"get": cmd_get, "set": cmd_set, "unset": cmd_unset, "dump": cmd_dump,
            "watch": cmd_watch}
