"""Our own servers: the fault proxies and compute, run from the project's interpreter."""

from __future__ import annotations

import os

from cluster.openstack import daemons
from cluster.openstack.dataplane.agent import status_file
from cluster.openstack.dataplane.network import RouterNetwork
from cluster.openstack.layout import Layout


def proxies(layout: Layout) -> daemons.Daemon:
    return daemons.Daemon(
        "proxies", layout.dir("proxies"),
        [str(daemons.PROJECT_BIN / "python"), "-m", "cluster.openstack.faults.proxy",
         str(layout.state)], health_url=layout.faults_url + "/faults")


def compute(layout: Layout) -> daemons.Daemon:
    """The layout's region's compute (each region has its own servers)."""
    name = layout.regional("compute")
    home = layout.dir(name)
    # One worker (power transitions are serialised by its lock), threads for concurrency.
    argv = daemons.gunicorn(str(daemons.PROJECT_BIN / "gunicorn"), home,
                            layout.ports()[name], "cluster.openstack.compute.app:create_app()",
                            threads=8)
    return daemons.Daemon(name, home, argv, health_url=layout.backend_url(name) + "/",
                          env={**os.environ, "FRACTAL_OPENSTACK_STATE": str(layout.state),
                               "FRACTAL_OPENSTACK_REGION": layout.region})


def dataplane(layout: Layout) -> daemons.Daemon:
    # Inside the router namespace (`ip netns exec` execs: the PID is the agent's own), whose
    # name is the layout's: a test cloud and an operator's cloud on one host differ.
    router = RouterNetwork.of(layout).router
    return daemons.Daemon(
        layout.regional("dataplane"), layout.dir(layout.regional("dataplane")),
        ["ip", "netns", "exec", router, str(daemons.PROJECT_BIN / "python"), "-m",
         "cluster.openstack.dataplane.agent", str(layout.state), layout.region],
        ready_file=status_file(layout))
