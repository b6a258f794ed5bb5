"""`fractal-ha geo …`: the two-site lab (cluster/geo/sites.py) — two Pacemaker sites in two
regions of one lab cloud (`--topology regions`) or in two independent lab clouds (`clouds`),
booth's ticket, the name in the lab zone."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from cluster.geo.booth import TICKET
from cluster.geo.dns import SERVICE_NAME
from cluster.geo.sites import CLOUD_NAMES, PREFIX, SITES, TOPOLOGIES, GeoLab
from cluster.lab import netns
from cluster.lab.cli import preflight
from cluster.lab.lab import LabError

DEFAULT_DIR = Path(os.environ.get("FRACTAL_GEO_DIR", "/var/lib/fractal-ha/geo"))


def say(message: str, started: float) -> None:
    print(f"[{time.monotonic() - started:5.1f}s] {message}", flush=True)


def cmd_up(geo: GeoLab, args: argparse.Namespace) -> int:
    preflight()
    started = time.monotonic()
    if any(n.running for lab in geo.sites.values() for n in lab.nodes):
        print("the two-site lab is already up")
        return cmd_status(geo, args)
    if found := sorted(set(geo.namespaces()) & netns.existing()):
        raise LabError(f"leftovers from an earlier run: namespaces {', '.join(found)} — run "
                       f"`fractal-ha geo --dir {geo.dir} down` first")
    say("the cloud with two regions, the WAN, the arbitrator, two sites"
        if geo.topology == "regions" else
        "two independent clouds (private, public), the WAN, the arbitrator, two sites", started)
    geo.up(lambda line: say(line, started))
    say(f"granting the ticket to {args.site}", started)
    geo.serve_from(args.site)
    say(f"up: {SERVICE_NAME} answers from {args.site}", started)
    return cmd_status(geo, args)


def cmd_status(geo: GeoLab, args: argparse.Namespace) -> int:
    up = False
    for site, lab in geo.sites.items():
        state = lab.status()
        if state is None:
            print(f"{site}: down")
            continue
        up = True
        where = lab.region if geo.topology == "regions" else f"{CLOUD_NAMES[site]} cloud"
        print(f"{site} ({where}): nodes {', '.join(sorted(state.online()))} online; "
              f"ticket {'GRANTED' if geo.granted(site) else 'not held'}; floating IP "
              f"{lab.address} on {', '.join(state.where('fractal-ip')) or 'nowhere'}; "
              f"workers on {', '.join(state.where('fractal-workers')) or 'none'}")
    found = geo.name_points_at()
    print(f"name:   {SERVICE_NAME} -> {', '.join(found) or 'nothing'}"
          f" ({', '.join(filter(None, map(geo.site_at, found))) or 'no site'})")
    answer = geo.request("GET", "/readyz") if up else None
    print(f"API:    {'ready' if answer and answer.status == 200 else 'NOT ANSWERING'} by its "
          f"name, from {geo.world}")
    return 0 if up else 1


def cmd_crash(geo: GeoLab, args: argparse.Namespace) -> int:
    geo.crash_site(args.site)
    print(f"{args.site} crashed: every node's PID 1 killed")
    return 0


def cmd_boot(geo: GeoLab, args: argparse.Namespace) -> int:
    geo.boot_site(args.site)
    print(f"{args.site} booted and formed")
    return 0


def cmd_cut(geo: GeoLab, args: argparse.Namespace) -> int:
    geo.cut(args.site, cut=True)
    print(f"{args.site} is cut off from the WAN (the other site and the arbitrator)")
    return 0


def cmd_heal(geo: GeoLab, args: argparse.Namespace) -> int:
    geo.cut(args.site, cut=False)
    print(f"{args.site} is back on the WAN")
    return 0


def cmd_switch(geo: GeoLab, args: argparse.Namespace) -> int:
    seconds = geo.serve_from(args.site)
    print(f"{TICKET} at {args.site}; the name answers from it ({seconds:.1f} s)")
    return 0


def cmd_down(geo: GeoLab, args: argparse.Namespace) -> int:
    preflight()
    geo.down()
    print("the two-site lab is down: nodes, daemons and namespaces removed")
    return 0


COMMANDS = {"up": cmd_up, "status": cmd_status, "crash": cmd_crash, "boot": cmd_boot,
            "cut": cmd_cut, "heal": cmd_heal, "switch": cmd_switch, "down": cmd_down}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fractal-ha geo", description=__doc__)
    p.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="the lab's state directory")
    p.add_argument("--prefix", default=PREFIX, help="names of its namespaces (%(default)s)")
    sub = p.add_subparsers(dest="action", required=True)
    up = sub.add_parser("up", help="the cloud's two regions, the sites, booth, the name")
    up.add_argument("--site", choices=SITES, default="site-a", help="the first to serve")
    up.add_argument("--topology", choices=TOPOLOGIES, default=TOPOLOGIES[0],
                    help="the sites in two regions of one cloud, or in two clouds that share "
                         "nothing (%(default)s)")
    sub.add_parser("status", help="each site's nodes, ticket and address; the name")
    for name, text in (("crash", "crash every node of a site"),
                       ("boot", "boot a crashed site's nodes again"),
                       ("cut", "cut a site off from the other and the arbitrator"),
                       ("heal", "plug a cut-off site back"),
                       ("switch", "planned switchover: revoke the ticket, grant it to SITE")):
        sub.add_parser(name, help=text).add_argument("site", choices=SITES)
    sub.add_parser("down", help="remove everything the two-site lab created")
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    # Every command but `up` finds the lab as `up` recorded it (its topology).
    geo = (GeoLab(args.dir, args.prefix, topology=args.topology) if args.action == "up"
           else GeoLab.open(args.dir, args.prefix))
    try:
        return COMMANDS[args.action](geo, args)
    except (LabError, LookupError, TimeoutError, ValueError) as exc:
        print(f"fractal-ha geo: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
