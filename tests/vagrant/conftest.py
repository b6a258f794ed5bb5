"""One Vagrant cluster (three software-emulated VMs) per test session, destroyed at the end."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster.vagrant import host
from cluster.vagrant.driver import VagrantCluster
from tests.support.processes import wait_until

TOOLS = ("vagrant", "virsh", "libvirtd", "virtlogd", "qemu-system-x86_64", "qemu-img",
         "debootstrap", "mkfs.ext4", "sfdisk", "dnsmasq", "ip", "ssh", "curl")


@pytest.fixture(scope="session")
def vagrant_cluster() -> Iterator[VagrantCluster]:
    # Missing prerequisites fail the tests (never a silent skip): CI is meant to run them.
    missing = [tool for tool in TOOLS if not shutil.which(tool)]
    if os.geteuid() != 0:
        pytest.fail("the Vagrant cluster needs root (libvirtd in a netns, QEMU, debootstrap)",
                    pytrace=False)
    if missing:
        pytest.fail(f"the Vagrant cluster needs {', '.join(missing)}: run scripts/setup.sh",
                    pytrace=False)
    if host.netns_exists():
        pytest.fail(f"netns {host.NETNS} exists already (a Vagrant cluster is up? "
                    "`python -m cluster.vagrant down` removes it)", pytrace=False)
    # Under /var/tmp, not the session's tmp_path: QEMU (as root) serves the shared directory
    # from here, and the VMs' disks stay in libvirt's pool, not here.
    work = Path(tempfile.mkdtemp(prefix="fractal-ha-vagrant-", dir="/var/tmp"))
    cluster = VagrantCluster(work, prefix="fhvt-")
    try:
        cluster.up(progress=lambda line: print(line, flush=True))
        yield cluster
    finally:
        cluster.down()
        shutil.rmtree(work, ignore_errors=True)
    # Cleaned up for real: no domain, no network, no libvirtd, no namespace left.
    assert not host.netns_exists(), f"netns {host.NETNS} left behind"


@pytest.fixture
def healthy_vagrant(vagrant_cluster: VagrantCluster) -> Iterator[VagrantCluster]:
    """Every test starts from (and leaves) the whole cluster with the service up, failures
    cleared."""
    cluster = vagrant_cluster
    yield cluster
    for node in cluster.nodes:
        if not node.running:
            cluster.boot_node(node)
    cluster.wait_formed(timeout=300)
    cluster.exec(cluster.nodes[0], ["crm_resource", "--cleanup"], check=False)
    wait_until(lambda: cluster.client("GET", "/healthz"), 120, "the service after the test",
               interval=1)
