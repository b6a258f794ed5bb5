"""The Vagrant cluster itself (vagrant-libvirt, software-emulated here): VMs that are instances of
the host's lab cloud (their NICs its Neutron ports), formed from the lab's configuration: the
floating IP, Object Storage, fencing through the cloud, the metrics exporter. The failovers are
the lab's suite, tests/cluster, run against the VMs with FRACTAL_HA_CLUSTER=vagrant
(scripts/test.sh).
"""

from __future__ import annotations

import pytest

from cluster.crm_config import SHARED_HOST_LOAD_THRESHOLD
from cluster.lab.campaign.checkers import AddressWatch
from cluster.openstack.layout import MEMBER_CLOUD
from cluster.openstack.topology import Topology
from cluster.vagrant.driver import VagrantCluster
from tests.support.processes import wait_until

pytestmark = pytest.mark.vagrant


def test_cluster_formed_with_the_lab_configuration(vagrant_cluster: VagrantCluster) -> None:
    cluster = vagrant_cluster
    print(f"vagrant cluster up: {cluster.timings}")
    state = cluster.wait_formed(timeout=60)
    assert state.online() == ["n1", "n2", "n3"]
    assert state.quorate and state.dc
    # the lab's layout: an API and a worker on every node (the fractals in the host cloud's
    # Object Storage), the fence device started (its start, ~75 s in a guest, runs beside the
    # others')
    try:
        state = wait_until(lambda: (s := cluster.status()) and all(
            s.where(clone) == ["n1", "n2", "n3"]
            for clone in ("fractal-api", "fractal-worker", "fractal-exporter"))
            and s.where("fence-openstack") and s.serving("fractal-ip") and s, 300,
            "an API, a worker and an exporter on every node, the address and the fence "
            "device started", interval=2)
    except AssertionError as exc:  # what was missing, and why (fail counts, failed actions)
        seen = cluster.exec("n1", ["crm_mon", "-1", "-r", "-f"], timeout=60, check=False).stdout
        raise AssertionError(f"{exc}\n{seen}") from None
    cib = cluster.exec("n1", ["cibadmin", "--query"]).stdout
    # (crmsh keeps fractal.crm's comments in the CIB, where IPaddr2 is named: agents by type)
    assert 'provider="fractal" type="floating-ip"' in cib and 'type="IPaddr2"' not in cib
    assert f'value="swift://{MEMBER_CLOUD}/fractals"' in cib
    stonith = cluster.exec("n1", ["crm_attribute", "--type", "crm_config", "--name",
                                  "stonith-enabled", "--query", "--quiet"]).stdout
    assert stonith.strip() == "true"
    # not throttled to one action at a time by the guests' own load (slow_vm_timings)
    threshold = cluster.exec("n1", ["crm_attribute", "--type", "crm_config", "--name",
                                    "load-threshold", "--query", "--quiet"]).stdout
    assert threshold.strip() == SHARED_HOST_LOAD_THRESHOLD
    # fencing through the host's cloud: from a VM fence_openstack reads a node's power state
    # through the compute API (relayed to the host)
    server = cluster.exec("n1", ["crm_resource", "--resource", "fence-openstack",
                                 "--get-parameter", "pcmk_host_map"]).stdout
    plug = dict(p.split(":") for p in server.strip().split(";"))["n3"]
    status = cluster.exec("n1", ["fence_openstack", "--cloud", MEMBER_CLOUD, "--plug", plug,
                                 "--action", "status"], timeout=120)
    assert "Status: ON" in status.stdout
    # corosync.conf came from the shared template, with the VMs' token, on the ports' addresses
    conf = cluster.exec("n2", ["cat", "/etc/corosync/corosync.conf"]).stdout
    assert "token: 10000" in conf and "ring0_addr: 192.0.2.12" in conf
    # the exporter answers with the cluster's metrics
    metrics = cluster.exec("n3", ["curl", "-sf", "-m", "60", "http://127.0.0.1:9664/metrics"],
                           timeout=90).stdout
    assert "ha_cluster_pacemaker_nodes" in metrics


def test_each_vm_is_an_instance_of_the_cloud_reached_on_the_floating_ip(
        vagrant_cluster: VagrantCluster) -> None:
    """Each VM's service NIC is its Neutron port (the port's MAC, its fixed IP); the floating
    IP, associated by ocf:fractal:floating-ip, reaches the serving VM through the cloud's
    router: the client on the external network, every VM and the router's NAT agree."""
    cluster = vagrant_cluster
    topology = Topology.load(cluster.cloud)
    for node in cluster.nodes:
        nic = cluster.exec(node.name, ["ip", "-br", "link", "show", "eth1"]).stdout.split()
        address = cluster.exec(node.name, ["ip", "-br", "-4", "addr", "show", "eth1"]).stdout
        assert nic[2] == topology.macs[node.name], node.name
        assert f"{topology.addresses[node.name]}/" in address, node.name
    serving = wait_until(lambda: (s := cluster.status()) and s.serving("fractal-ip"), 120,
                         "the address placed")
    watch = AddressWatch(cluster, timeout=5)
    watch.sample()
    _, held, nat, answers = watch.seen[-1]
    assert not held  # a floating IP is on no node's device: the router NATs it
    assert nat == serving and answers == dict.fromkeys(["client", "n1", "n2", "n3"], serving[0])
    assert cluster.address == topology.floating_ip


def test_secrets_are_private_on_the_host_and_in_the_vms(vagrant_cluster: VagrantCluster) -> None:
    cluster = vagrant_cluster
    for staged in ("authkey", "clouds.yaml", "api-token"):
        mode = (cluster.dir / "files" / staged).stat().st_mode & 0o777
        assert mode == 0o600, f"staged {staged}: {mode:o}"
    assert cluster.token_file.stat().st_mode & 0o777 == 0o600
    for node in cluster.nodes:
        modes = cluster.exec(node.name, ["stat", "-c", "%a %n", "/etc/openstack/clouds.yaml",
                                         "/etc/corosync/authkey", "/etc/fractal/api-token"])
        assert modes.stdout.split()[::2] == ["600", "400", "600"], (node.name, modes.stdout)
        # the provisioner's copy of the stage is gone
        assert cluster.exec(node.name, ["test", "!", "-e", "/tmp/fractal-ha"],
                            check=False).returncode == 0, node.name


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
