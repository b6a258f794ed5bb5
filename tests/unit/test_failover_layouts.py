"""benchmarks/failover.py's layouts apply to the lab's configuration as the lab renders it (a
variant that cannot apply fails here, not after the labs of the agents before it)."""

from __future__ import annotations

import pytest

from benchmarks.failover import LAYOUTS
from cluster.crm_config import ServiceConfig


def lab_config(address_agent: str = "ocf:fractal:floating-ip") -> str:
    # The lab's shape: the floating-IP agent (its params start with cloud=) and fencing.
    return ServiceConfig("198.51.100.10", store_url="swift://fractal-lab/fractals",
                         address_agent=address_agent, cloud="fractal-lab",
                         address_params="cloud=fractal-lab floating_ip=198.51.100.10 "
                                        "network=fractal",
                         fencing=True).render({"n1": "a", "n2": "b", "n3": "c"})


@pytest.mark.parametrize("agent", sorted(LAYOUTS))
def test_every_layout_applies_to_the_lab_configuration(agent: str) -> None:
    changed = LAYOUTS[agent](lab_config())
    assert changed != lab_config()


def test_no_delays_strips_both_delays() -> None:
    changed = LAYOUTS["ours-no-delays"](lab_config())
    assert "transition-delay" not in changed.split("rsc_defaults")[0].replace("# transition", "")
    assert "pcmk_delay_base=0s" in changed and "pcmk_delay_base=2s" not in changed


def test_the_stock_layout_waits_for_fencing_without_our_delay() -> None:
    """Its address waits for fencing (default requires): our 2 s delay would be its loss."""
    changed = LAYOUTS["stock"](lab_config("ocf:heartbeat:openstack-floating-ip"))
    assert "pcmk_delay_base=0s" in changed and "pcmk_delay_base=2s" not in changed
    statements = [line for line in changed.splitlines() if not line.startswith("#")]
    assert not [line for line in statements if "requires=" in line]
    assert "group fractal-service fractal-ip fractal-api" in statements
