"""`fractal-ha cloud up|down|status|fault|faults|sync|revoke`: the lab's OpenStack on loopback."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from cluster.openstack import cloud, regions
from cluster.openstack.faults import control
from cluster.openstack.layout import DEFAULT_HOME, PROXIED, Layout


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fractal-ha cloud", description=__doc__)
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME,
                        help=f"state and virtualenv directory (default {DEFAULT_HOME})")
    parser.add_argument("--netns-prefix", default="fos",
                        help="prefix of the network namespaces it makes (default fos): two "
                             "clouds on one host need different ones")
    parser.add_argument("--state", type=Path,
                        help="the cloud's state directory (default HOME/state); the lab's "
                             "cloud: --state /var/lib/fractal-ha/lab/cloud --netns-prefix fha")
    sub = parser.add_subparsers(dest="action", required=True)
    up = sub.add_parser("up", help="install (once), configure (once) and start everything")
    up.add_argument("--regions", type=int, choices=(1, 2), default=1,
                    help="2: RegionTwo too (its Swift, Neutron, compute, router and floating "
                         "IP), container sync both ways (default 1)")
    sub.add_parser("status", help="which servers run and answer")
    down = sub.add_parser("down", help="stop everything and delete the state")
    down.add_argument("--purge", action="store_true", help="delete the virtualenv too")
    fault = sub.add_parser("fault", help="set (or --clear) what an endpoint's proxy does wrong")
    fault.add_argument("service", choices=PROXIED,
                       help="RegionTwo's servers are suffixed: neutron-RegionTwo")
    fault.add_argument("--latency-ms", type=float, default=0)
    fault.add_argument("--error-rate", type=float, default=0, help="0..1, spread evenly")
    fault.add_argument("--error-status", type=int, default=503)
    fault.add_argument("--outage-seconds", type=float, default=0,
                       help="reset every connection for this long")
    fault.add_argument("--clear", action="store_true")
    sub.add_parser("faults", help="show every endpoint's faults")
    pair = sub.add_parser("sync", help="replicate a container both ways between the regions "
                                       "(needs `up --regions 2`)")
    pair.add_argument("container")
    revoke = sub.add_parser("revoke", help="revoke every token a user holds")
    revoke.add_argument("user")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    layout = Layout.at(args.home, netns_prefix=args.netns_prefix)
    if args.state is not None:  # another cloud's state, the virtualenv still the shared one
        layout = dataclasses.replace(layout, state=args.state)
    try:
        if args.action == "up":
            cloud.up(layout)
            if args.regions == 2:
                regions.up(layout)
            return 0 if cloud.status(layout) else 1
        if args.action == "down":
            cloud.down(layout, keep_venv=not args.purge)
            print("the lab cloud is down" + ("" if args.purge else
                                              " (its virtualenv is kept as a cache)"))
            return 0
        if args.action == "status":
            return 0 if cloud.status(layout) else 1
        if args.action == "fault":
            print(json.dumps(control.clear(layout, args.service) if args.clear else
                             control.inject(layout, args.service, latency_ms=args.latency_ms,
                                            error_rate=args.error_rate,
                                            error_status=args.error_status,
                                            outage_seconds=args.outage_seconds), indent=2))
        elif args.action == "sync":
            regions.pair(layout, args.container)
            print(f"container {args.container} syncs both ways between the regions")
        elif args.action == "faults":
            print(json.dumps(control.show(layout), indent=2))
        elif args.action == "revoke":
            control.revoke_tokens(layout, args.user)
            print(f"every token of {args.user!r} is revoked")
        return 0
    except (RuntimeError, OSError, ValueError) as exc:
        print(f"fractal-ha cloud: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
