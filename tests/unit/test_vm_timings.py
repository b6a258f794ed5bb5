"""The VMs' configuration: the lab's, with the timings of software-emulated guests."""

from __future__ import annotations

import re

from cluster.crm_config import SHARED_HOST_LOAD_THRESHOLD, ServiceConfig
from cluster.vagrant.driver import Settings, service_config, slow_vm_timings


def test_the_vms_are_not_throttled_to_one_action_at_a_time() -> None:
    # A guest's own agents put its one vCPU in Pacemaker's "high load": the DC then ran one
    # action at a time cluster-wide and the API came up 274 s after boot (300 s allowed).
    vms = slow_vm_timings(service_config(Settings(shared_dir="/tmp/unused")).render())
    options = vms.split("property cib-bootstrap-options:", 1)[1].split("\nrsc_defaults", 1)[0]
    assert re.findall(r"load-threshold=(\S+)", options) == [SHARED_HOST_LOAD_THRESHOLD]
    assert "load-threshold" not in ServiceConfig("198.51.100.10").render()


def test_every_operation_timeout_is_scaled() -> None:
    lab = ServiceConfig("198.51.100.10", fencing=True).render({"n1": "a", "n2": "b", "n3": "c"})
    vms = slow_vm_timings(lab)
    lab_timeouts = [int(t) for t in re.findall(r"\bop \w+ .*?\btimeout=(\d+)s", lab)]
    vm_timeouts = [int(t) for t in re.findall(r"\bop \w+ .*?\btimeout=(\d+)s", vms)]
    assert lab_timeouts and vm_timeouts == [t * 4 for t in lab_timeouts]
