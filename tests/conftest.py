"""Shared fixtures: one real API server per test session (and fresh ones where a test needs it).

`backend` is the store under test: SQLite, and Object Storage in the lab cloud (marked
`openstack`; `-m "not openstack"` runs SQLite alone). tests/service and the store's unit tests
run on both; everything else uses the SQLite default.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster.lab import netns
from cluster.lab.lab import Lab
from cluster.openstack.layout import MEMBER_CLOUD
from cluster.vagrant import host as vagrant_host
from cluster.vagrant.driver import VagrantCluster
from fractal_service.client import FractalClient
from resource_agents import install
from tests.support.cloud import LabCloud, run_lab_cloud
from tests.support.processes import ApiServer, wait_until
from tests.support.spawner import Spawner
from tests.support.stores import Backend, override

BACKENDS = ["sqlite", pytest.param("swift", marks=pytest.mark.openstack)]


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "sqlite":
        return Backend.sqlite()
    return request.getfixturevalue("object_store")


@pytest.fixture(scope="session")
def object_store(request: pytest.FixtureRequest) -> Backend:
    """Object Storage for the store's tests: the lab cloud's, or FRACTAL_TEST_OBJECT_STORE."""
    return override() or request.getfixturevalue("lab_object_store")


@pytest.fixture(scope="session")
def lab_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabCloud]:
    """One lab cloud (real Keystone and Neutron, our compute, Object Storage) per test run."""
    yield from run_lab_cloud(tmp_path_factory)


@pytest.fixture(scope="session")
def lab_object_store(lab_cloud: LabCloud) -> Backend:
    """The lab's real Swift, as the project member the cluster's services run as."""
    return Backend.swift(MEMBER_CLOUD, lab_cloud.layout.clouds_yaml, "RegionOne")


@pytest.fixture(scope="session")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    server = ApiServer(tmp_path_factory.mktemp("api"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def client(api: ApiServer) -> FractalClient:
    return FractalClient(api.url)


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Spawner]:
    """Start API servers (SQLite) and workers that are stopped (by PID) when the test ends."""
    spawner = Spawner(tmp_path, Backend.sqlite())
    yield spawner
    spawner.stop()


@pytest.fixture(scope="session")
def ocf_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The agents installed by `fractal-ha agents install` into a private OCF root. Pacemaker's
    tools see them through `in_ocf_view`; the host's /usr/lib/ocf, which the operator and any
    concurrent run share, is never written to."""
    root = tmp_path_factory.mktemp("ocf")
    install.install(root)
    return root


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """The three-node lab cluster, booted once per run for tests/cluster and tests/metrics."""
    # A prefix of this run's own: an operator's lab (fha-*) or another run may share the host.
    lab = Lab(tmp_path_factory.mktemp("lab"), prefix=f"fht{os.getpid()}")
    try:
        lab.boot()
        lab.wait_formed()
        lab.configure()
        wait_until(lambda: lab.client("GET", "/healthz"), 120, "the API at the service address")
        lab.settle()
        yield lab
    finally:
        lab.down()


# -- the Vagrant cluster ----------------------------------------------------------------------
VAGRANT_TOOLS = ("vagrant", "virsh", "libvirtd", "virtlogd", "qemu-system-x86_64", "qemu-img",
                 "debootstrap", "mkfs.ext4", "sfdisk", "dnsmasq", "ip", "ssh", "curl")


@pytest.fixture(scope="session")
def vagrant_cluster() -> Iterator[VagrantCluster]:
    """Three software-emulated VMs, up once per run (tests/vagrant, and tests/cluster with
    FRACTAL_HA_CLUSTER=vagrant), destroyed at the end."""
    # Missing prerequisites fail the tests (never a silent skip): CI is meant to run them.
    missing = [tool for tool in VAGRANT_TOOLS if not shutil.which(tool)]
    if os.geteuid() != 0:
        pytest.fail("the Vagrant cluster needs root (libvirtd in a netns, QEMU, debootstrap)",
                    pytrace=False)
    if missing:
        pytest.fail(f"the Vagrant cluster needs {', '.join(missing)}: run scripts/setup.sh",
                    pytrace=False)
    if vagrant_host.netns_exists():
        if vagrant_host.netns_pids():
            pytest.fail(f"netns {vagrant_host.NETNS} exists already with processes in it (a "
                        "Vagrant cluster is up? `python -m cluster.vagrant down` removes it)",
                        pytrace=False)
        # Empty: left by a run that was killed before its teardown; nothing runs there.
        print(f"netns {vagrant_host.NETNS} left empty by an earlier run: deleted", flush=True)
        vagrant_host.stop()
    # Under /var/tmp, not the session's tmp_path (the stage and the VMs' cloud live here; the
    # VMs' disks stay in libvirt's pool).
    work = Path(tempfile.mkdtemp(prefix="fractal-ha-vagrant-", dir="/var/tmp"))
    cluster = VagrantCluster(work, prefix="fhvt-")
    try:
        cluster.up(progress=lambda line: print(line, flush=True))
        yield cluster
    finally:
        cluster.down()
        shutil.rmtree(work, ignore_errors=True)
    # Cleaned up for real: no domain, no network, no libvirtd, no namespace left (the VMs'
    # cloud's router, switches and client included).
    assert not vagrant_host.netns_exists(), f"netns {vagrant_host.NETNS} left behind"
    left = [ns for ns in netns.existing() if ns.startswith(cluster.cloud.netns_prefix + "-")]
    assert not left, f"the VMs' cloud left namespaces behind: {left}"


# -- which cluster tests/cluster drives ---------------------------------------------------
CLUSTER_ENV = "FRACTAL_HA_CLUSTER"  # "lab" (default) or "vagrant"


@pytest.fixture(scope="session")
def ha_cluster(request: pytest.FixtureRequest) -> Lab | VagrantCluster:
    """The cluster the failover suite (tests/cluster) runs against, by FRACTAL_HA_CLUSTER: the
    three-node lab, or the three Vagrant VMs. Both have the same small interface (node(N).exec,
    crash, isolate, boot_node, status, client, cloud, settle)."""
    kind = os.environ.get(CLUSTER_ENV, "lab")
    if kind not in ("lab", "vagrant"):
        pytest.fail(f"{CLUSTER_ENV}={kind!r}: 'lab' or 'vagrant'", pytrace=False)
    return request.getfixturevalue("lab" if kind == "lab" else "vagrant_cluster")
