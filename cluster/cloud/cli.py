"""`fractal-ha cloud up|status|down`: the lab's OpenStack on this host's loopback."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from cluster.cloud import catalog, install, keystone, neutron, topology
from cluster.cloud.layout import DEFAULT_HOME, MEMBER_CLOUD, Layout


def services(layout: Layout):
    return [keystone.service(layout), neutron.service(layout)]


def up(layout: Layout, say=print) -> topology.Topology:
    started = time.monotonic()

    def step(text: str) -> None:
        say(f"[{time.monotonic() - started:5.1f}s] {text}")

    install.ensure_venv(layout, step)
    fresh = not (layout.state / "keystone" / "keystone.db").exists()
    if fresh:
        step("configuring Keystone and Neutron (SQLite, fernet, ML2 without agents)")
        keystone.configure(layout)
        keystone.initialise(layout)
    step("starting Keystone")
    keystone.service(layout).start(layout)
    if fresh:
        catalog.register(layout)  # neutron's service user must exist before Neutron serves
        neutron.configure(layout)
        neutron.initialise(layout)
    step("starting Neutron")
    neutron.service(layout).start(layout)
    step("registering the catalog and building the cluster's networks")
    catalog.register(layout)
    built = topology.build(layout)
    step(f"up: Keystone {layout.keystone_url}, Neutron {layout.neutron_url}; "
         f"floating IP {built.floating_ip}; clouds.yaml {layout.clouds_yaml} "
         f"(cloud {MEMBER_CLOUD!r})")
    return built


def down(layout: Layout) -> None:
    for svc in reversed(services(layout)):
        svc.stop(layout)
    shutil.rmtree(layout.state, ignore_errors=True)


def status(layout: Layout) -> int:
    ok = True
    for svc in services(layout):
        pid = svc.pid(layout)
        answers = pid is not None and svc.answers(layout)
        ok &= answers
        print(f"{svc.name:<9} {'up' if answers else 'DOWN'}  pid {pid or '-'}  {svc.url(layout)}")
    return 0 if ok else 1


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="fractal-ha cloud", description=__doc__)
    p.add_argument("--home", type=Path, default=DEFAULT_HOME)
    p.add_argument("action", choices=("up", "status", "down"))
    args = p.parse_args(argv)
    layout = Layout(home=args.home)
    try:
        if args.action == "up":
            up(layout)
            return status(layout)
        if args.action == "down":
            down(layout)
            print("the lab cloud is down (its virtualenv is kept as a cache)")
            return 0
        return status(layout)
    except (RuntimeError, OSError) as exc:
        print(f"fractal-ha cloud: {exc}", file=sys.stderr)
        return 1
