"""fencing.crm: Pacemaker retries fence_openstack, which retries no failed compute call (the
lab proof: tests/campaign/test_fencing_under_cloud_errors.py, fencing with compute failing half
its calls). With the defaults (2 runs per fencing) the DC gave up on a crashed node."""

from __future__ import annotations

import re

from cluster.crm_config import ServiceConfig


def fence_params(address_agent: str = "ocf:heartbeat:IPaddr2") -> dict[str, str]:
    crm = ServiceConfig("198.51.100.10", fencing=True, address_agent=address_agent).render(
        {"n1": "s1", "n2": "s2"})
    text = crm.replace("\\\n", " ")
    device = next(line for line in text.splitlines()
                  if line.startswith("primitive fence-openstack "))
    return dict(re.findall(r"(\w+)=(\S+)", device))


def test_the_fencer_runs_fence_openstack_again_while_the_timeout_lasts() -> None:
    params = fence_params()
    # a run takes 2-5 s; stonith-timeout (60 s) bounds the retries, not this count
    assert int(params["pcmk_off_retries"]) >= 15
    assert int(params["pcmk_reboot_retries"]) >= 15
    assert int(params["pcmk_monitor_retries"]) >= 3  # a failed start bans the device


def test_fencing_waits_2_s_only_where_the_takeover_does_not_wait_for_it() -> None:
    # A floating IP moves on quorum (requires=quorum): fence_openstack's start and login held
    # 2 s leave the takeover's Neutron update the CPUs (lab: its start 1.73 -> 1.33 s median).
    # IPaddr2 keeps requires=fencing: a delay there would be downtime.
    assert fence_params("ocf:fractal:floating-ip")["pcmk_delay_base"] == "2s"
    assert fence_params("ocf:heartbeat:IPaddr2")["pcmk_delay_base"] == "0s"


def test_the_dc_schedules_after_the_burst_of_a_node_loss() -> None:
    # A scheduler run that finds a CIB update pending sleeps 1 s (pacemaker-controld): on the
    # lab, the fencing request and the takeover came 2.25 s after a crash, 1.29 s with the delay.
    crm = ServiceConfig("198.51.100.10").render()
    options = crm.split("property cib-bootstrap-options:", 1)[1].split("\nrsc_defaults", 1)[0]
    assert re.findall(r"transition-delay=(\S+)", options) == ["100ms"]
