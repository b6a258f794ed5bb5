"""The Vagrant cluster itself (vagrant-libvirt, software-emulated here): formed from the lab's
configuration, with fencing through the host's cloud. The failovers are the lab's suite,
tests/cluster, run against the VMs with FRACTAL_HA_CLUSTER=vagrant (scripts/test.sh).
"""

from __future__ import annotations

import pytest

from cluster.crm_config import SHARED_HOST_LOAD_THRESHOLD
from cluster.vagrant.driver import VagrantCluster
from tests.support.processes import wait_until

pytestmark = pytest.mark.vagrant


def test_cluster_formed_with_the_lab_configuration(vagrant_cluster: VagrantCluster) -> None:
    cluster = vagrant_cluster
    print(f"vagrant cluster up: {cluster.timings}")
    state = cluster.wait_formed(timeout=60)
    assert state.online() == ["n1", "n2", "n3"]
    assert state.quorate and state.dc
    # the workers' clone runs everywhere (its starts come after the API's in a busy guest) and
    # the fence device has started (its start, ~75 s in a guest, runs beside the others')
    try:
        state = wait_until(lambda: (s := cluster.status()) and s.where("fractal-worker") == [
            "n1", "n2", "n3"] and s.where("fence-openstack") and s, 300,
            "a worker on every node and the fence device started", interval=2)
    except AssertionError as exc:  # what was missing, and why (fail counts, failed actions)
        seen = cluster.exec("n1", ["crm_mon", "-1", "-r", "-f"], timeout=60, check=False).stdout
        raise AssertionError(f"{exc}\n{seen}") from None
    # the API clone limited to one instance (clone-max=1: the VMs' SQLite in a shared
    # directory has one writer), the address with it
    assert len(state.where("fractal-api")) == 1
    assert state.where("fractal-ip") == state.where("fractal-api")
    # fencing through the host's cloud: the device runs, and from a VM fence_openstack reads
    # a node's power state through the compute API (relayed to the host)
    assert state.where("fence-openstack")
    stonith = cluster.exec("n1", ["crm_attribute", "--type", "crm_config", "--name",
                                  "stonith-enabled", "--query", "--quiet"]).stdout
    assert stonith.strip() == "true"
    # not throttled to one action at a time by the guests' own load (slow_vm_timings)
    threshold = cluster.exec("n1", ["crm_attribute", "--type", "crm_config", "--name",
                                    "load-threshold", "--query", "--quiet"]).stdout
    assert threshold.strip() == SHARED_HOST_LOAD_THRESHOLD
    server = cluster.exec("n1", ["crm_resource", "--resource", "fence-openstack",
                                 "--get-parameter", "pcmk_host_map"]).stdout
    plug = dict(p.split(":") for p in server.strip().split(";"))["n3"]
    status = cluster.exec("n1", ["fence_openstack", "--cloud", "fractal-lab", "--plug", plug,
                                 "--action", "status"], timeout=120)
    assert "Status: ON" in status.stdout
    # corosync.conf came from the shared template, with the VMs' token
    conf = cluster.exec("n2", ["cat", "/etc/corosync/corosync.conf"]).stdout
    assert "token: 10000" in conf and "ring0_addr: 203.0.113.132" in conf
    assert cluster.client("GET", "/healthz") is not None


def test_every_node_runs_the_product_from_its_debian_package(
        vagrant_cluster: VagrantCluster) -> None:
    """The box carries the fractal-ha package built from this tree (cluster/package.py), as an
    operator's node would: agents, commands and sysctl owned by dpkg, nothing unpacked by hand."""
    for node in ("n1", "n2", "n3"):
        owners = vagrant_cluster.exec(node, [
            "dpkg", "-S", "/usr/lib/ocf/resource.d/fractal/api", "/usr/bin/fractal-api",
            "/usr/lib/sysctl.d/60-fractal-api.conf"]).stdout
        assert owners.count("fractal-ha: ") == 3, owners
        migrate = vagrant_cluster.exec(node, ["sysctl", "-n", "net.ipv4.tcp_migrate_req"])
        assert migrate.stdout.strip() == "1", node
        assert vagrant_cluster.exec(node, ["test", "!", "-e", "/usr/local/bin/fractal-api"],
                                    check=False).returncode == 0, node
