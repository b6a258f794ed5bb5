"""`fractal-ha lab …`: a real three-node Pacemaker/Corosync cluster on this host."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from cluster.lab import netns
from cluster.lab.campaign import cli as campaign_cli
from cluster.lab.lab import CLIENT_CIDR, PREFIX, SERVICE_ADDRESS, Lab, LabError

DEFAULT_DIR = Path(os.environ.get("FRACTAL_LAB_DIR", "/var/lib/fractal-ha/lab"))
NEEDED = ("corosync", "pacemakerd", "crm", "crm_mon", "ip", "nsenter", "unshare", "curl", "etcd",
          "openssl")


def say(message: str, started: float | None = None) -> None:
    stamp = f"[{time.monotonic() - started:5.1f}s] " if started is not None else ""
    print(f"{stamp}{message}", flush=True)


def preflight() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network namespaces, mounts): run it with sudo")
    missing = [b for b in NEEDED if shutil.which(b) is None]
    if missing:
        raise LabError(f"missing programs: {', '.join(missing)} — run scripts/setup.sh first")


def leftovers(lab: Lab) -> list[str]:
    return sorted(set(lab.namespaces()) & netns.existing())


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.2)
    raise LabError(f"timed out after {timeout:.0f} s waiting for {what}")


def cmd_up(lab: Lab, args: argparse.Namespace) -> int:
    preflight()
    started = time.monotonic()
    if any(n.running for n in lab.nodes):
        say("the lab is already up")
        return cmd_status(lab, args)
    if other := lab.owned_elsewhere():
        raise LabError(f"the prefix {lab.prefix!r} is the lab's in {other} (up there): "
                       "--prefix NAME gives this one namespaces of its own")
    if found := leftovers(lab):
        raise LabError(f"leftovers from an earlier run: namespaces {', '.join(found)} — "
                       f"run `fractal-ha lab --dir {lab.dir} down` first")
    say("bringing up the lab cloud, the nodes' network (tenant network, router, client), "
        "installing the agents for the nodes, booting them", started)
    lab.boot(lambda line: say(line, started))
    say("waiting for corosync membership, quorum and a DC", started)
    state = lab.wait_formed()
    say(f"cluster formed: {', '.join(state.online())} online, DC {state.dc}", started)
    lab.configure()
    say("configuration loaded; waiting for the API behind the service address", started)
    wait_for(lambda: lab.client("GET", "/healthz"), 120, "the API at the service address")
    say("the API answers; waiting for the cluster to settle (workers, fencing device)", started)
    lab.settle()
    say("up", started)
    return cmd_status(lab, args)


def cmd_status(lab: Lab, args: argparse.Namespace) -> int:
    state = lab.status()
    if state is None:
        print("the lab is down")
        return 1
    nodes = ", ".join(f"{name} ({'online' if n.online else 'OFFLINE'})"
                      for name, n in sorted(state.nodes.items()))
    print(f"nodes:    {nodes}; DC {state.dc}; {'quorate' if state.quorate else 'NO QUORUM'}")
    print(f"service:  API on {', '.join(state.where('fractal-api')) or 'nowhere'}, "
          f"floating IP {SERVICE_ADDRESS} on "
          f"{', '.join(state.where('fractal-ip')) or 'nowhere'}")
    print(f"workers:  {', '.join(state.where('fractal-workers')) or 'none'}")
    health = lab.client("GET", "/readyz")
    print(f"API:      http://{SERVICE_ADDRESS}:8080 {'ready' if health else 'NOT ANSWERING'}"
          f" (from the client namespace {lab.client_netns}, {CLIENT_CIDR})")
    print(f"auth:     writes need the bearer token in {lab.token_file} "
          "(fractal --token-file; the nodes' /etc/fractal/api-token)")
    for failure in state.failures:
        print(f"failure:  {failure.get('op_key')} on {failure.get('node')}: "
              f"{failure.get('exitreason') or failure.get('status')}")
    return 0


def cmd_crash(lab: Lab, args: argparse.Namespace) -> int:
    node = lab.node(args.node)
    node.crash()
    print(f"{node.name} crashed (SIGKILL to its PID 1)")
    return 0


def cmd_boot(lab: Lab, args: argparse.Namespace) -> int:
    node = lab.node(args.node)
    if node.running:
        raise LabError(f"{node.name} is running")
    lab.boot_node(node)
    print(f"{node.name} booted; it rejoins the cluster in a few seconds")
    return 0


def cmd_kill_api(lab: Lab, args: argparse.Namespace) -> int:
    print(f"killed the API on {lab.kill_api()} (SIGKILL)")
    return 0


def cmd_isolate(lab: Lab, args: argparse.Namespace) -> int:
    lab.isolate(args.node, cut=True)
    print(f"{args.node}'s link is cut")
    return 0


def cmd_heal(lab: Lab, args: argparse.Namespace) -> int:
    lab.isolate(args.node, cut=False)
    print(f"{args.node}'s link is restored")
    return 0


def cmd_exec(lab: Lab, args: argparse.Namespace) -> int:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise LabError("nothing to run: fractal-ha lab exec NODE -- COMMAND ...")
    done = lab.node(args.node).exec(command, check=False, timeout=600)
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    return done.returncode


def cmd_demo(lab: Lab, args: argparse.Namespace) -> int:
    """Up, fractals, crash the node serving the API, measure the outage, prove nothing lost."""
    cmd_up(lab, args)
    try:
        started = time.monotonic()
        uuids = [lab.client("POST", "/v1/fractals", {"width": 320, "height": 240,
                                                      "iterations": 200})["uuid"]
                 for _ in range(args.fractals)]
        say(f"created {len(uuids)} fractals through http://{SERVICE_ADDRESS}:8080", started)
        state = lab.status()
        victim = state.serving("fractal-ip")[0]
        say(f"crashing {victim}, which holds the address (SIGKILL to the node's PID 1)", started)
        crashed_at = time.monotonic()
        lab.node(victim).crash()
        wait_for(lambda: lab.client("GET", "/healthz", timeout=1), 120, "the takeover")
        outage = time.monotonic() - crashed_at
        now_on = lab.status().serving("fractal-ip")
        say(f"the API answers again from {', '.join(now_on)}: outage {outage:.2f} s", started)
        uuids += [lab.client("POST", "/v1/fractals", {"width": 320, "height": 240})["uuid"]
                  for _ in range(args.fractals)]

        def done() -> int:
            return sum((lab.client("GET", f"/v1/fractals/{u}") or {}).get("state") == "done"
                       for u in uuids)

        wait_for(lambda: done() == len(uuids), 300, "every fractal to be rendered")
        say(f"all {len(uuids)} fractals done, none lost (created before and after the crash)",
            started)
        cmd_status(lab, args)
    finally:
        if not args.keep:
            cmd_down(lab, args)
    return 0


def cmd_down(lab: Lab, args: argparse.Namespace) -> int:
    preflight()
    lab.down()
    print("the lab is down: nodes stopped, namespaces removed")
    return 0


COMMANDS = {"up": cmd_up, "status": cmd_status, "crash": cmd_crash, "boot": cmd_boot,
            "kill-api": cmd_kill_api, "isolate": cmd_isolate, "heal": cmd_heal,
            "exec": cmd_exec, "demo": cmd_demo, "down": cmd_down,
            "campaign": campaign_cli.cmd_campaign}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fractal-ha lab", description=__doc__)
    p.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="the lab's state directory")
    p.add_argument("--prefix", default=PREFIX,
                   help=f"names of a new lab's namespaces (default {PREFIX}); a lab that is up "
                        "keeps the one it was made with")
    sub = p.add_subparsers(dest="action", required=True)
    sub.add_parser("up", help="create the network, boot 3 nodes, configure the service")
    sub.add_parser("status", help="nodes, where the service runs, API health")
    for name, text in (("crash", "hard-crash a node (SIGKILL to its PID 1)"),
                       ("boot", "boot a crashed node again"),
                       ("isolate", "cut a node's network link"),
                       ("heal", "restore a node's network link")):
        sub.add_parser(name, help=text).add_argument("node")
    sub.add_parser("kill-api", help="SIGKILL the API process wherever it runs")
    ex = sub.add_parser("exec", help="run a command inside a node: exec NODE -- CMD ...")
    ex.add_argument("node")
    ex.add_argument("command", nargs=argparse.REMAINDER)
    demo = sub.add_parser("demo", help="up, fractals, crash the API's node, show the failover")
    demo.add_argument("--fractals", type=int, default=8, help="fractals before and after")
    demo.add_argument("--keep", action="store_true", help="leave the lab up afterwards")
    campaign_cli.add_parser(sub)
    sub.add_parser("down", help="remove everything the lab created")
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    lab = Lab.open(args.dir, args.prefix)
    try:
        return COMMANDS[args.action](lab, args)
    except (LabError, LookupError, TimeoutError) as exc:
        print(f"fractal-ha lab: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
