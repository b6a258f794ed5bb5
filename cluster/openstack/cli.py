"""`fractal-ha cloud up|down|status`: the lab's OpenStack on this host's loopback."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cluster.openstack import cloud
from cluster.openstack.layout import DEFAULT_HOME, Layout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fractal-ha cloud", description=__doc__)
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME,
                        help=f"state and virtualenv directory (default {DEFAULT_HOME})")
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("up", help="install (once), configure (once) and start everything")
    sub.add_parser("status", help="which servers run and answer")
    down = sub.add_parser("down", help="stop everything and delete the state")
    down.add_argument("--purge", action="store_true", help="delete the virtualenv too")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    layout = Layout.at(args.home)
    try:
        if args.action == "up":
            cloud.up(layout)
            return 0 if cloud.status(layout) else 1
        if args.action == "down":
            cloud.down(layout, keep_venv=not args.purge)
            print("the lab cloud is down" + ("" if args.purge else
                                              " (its virtualenv is kept as a cache)"))
            return 0
        return 0 if cloud.status(layout) else 1
    except (RuntimeError, OSError) as exc:
        print(f"fractal-ha cloud: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
