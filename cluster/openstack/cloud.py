"""Bringing the whole lab cloud up and down, and reporting on it."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from cluster.openstack import (
    clouds,
    glance,
    identity,
    install,
    keystone,
    network_plane,
    neutron,
    regions,
    services,
    swift,
    tls,
    topology,
)
from cluster.openstack.daemons import Daemon, start_together, stop_together
from cluster.openstack.dataplane.network import RouterNetwork
from cluster.openstack.layout import ADMIN_CLOUD, MEMBER_CLOUD, Layout


def daemons(layout: Layout) -> list[Daemon]:
    """In start order: the proxies first (the catalog points at them), then the backends."""
    return [services.proxies(layout), keystone.daemon(layout), neutron.daemon(layout),
            services.compute(layout), *swift.daemons_of(layout), glance.daemon(layout),
            services.dataplane(layout)]


def up(layout: Layout, say: Callable[[str], None] = print) -> topology.Topology:
    """Idempotent: installs, configures and starts only what is missing."""
    started = time.monotonic()

    def step(text: str) -> None:
        say(f"[{time.monotonic() - started:5.1f}s] {text}")

    install.ensure_venv(layout.venv, step)
    layout.state.mkdir(parents=True, exist_ok=True)
    fresh = not (layout.dir("keystone") / "keystone.db").exists()
    proxies, ks, nt, compute, *object_store, image, _agent = daemons(layout)
    tls.ensure(layout)  # the proxies' HTTPS twins need the lab CA's certificate
    proxies.start()
    if fresh:
        step("configuring Keystone (SQLite, fernet) and bootstrapping its admin; meanwhile "
             "Neutron's schema (from its models) and Swift's rings")
        keystone.configure(layout)
        neutron.configure(layout)
        glance.configure(layout)
        # Neutron's and Glance's schemas and Swift's rings need nothing from Keystone: made
        # alongside it.
        with ThreadPoolExecutor(3) as pool:
            background = [pool.submit(neutron.initialise, layout),
                          pool.submit(swift.configure, layout),
                          pool.submit(glance.initialise, layout)]
            keystone.initialise(layout)
            clouds.write(layout)
            step(f"starting Keystone on {layout.backend_url('keystone')}")
            ks.start()
            step("registering regions, projects, users and the catalog")
            identity.register(layout)  # the services' users must exist before they serve
            for job in background:
                job.result()  # re-raises a failure
    else:
        step(f"starting Keystone on {layout.backend_url('keystone')}")
        ks.start()
        if not swift.configured(layout):
            step("configuring Swift (one replica on a directory, Keystone auth)")
            identity.register(layout)  # a cloud made before Swift: its service user
            swift.configure(layout)
        if not glance.configured(layout):
            step("configuring Glance (SQLite, a file store, Keystone auth)")
            identity.register(layout)  # a cloud made before Glance: its user and endpoint
            glance.configure(layout)
            glance.initialise(layout)
    step(f"starting Neutron on {layout.backend_url('neutron')}, compute on "
         f"{layout.backend_url('compute')}, Swift on {layout.backend_url('object-store')}, "
         f"Glance on {layout.backend_url('image')}")
    # With another cloud's Swift in the realm (peer_clouds.py): the daemon that pushes to it.
    start_together([nt, compute, *object_store, image, *swift.peer_sync(layout)])
    step("building the cluster's networks, ports, router and floating IP; data plane: "
         f"router namespace {RouterNetwork.of(layout).router}, NAT agent")
    built = network_plane.up(layout)
    step(f"up: identity {layout.keystone_url}; floating IP {built.floating_ip}; "
         f"clouds.yaml {layout.clouds_yaml} (clouds {MEMBER_CLOUD!r} and {ADMIN_CLOUD!r})")
    return built


def every_daemon(layout: Layout) -> list[Daemon]:
    """daemons() and, where it was started, RegionTwo's (regions.py), or the sync daemon
    pushing to another cloud's Swift (peer_clouds.py)."""
    second = regions.daemons(layout)  # both regions' sync daemons among them
    return [*daemons(layout), *second, *([] if second else swift.peer_sync(layout))]


def down(layout: Layout, keep_venv: bool = True) -> None:
    stop_together(every_daemon(layout))
    RouterNetwork.of(layout).destroy()  # RegionTwo's namespaces too (RouterNetwork.of)
    shutil.rmtree(layout.state, ignore_errors=True)
    if not keep_venv:
        shutil.rmtree(layout.venv, ignore_errors=True)


def status(layout: Layout, say: Callable[[str], None] = print) -> bool:
    healthy = True
    for daemon in every_daemon(layout):
        pid, answers = daemon.pid(), daemon.answers()
        healthy &= answers
        say(f"{daemon.name:<25} {'up' if answers else 'DOWN':<5} pid {pid or '-':<8} "
            f"{daemon.health_url or daemon.ready_file or '(process alive)'}")
    return healthy
