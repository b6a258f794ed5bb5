"""fencing.crm: Pacemaker retries fence_openstack, which retries no failed compute call (the
lab proof: tests/campaign/test_fencing_under_cloud_errors.py, fencing with compute failing half
its calls). With the defaults (2 runs per fencing) the DC gave up on a crashed node."""

from __future__ import annotations

import re

from cluster.crm_config import ServiceConfig


def fence_params() -> dict[str, str]:
    crm = ServiceConfig("198.51.100.10", fencing=True).render({"n1": "s1", "n2": "s2"})
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
