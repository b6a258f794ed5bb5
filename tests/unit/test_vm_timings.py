"""The VMs' configuration: the lab's, with the timings of software-emulated guests."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from cluster.crm_config import SHARED_HOST_LOAD_THRESHOLD, ServiceConfig
from cluster.openstack.layout import MEMBER_CLOUD, REGIONS
from cluster.openstack.topology import ADDRESSING
from cluster.vagrant.driver import Settings, VagrantError, service_config, slow_vm_timings


def test_the_vms_are_not_throttled_to_one_action_at_a_time() -> None:
    # A guest's own agents put its one vCPU in Pacemaker's "high load": the DC then ran one
    # action at a time cluster-wide and the API came up 274 s after boot (300 s allowed).
    vms = slow_vm_timings(service_config(Settings()).render({"n1": "a", "n2": "b", "n3": "c"}))
    options = vms.split("property cib-bootstrap-options:", 1)[1].split("\nrsc_defaults", 1)[0]
    assert re.findall(r"load-threshold=(\S+)", options) == [SHARED_HOST_LOAD_THRESHOLD]
    assert "load-threshold" not in ServiceConfig("198.51.100.10").render()


def test_every_operation_timeout_is_scaled() -> None:
    lab = ServiceConfig("198.51.100.10", fencing=True).render({"n1": "a", "n2": "b", "n3": "c"})
    vms = slow_vm_timings(lab)
    lab_timeouts = [int(t) for t in re.findall(r"\bop \w+ .*?\btimeout=(\d+)s", lab)]
    vm_timeouts = [int(t) for t in re.findall(r"\bop \w+ .*?\btimeout=(\d+)s", vms)]
    assert lab_timeouts and vm_timeouts == [t * 4 for t in lab_timeouts]


def test_the_vms_run_the_labs_configuration_on_the_clouds_floating_ip() -> None:
    """Only the timings and the workers per node differ from the lab's configuration: the
    address is the cloud's floating IP (ocf:fractal:floating-ip), no IPaddr2 is left."""
    servers = {"n1": "a", "n2": "b", "n3": "c"}
    vms = service_config(Settings())
    lab = ServiceConfig.on_openstack(ADDRESSING[REGIONS[0]].floating_ip, MEMBER_CLOUD)
    assert vms == replace(lab, workers=1)
    crm = slow_vm_timings(vms.render(servers))
    lines = [line for line in crm.splitlines() if not line.lstrip().startswith("#")]
    assert "primitive fractal-ip ocf:fractal:floating-ip \\" in lines
    assert not [line for line in lines if "IPaddr2" in line]


def test_the_vms_ports_are_staged_only_once_the_cloud_made_them() -> None:
    settings = Settings(macs={"n1": "fa:16:3e:00:00:01", "n2": "fa:16:3e:00:00:02"})
    with pytest.raises(VagrantError, match="no Neutron port MAC for n3"):
        settings.to_json()
    nodes = json.loads(replace(settings, macs={**settings.macs, "n3": "fa:16:3e:00:00:03"})
                       .to_json())["nodes"]
    assert [(n["name"], n["address"], n["mac"][-2:]) for n in nodes] == [
        ("n1", "192.0.2.11", "01"), ("n2", "192.0.2.12", "02"), ("n3", "192.0.2.13", "03")]


def test_every_monitor_is_spaced_out_and_the_apis_runs_every_15_s() -> None:
    """Each monitor is a Python process costing 1.7-3.4 s of a guest's vCPU: at the lab's pace
    they took most of it (an API killed under load then took 100 s to restart)."""
    servers = {"n1": "a", "n2": "b", "n3": "c"}
    lab = ServiceConfig.on_openstack("198.51.100.10", MEMBER_CLOUD).render(servers)
    vms = slow_vm_timings(lab)
    intervals = [re.findall(r"(?m)^\s*op monitor interval=(\d+)s", crm) for crm in (lab, vms)]
    assert intervals[0][0] == "1" and intervals[1][0] == "15"  # the API's depth 0
    assert [int(i) * 3 for i in intervals[0][1:]] == [int(i) for i in intervals[1][1:]]
