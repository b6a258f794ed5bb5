"""The failover suite on three Vagrant VMs (vagrant-libvirt, software-emulated here): the lab's
configuration (timings adjusted for slow guests) and the lab suite's observer, through the
driver's lab-like interface.

Bounds are wider than the lab's: the VMs' corosync token is 10 s (a lost node is declared
after ~22 s) and everything inside a TCG guest is 10-50× slower.
"""

from __future__ import annotations

import pytest

from cluster.vagrant.driver import VagrantCluster
from tests.cluster.conftest import Observer, assert_fenced_before_takeover
from tests.support.processes import wait_until

pytestmark = pytest.mark.vagrant

# Bounds a user of software-emulated VMs on 2 shared cores would accept; the measured values
# are printed for the record.
RESTART_BOUND_S = 120
FAILOVER_BOUND_S = 180
# The observer's pace: each probe is a curl in libvirt's namespace, each submission a POST
# answered by a guest; the lab's 50 ms would take a good share of the cores the guests run on.
PROBE_EVERY_S = 0.25
SUBMIT_EVERY_S = 1.0


def observe(cluster: VagrantCluster) -> Observer:
    return Observer(cluster, submit_every=SUBMIT_EVERY_S, probe_every=PROBE_EVERY_S)


def api_node(cluster: VagrantCluster) -> str:
    state = wait_until(lambda: (s := cluster.status()) and s.where("fractal-api") and s, 60,
                       "the API to be placed", interval=1)
    return state.where("fractal-api")[0]


def test_cluster_formed_with_the_lab_configuration(vagrant_cluster: VagrantCluster) -> None:
    cluster = vagrant_cluster
    print(f"vagrant cluster up: {cluster.timings}")
    state = cluster.wait_formed(timeout=60)
    assert state.online() == ["n1", "n2", "n3"]
    assert state.quorate and state.dc
    # the workers' clone runs everywhere (its starts come after the API's in a busy guest)
    state = wait_until(lambda: (s := cluster.status()) and s.where("fractal-worker") == [
        "n1", "n2", "n3"] and s, 300, "a worker on every node", interval=2)
    # the group keeps the address with the API
    assert len(state.where("fractal-api")) == 1
    assert state.where("fractal-ip") == state.where("fractal-api")
    # fencing through the host's cloud: the device runs, and from a VM fence_openstack reads
    # a node's power state through the compute API (relayed to the host)
    assert state.where("fence-openstack")
    stonith = cluster.exec("n1", ["crm_attribute", "--type", "crm_config", "--name",
                                  "stonith-enabled", "--query", "--quiet"]).stdout
    assert stonith.strip() == "true"
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


def test_api_process_killed(healthy_vagrant: VagrantCluster) -> None:
    cluster = healthy_vagrant
    before = api_node(cluster)
    with observe(cluster) as seen:
        wait_until(lambda: seen.accepted, 60, "submissions to flow")
        seen.fault()
        assert cluster.kill_api() == before
        wait_until(lambda: seen.recovered, RESTART_BOUND_S, "the API back")
        wait_until(lambda: len(seen.accepted) > 5, 60, "more submissions")
    print(f"vagrant API SIGKILL: service back after {seen.downtime:.2f} s")
    assert seen.downtime < RESTART_BOUND_S
    assert api_node(cluster) == before  # recovered in place: one failure is below the threshold
    seen.assert_no_split_brain()
    seen.assert_nothing_lost(timeout=180)


def test_active_node_crash(vagrant_cluster: VagrantCluster) -> None:
    """Fenced through the host's cloud (fence_openstack in a survivor, the compute API powers
    the VM off), then the takeover. The last test: the crashed VM stays off (booting it again
    costs minutes of emulated boot and rejoin; the session destroys the cluster next)."""
    cluster = vagrant_cluster
    victim = api_node(cluster)
    with observe(cluster) as seen:
        wait_until(lambda: seen.accepted, 60, "submissions to flow")
        seen.fault()
        cluster.crash(victim)
        assert not cluster.node(victim).running
        wait_until(lambda: seen.recovered, FAILOVER_BOUND_S, "the takeover")
        survivor = api_node(cluster)
        wait_until(lambda: len(seen.accepted) > 5, 60, "more submissions")
    print(f"vagrant node crash: service back after {seen.downtime:.2f} s on {survivor}")
    assert survivor != victim
    assert seen.downtime < FAILOVER_BOUND_S
    state = cluster.status()
    assert state is not None and state.quorate
    assert victim not in state.online()
    assert_fenced_before_takeover(cluster, victim, survivor)
    seen.assert_no_split_brain()
    seen.assert_nothing_lost(timeout=180)
