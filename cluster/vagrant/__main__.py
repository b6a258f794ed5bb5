"""`python -m cluster.vagrant COMMAND`: the Vagrant cluster from one command (as root).

  box [--rebuild]     build (or reuse the cached) box and add it to Vagrant
  up                  the host's lab cloud, libvirtd in its own netns, box, 3 VMs (instances
                      of that cloud: their NICs its ports), the cluster, the service on the
                      cloud's floating IP
  status              nodes, DC, quorum, where the API runs, API health (from the client on
                      the cloud's external network)
  crash N | boot N    `virsh destroy` / start a node (it rejoins)
  isolate N | heal N  unplug / plug back the node's service NIC (its port's cable)
  kill-api            SIGKILL the API process
  exec N -- CMD       run a command as root on a node
  down                destroy the VMs and networks, stop libvirtd and delete its netns, the
                      host's cloud down

Environment: FRACTAL_HA_VAGRANT_DIR (state, /var/lib/fractal-ha/vagrant),
FRACTAL_HA_VAGRANT_DRIVER (qemu: software emulation; kvm on a laptop with KVM),
FRACTAL_HA_VAGRANT_LIBVIRTD (netns: a libvirtd of its own in a namespace; host: the host's
running libvirtd, the VMs' tenant bridge then in the root namespace).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from cluster.vagrant import box
from cluster.vagrant.driver import VagrantCluster

STATE = Path(os.environ.get("FRACTAL_HA_VAGRANT_DIR", "/var/lib/fractal-ha/vagrant"))


def _cluster() -> VagrantCluster:
    libvirtd = os.environ.get("FRACTAL_HA_VAGRANT_LIBVIRTD", "netns")
    if libvirtd not in ("netns", "host"):
        raise SystemExit(f"FRACTAL_HA_VAGRANT_LIBVIRTD={libvirtd!r}: 'netns' or 'host'")
    cluster = VagrantCluster(STATE, driver=os.environ.get("FRACTAL_HA_VAGRANT_DRIVER", "qemu"),
                             own_libvirtd=libvirtd == "netns")
    cluster._started_libvirtd = (STATE / ".libvirtd-ours").exists()
    return cluster


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cluster.vagrant", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["box", "up", "status", "crash", "boot",
                                            "isolate", "heal", "kill-api", "exec", "down"])
    parser.add_argument("node", nargs="?")
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args(argv)
    start = time.monotonic()

    def progress(line: str) -> None:
        print(f"[{time.monotonic() - start:6.1f}s] {line}", flush=True)

    if args.command == "box":
        box.ensure(progress, rebuild=args.rebuild)
    elif args.command == "up":
        cluster = _cluster()
        try:
            cluster.up(progress)
        finally:
            if cluster._started_libvirtd:
                (STATE / ".libvirtd-ours").touch()
        print(_summary(cluster))
    elif args.command == "status":
        print(_summary(_cluster()))
    elif args.command == "down":
        cluster = _cluster()
        cluster.down()
        (STATE / ".libvirtd-ours").unlink(missing_ok=True)
        progress("down")
    else:
        cluster = _cluster()
        if args.command == "kill-api":
            progress(f"killed the API on {cluster.kill_api()}")
        elif not args.node:
            parser.error(f"{args.command} needs a node name")
        elif args.command == "crash":
            cluster.crash(args.node)
        elif args.command == "boot":
            cluster.boot_node(args.node)
        elif args.command in ("isolate", "heal"):
            cluster.isolate(args.node, cut=args.command == "isolate")
        elif args.command == "exec":
            rest = args.rest[1:] if args.rest[:1] == ["--"] else args.rest
            done = cluster.exec(args.node, rest, check=False, timeout=600)
            sys.stdout.write(done.stdout)
            sys.stderr.write(done.stderr)
            return done.returncode
        progress(f"{args.command} {args.node or ''}".strip())
    return 0


def _summary(cluster: VagrantCluster) -> str:
    state = cluster.status()
    if state is None:
        return "no node answers"
    health = cluster.client("GET", "/healthz")
    return (f"nodes online: {', '.join(state.online())}; DC {state.dc}; quorate {state.quorate}\n"
            f"API on {', '.join(state.where('fractal-api')) or '-'}, address "
            f"{cluster.address} on {', '.join(state.where('fractal-ip')) or '-'}"
            f", workers on {', '.join(state.where('fractal-worker')) or '-'}\n"
            f"API health: {health or 'no answer'}\n"
            f"failures: {state.failures or 'none'}")


if __name__ == "__main__":
    sys.exit(main())
